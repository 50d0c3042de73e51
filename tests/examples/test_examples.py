"""Tests for examples/*.py: each script runs end to end with --quick as a user would start
it (on the 2-D ring to keep it fast, and one on its default, the embedded digits) and
leaves a complete run folder; --help explains every option."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigan.serialization import load
from minigan.zoo import RECIPES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["gan", "dcgan", "lsgan", "wgan", "wgan_gp", "wgan_div", "sagan"]
ON_DIGITS = "sagan"          # attention and spectral norm on 16 x 16 images
OPTIONS = ["--dataset", "--data-dir", "--image-size", "--device", "--steps", "--batch-size",
           "--lr-g", "--lr-d", "--n-critic", "--penalty-weight", "--latent-dim", "--width",
           "--seed", "--out", "--resume", "--sample-every", "--eval-every",
           "--checkpoint-every", "--keep", "--quick", "--no-progress"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """{(example, "quick" | "help"): (return code, stdout, stderr, output folder)}. The
    fourteen processes run at once, so the digits run's classifier training (tens of
    seconds, cached for the session by conftest.py) overlaps the others."""
    started = {}
    try:
        for name in EXAMPLES:
            out = tmp_path_factory.mktemp(name)
            dataset = [] if name == ON_DIGITS else ["--dataset", "ring8"]
            script = str(ROOT / "examples" / f"{name}.py")
            for kind, flags in [("quick", ["--quick", "--out", str(out), "--no-progress",
                                           *dataset]),
                                ("help", ["--help"])]:
                started[name, kind] = out, subprocess.Popen(
                    [sys.executable, script, *flags], cwd=ROOT, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        results = {}
        for key, (out, process) in started.items():
            stdout, stderr = process.communicate(timeout=300)
            results[key] = process.returncode, stdout, stderr, out
        return results
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("name", EXAMPLES)
def test_quick_run_leaves_a_complete_run_folder(name, finished):
    code, stdout, stderr, out = finished[name, "quick"]
    assert code == 0, stderr
    assert f"{name}: 6 steps in" in stdout                   # --quick trains 6 steps
    config = json.loads((out / "config.json").read_text())
    recipe = RECIPES[name]
    if name != ON_DIGITS:                                       # run on ring8
        recipe = recipe.with_overrides(**recipe.toy_settings)
    assert config["variant"] == name and config["recipe"] == json.loads(
        json.dumps(recipe.to_dict()))
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries] == [3, 6]
    for entry in entries:
        assert entry["losses"] and all(np.isfinite(v) for v in entry["losses"].values())
        assert entry["metrics"]
    samples = sorted((out / "samples").iterdir())
    assert [p.name for p in samples] == ["step-00000003.png", "step-00000006.png"]
    for picture in samples + [out / "losses.png"]:
        assert picture.read_bytes()[:8] == PNG
    checkpoints = sorted(p.name for p in out.glob("checkpoint-*.safetensors"))
    assert checkpoints == ["checkpoint-00000003.safetensors", "checkpoint-00000006.safetensors"]
    state = load(out / checkpoints[-1])
    assert state["recipe"] == name and state["step"] == 6


def test_digits_run_is_scored_by_the_evaluation_classifier(finished):
    *_, out = finished[ON_DIGITS, "quick"]
    config = json.loads((out / "config.json").read_text())
    assert config["args"]["dataset"] == "digits"              # the example's default
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(last["metrics"]) == {"frechet", "precision", "recall", "classes_covered",
                                    "class_kl", "classifier_accuracy"}
    assert last["metrics"]["classifier_accuracy"] > 0.9


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n != ON_DIGITS])
def test_2d_runs_are_scored_on_the_modes_of_the_ring(name, finished):
    *_, out = finished[name, "quick"]
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(last["metrics"]) == {"modes_covered", "num_modes", "high_quality"}
    assert last["metrics"]["num_modes"] == 8


def _option_help(text):
    """{option: its help text} from argparse's help: an entry starts at a line "  -...",
    its invocation ends at a run of two spaces or the line's end, and a blank line ends
    it."""
    helps = {}
    for block in re.split(r"\n  (?=-)", text)[1:]:
        invocation, *rest = re.split(r"\s{2,}", block.split("\n\n")[0].strip(), maxsplit=1)
        helps[invocation.split()[0]] = " ".join(" ".join(rest).split())
    return helps


@pytest.mark.parametrize("name", EXAMPLES)
def test_help_explains_every_option(name, finished):
    code, stdout, stderr, _ = finished[name, "help"]
    assert code == 0, stderr
    assert stdout.startswith(f"usage: {name}.py")
    assert RECIPES[name].paper.split(",")[0] in " ".join(stdout.split())
    helps = _option_help(stdout)
    assert set(OPTIONS) <= set(helps)
    for option in OPTIONS:
        assert len(helps[option]) > 10, f"{option}: {helps[option]!r}"
    assert helps["--resume"].startswith("continue from the newest checkpoint")
    assert helps["--lr-d"] == f"critic learning rate (paper: {RECIPES[name].lr_d})"
