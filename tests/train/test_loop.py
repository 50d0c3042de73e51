"""Tests for minigan/train/loop.py: a run's outputs, exact resumption (weights, optimiser
state, random streams, data order and loss history bit for bit), Ctrl-C, and the stop on a
non-finite loss. Runs are tiny (width 8, batches of 8, 6 steps) and in process."""
import json
import signal
from pathlib import Path

import numpy as np
import pytest

from minigan.serialization import load
from minigan.tensor import Tensor
from minigan.train import loop, parse_args, train
from minigan.zoo import RECIPES

STEPS = 6


def _run(name, out, *extra, dataset="ring8"):
    return train(RECIPES[name], parse_args(RECIPES[name], dataset, [
        "--out", str(out), "--no-progress", "--width", "8", "--batch-size", "8",
        "--steps", str(STEPS), "--sample-every", "3", "--eval-every", "3",
        "--checkpoint-every", "3", *extra]))


def _leaves(tree, prefix=""):
    """(key path, leaf) pairs of a nested state; tensors as NumPy arrays."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}{key}.")
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from _leaves(value, f"{prefix}{i}.")
    else:
        yield prefix, tree.cpu().numpy() if isinstance(tree, Tensor) else tree


def assert_same_state(actual, expected):
    """Bit-for-bit equality of two run states (``Run.state()``), wall time aside."""
    a, e = dict(_leaves(actual)), dict(_leaves(expected))
    assert sorted(a) == sorted(e)
    for key in e:
        if key == "seconds.":
            continue
        if isinstance(e[key], np.ndarray):
            assert (a[key].dtype, a[key].shape) == (e[key].dtype, e[key].shape), key
            assert a[key].tobytes() == e[key].tobytes(), f"{key} differs"
        else:
            assert a[key] == e[key], key


def _metrics(out, keys=("step", "losses", "metrics")):
    """The entries of metrics.jsonl, wall time left out."""
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [{k: entry[k] for k in keys} for entry in map(json.loads, lines)]


class SamplingEvaluator:
    """A stand-in for ``Evaluator`` on images: draws samples as the real one does but
    skips its classifier (tested in test_evaluation.py and by the digits example run)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def evaluate(self, sample):
        return {"mean": float(sample(16).mean())}


def _stub_pictures(patch):
    """Pictures without matplotlib or Pillow (their files are tested in test_images.py
    and by the outputs test here): empty files, and the critic still evaluated on points
    as the real plot does, since that must not change the run."""
    def points_plot(samples, data, path, critic, title=""):
        critic(data[:64])
        Path(path).write_bytes(b"")
    patch.setattr(loop, "save_points_plot", points_plot)
    patch.setattr(loop, "save_loss_plot", lambda steps, curves, path, title="":
                  Path(path).write_bytes(b""))
    patch.setattr(loop, "save_image_grid", lambda images, path, nrow=None, scale=1:
                  Path(path).write_bytes(b""))


@pytest.fixture
def no_pictures(monkeypatch):
    _stub_pictures(monkeypatch)


def on_call(monkeypatch, call, action):
    """The loop's train_step runs ``action(train_step, args)`` instead on its ``call``-th
    call (counted from now), and as usual on every other."""
    calls = []
    original = loop.train_step

    def step(*args):
        calls.append(None)
        return action(original, args) if len(calls) == call else original(*args)
    monkeypatch.setattr(loop, "train_step", step)


def keyboard_interrupt(train_step, args):
    raise KeyboardInterrupt


def sigint_after_the_updates(train_step, args):
    """Ctrl-C arriving once the step has updated the networks, before it returns."""
    out = train_step(*args)
    signal.raise_signal(signal.SIGINT)
    return out


def poison_critic(train_step, args):
    """A NaN in the critic's first weight: the step's losses come out NaN."""
    gan = args[0]
    next(gan.critic.parameters()).data[0, 0] = np.nan
    return train_step(*args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(name, dataset)``: the uninterrupted run of STEPS steps and its folder,
    made once per configuration."""
    runs = {}

    def get(name, dataset="ring8"):
        if (name, dataset) not in runs:
            out = tmp_path_factory.mktemp(f"{name}-{dataset}")
            with pytest.MonkeyPatch.context() as patch:
                _stub_pictures(patch)
                if dataset == "digits":
                    patch.setattr(loop, "Evaluator", SamplingEvaluator)
                runs[name, dataset] = _run(name, out, dataset=dataset), out
        return runs[name, dataset]
    return get


# ------------------------------------------------------------------------- outputs --
def test_run_writes_config_metrics_samples_plots_and_checkpoints(tmp_path):
    run = _run("wgan_gp", tmp_path, "--keep", "1")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["variant"] == "wgan_gp"
    assert config["recipe"]["penalty_weight"] == 0.1          # the toy-data settings on points
    assert config["recipe"]["betas"] == [0.5, 0.9]
    assert config["args"]["steps"] == STEPS and config["args"]["width"] == 8
    entries = _metrics(tmp_path)
    assert [e["step"] for e in entries] == [3, 6]
    history = {k: np.asarray(v) for k, v in run.history.items()}
    assert history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    for entry, window in zip(entries, [slice(0, 3), slice(3, 6)]):
        assert set(entry["losses"]) == {"d_loss", "penalty", "wasserstein", "g_loss"}
        for key, value in entry["losses"].items():       # the mean since the last entry
            assert value == pytest.approx(history[key][window].mean(), rel=1e-12)
        assert set(entry["metrics"]) == {"modes_covered", "num_modes", "high_quality"}
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step-00000003.png", "step-00000006.png"]
    assert (tmp_path / "losses.png").stat().st_size > 0
    assert [p.name for p in tmp_path.glob("checkpoint-*")] == [
        "checkpoint-00000006.safetensors"]                # --keep 1
    assert_same_state(load(tmp_path / "checkpoint-00000006.safetensors"), run.state())


@pytest.mark.usefixtures("no_pictures")
def test_quick_fills_in_only_what_is_not_given(tmp_path):
    args = parse_args(RECIPES["gan"], "ring8", ["--quick", "--out", str(tmp_path),
                                                "--no-progress", "--steps", "2"])
    run = train(RECIPES["gan"], args)
    assert run.step == 2 and args.batch_size == 16 and args.width == 8


# ------------------------------------------------------------------------- resuming --


@pytest.mark.usefixtures("no_pictures")
@pytest.mark.parametrize("how", ["ctrl-c", "shorter-run"])
@pytest.mark.parametrize("name", ["wgan_gp", "sagan"])
def test_resumed_2d_run_equals_uninterrupted_run_bit_for_bit(name, how, tmp_path,
                                                             monkeypatch, reference):
    """Stopped at step 4 (by a KeyboardInterrupt inside step 5, or as a run of 4 steps,
    which ends with a sample plot), then resumed to 6: the same networks, optimiser
    states, random streams and loss history as 6 steps at once. WGAN-GP draws
    interpolation coefficients; SAGAN's spectral norms carry vectors u, v."""
    full, full_out = reference(name)
    if how == "ctrl-c":
        on_call(monkeypatch, 5, keyboard_interrupt)
        stopped = _run(name, tmp_path)
    else:
        stopped = _run(name, tmp_path, "--steps", "4")
    assert stopped.step == 4
    resumed = _run(name, tmp_path, "--resume")
    assert resumed.step == STEPS
    assert_same_state(resumed.state(), full.state())
    if how == "ctrl-c":                                  # the same entries, each once
        assert _metrics(tmp_path) == _metrics(full_out)


@pytest.mark.usefixtures("no_pictures")
def test_resumed_digits_run_equals_uninterrupted_run_bit_for_bit(tmp_path, monkeypatch,
                                                                 reference):
    """DCGAN on digits: batch-norm statistics, and the data order of the shuffled image
    batches resumes at the same example."""
    full, _ = reference("dcgan", "digits")
    monkeypatch.setattr(loop, "Evaluator", SamplingEvaluator)
    on_call(monkeypatch, 3, keyboard_interrupt)
    stopped = _run("dcgan", tmp_path, dataset="digits")
    assert stopped.step == 2
    assert stopped.state()["data"]["position"] == 2 * 8
    resumed = _run("dcgan", tmp_path, "--resume", dataset="digits")
    assert_same_state(resumed.state(), full.state())
    assert resumed.state()["data"]["position"] == STEPS * 8


@pytest.mark.usefixtures("no_pictures")
def test_metrics_written_after_the_last_checkpoint_are_replaced_on_resume(tmp_path,
                                                                          reference):
    """A run that died after its evaluation at step 6 but before its checkpoint there
    resumes at step 3 and writes step 6's entry once, with the same numbers."""
    _, full_out = reference("wgan_gp")
    _run("wgan_gp", tmp_path)
    (tmp_path / "checkpoint-00000006.safetensors").unlink()
    _run("wgan_gp", tmp_path, "--resume")
    assert _metrics(tmp_path) == _metrics(full_out)


@pytest.mark.usefixtures("no_pictures")
def test_resume_without_checkpoint_starts_from_step_zero(tmp_path, capsys):
    run = _run("gan", tmp_path, "--resume", "--steps", "1")
    assert run.step == 1
    assert "no checkpoint" in capsys.readouterr().out


@pytest.mark.usefixtures("no_pictures")
def test_resume_refuses_a_checkpoint_of_another_variant(tmp_path):
    _run("gan", tmp_path, "--steps", "1")
    with pytest.raises(SystemExit, match="is a gan run, not lsgan"):
        _run("lsgan", tmp_path, "--resume")


@pytest.mark.usefixtures("no_pictures")
def test_new_run_refuses_a_folder_with_checkpoints(tmp_path):
    """Else the old run's later checkpoints would outlive the new run's, and --resume
    would pick them."""
    _run("gan", tmp_path, "--steps", "3")
    with pytest.raises(SystemExit, match="checkpoint-00000003.safetensors.*--resume"):
        _run("gan", tmp_path, "--steps", "1")


# -------------------------------------------------------------------------- Ctrl-C --


@pytest.mark.usefixtures("no_pictures")
def test_keyboard_interrupt_in_a_step_saves_that_step_and_returns(tmp_path, monkeypatch,
                                                                   capsys):
    on_call(monkeypatch, 2, keyboard_interrupt)
    run = _run("wgan", tmp_path)
    assert run.step == 1
    path = tmp_path / "checkpoint-00000001.safetensors"
    assert sorted(tmp_path.glob("checkpoint-*")) == [path]
    assert_same_state(load(path), run.state())
    assert "interrupted at step 1" in capsys.readouterr().err


@pytest.mark.usefixtures("no_pictures")
def test_ctrl_c_during_a_step_lets_it_finish_then_saves(tmp_path, monkeypatch, reference):
    """SIGINT after step 4's updates: the step is counted and saved whole, so the resumed
    run matches the uninterrupted one; the previous SIGINT handler is back afterwards."""
    full, _ = reference("wgan_gp")
    handler = signal.getsignal(signal.SIGINT)
    on_call(monkeypatch, 4, sigint_after_the_updates)
    stopped = _run("wgan_gp", tmp_path)
    assert signal.getsignal(signal.SIGINT) is handler
    assert stopped.step == 4
    assert (tmp_path / "checkpoint-00000004.safetensors").exists()
    resumed = _run("wgan_gp", tmp_path, "--resume")
    assert_same_state(resumed.state(), full.state())


@pytest.mark.usefixtures("no_pictures")
def test_second_ctrl_c_stops_at_once_without_saving(tmp_path, monkeypatch, capsys):
    def twice(train_step, args):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        return train_step(*args)                           # never reached
    on_call(monkeypatch, 5, twice)
    run = _run("wgan_gp", tmp_path)
    assert run.step == 4
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == [
        "checkpoint-00000003.safetensors"]
    assert "stopped at once, not saved; the last checkpoint is " \
        f"{tmp_path / 'checkpoint-00000003.safetensors'}" in capsys.readouterr().err


# ------------------------------------------------------------------ non-finite loss --


@pytest.mark.usefixtures("no_pictures")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path,
                                                                             monkeypatch):
    on_call(monkeypatch, 5, poison_critic)
    with pytest.raises(SystemExit) as stop:
        _run("wgan_gp", tmp_path, "--checkpoint-every", "2")
    message = str(stop.value)
    assert message.startswith("step 5: non-finite d_loss")
    assert "checkpoint-00000004.safetensors" in message and "detect_anomaly" in message
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == [
        "checkpoint-00000002.safetensors", "checkpoint-00000004.safetensors"]
    kept = load(tmp_path / "checkpoint-00000004.safetensors")
    assert kept["step"] == 4
    assert all(np.isfinite(w.numpy()).all() for w in kept["gan"]["critic"].values())


# ----------------------------------------------------------------------------- GPU --
@pytest.mark.gpu
@pytest.mark.usefixtures("no_pictures")
def test_cuda_run_matches_the_cpu_run_and_resumes_exactly(tmp_path, monkeypatch):
    """--device cuda: the weights and random streams start as on the CPU (drawn there), so
    step 1's critic loss, computed before any update, agrees to float32 accuracy; a run
    interrupted at step 2 resumes on the GPU to the uninterrupted GPU run's state."""
    cpu = _run("gan", tmp_path / "cpu", "--steps", "1")
    full = _run("gan", tmp_path / "full", "--device", "cuda")
    assert full.history["d_loss"][0] == pytest.approx(cpu.history["d_loss"][0], rel=1e-5)
    on_call(monkeypatch, 3, keyboard_interrupt)
    assert _run("gan", tmp_path / "resumed", "--device", "cuda").step == 2
    resumed = _run("gan", tmp_path / "resumed", "--device", "cuda", "--resume")
    assert_same_state(resumed.state(), full.state())
    assert load(tmp_path / "full" / "checkpoint-00000006.safetensors")["step"] == STEPS


@pytest.mark.parametrize("extra, decay", [((), loop.DEFAULT_EMA["points"]),
                                          (("--ema", "0.5"), 0.5), (("--ema", "0"), None)])
def test_points_average_the_generator_by_default_and_ema_zero_turns_it_off(tmp_path, extra,
                                                                           decay):
    run = _run("gan", tmp_path / "run", *extra)
    assert (run.ema is None) if decay is None else (run.ema.decay == decay)


@pytest.mark.usefixtures("no_pictures", "fresh_tuning")
def test_autotune_flag_tunes_the_hot_ops_for_the_run_only(tmp_path, capsys):
    from minigan import backend
    loop.main(RECIPES["dcgan"], "digits", [
        "--out", str(tmp_path), "--no-progress", "--width", "8", "--batch-size", "8",
        "--steps", "2", "--autotune"])
    ops = {tuning.op for tuning in backend.tuning_results()}
    assert {"conv2d", "conv_transpose2d", "conv2d_weight"} <= ops
    assert "autotuning chose: " in capsys.readouterr().out
    assert not backend.autotune_enabled()
