"""Tests for minigan/train/checkpoints.py: names, the newest ``keep`` files kept, lookup
of the latest, and round trips through minigan's safetensors checkpoints."""
import numpy as np
import pytest

import minigan as mg
from minigan.serialization import CheckpointError
from minigan.train.checkpoints import CheckpointManager


def _names(manager):
    return [path.name for _, path in manager.all()]


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_only_the_newest_keep_checkpoints_remain(tmp_path, keep):
    manager = CheckpointManager(tmp_path, keep=keep)
    for step in [5, 10, 15, 20, 25]:
        manager.save({"step": step}, step)
        kept = [s for s in [5, 10, 15, 20, 25] if s <= step][-keep:]
        assert [s for s, _ in manager.all()] == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == _names(manager)  # no temp files


def test_checkpoints_are_ordered_by_step_not_by_name(tmp_path):
    manager = CheckpointManager(tmp_path, keep=5)
    for step in [100000000, 9, 80]:                 # 9 digits outgrows the zero padding
        manager.save({"step": step}, step)
    assert [s for s, _ in manager.all()] == [9, 80, 100000000]
    assert manager.latest() == manager.path(100000000)
    assert manager.path(9).name == "checkpoint-00000009.safetensors"


def test_latest_is_none_in_an_empty_or_missing_folder(tmp_path):
    assert CheckpointManager(tmp_path / "absent").latest() is None
    assert CheckpointManager(tmp_path).all() == []


def test_other_files_are_neither_listed_nor_removed(tmp_path):
    others = ["checkpoint-latest.safetensors", "checkpoint-7.safetensors.tmp", "notes.txt"]
    for name in others:
        (tmp_path / name).write_text("x")
    manager = CheckpointManager(tmp_path, keep=1)
    manager.save({}, 1)
    manager.save({}, 2)
    assert _names(manager) == ["checkpoint-00000002.safetensors"]
    assert all((tmp_path / name).exists() for name in others)


def test_save_creates_the_folder_and_round_trips_the_state(tmp_path):
    manager = CheckpointManager(tmp_path / "run" / "nested")
    state = {"weights": mg.tensor(np.arange(6.0).reshape(2, 3)), "step": 3, "rng": {"inc": "1"},
             "history": {"loss": np.array([0.5, np.nan])}}
    path = manager.save(state, 3)
    loaded = CheckpointManager.load(path)
    np.testing.assert_array_equal(loaded["weights"].numpy(), state["weights"].numpy())
    np.testing.assert_array_equal(loaded["history"]["loss"], state["history"]["loss"])
    assert (loaded["step"], loaded["rng"]) == (3, {"inc": "1"})


def test_a_damaged_checkpoint_fails_loudly(tmp_path):
    path = CheckpointManager(tmp_path).save({"w": mg.ones(4)}, 1)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match="checkpoint-00000001"):
        CheckpointManager.load(path)


def test_keep_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="CheckpointManager: keep must be >= 1, got 0"):
        CheckpointManager(tmp_path, keep=0)
