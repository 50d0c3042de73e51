"""Tests for minigan/threads.py: passive thread pools, and settings of yours win."""
import os
import subprocess
import sys

REPORT = ("import os, minigan.threads as t; "
          "print(os.environ.get('OMP_WAIT_POLICY')); print(t.STATUS)")


def _run(**env: str) -> list[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT",
                                "MINIGAN_BLAS_TUNING")}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True,
                         env=environment, check=True).stdout
    return out.strip().splitlines()


def test_openmp_waits_passively_by_default_and_yours_wins():
    assert _run()[0] == "PASSIVE"
    assert _run(OMP_WAIT_POLICY="ACTIVE")[0] == "ACTIVE"


def test_openblas_spin_timeout_is_shortened_or_explained():
    status = _run()[1]
    assert status.startswith("BLAS threads: ")
    assert "spin timeout 2^4 cycles" in status or "left alone" in status


def test_your_openblas_settings_are_left_alone():
    assert _run(OPENBLAS_THREAD_TIMEOUT="10")[1] == (
        "BLAS threads: OPENBLAS_THREAD_TIMEOUT=10 from the environment")
    assert _run(MINIGAN_BLAS_TUNING="0")[1] == (
        "BLAS threads: left alone (MINIGAN_BLAS_TUNING=0)")


def test_blas_results_are_unchanged_after_tuning():
    code = ("import numpy as np, minigan; a = np.arange(16.0).reshape(4, 4); "
            "print(float((a @ a).sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    a = [[4.0 * i + j for j in range(4)] for i in range(4)]
    expected = sum(sum(a[i][k] * a[k][j] for k in range(4)) for i in range(4) for j in range(4))
    assert float(out) == expected
