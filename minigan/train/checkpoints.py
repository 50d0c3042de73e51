"""Checkpoints of a run: ``checkpoint-<step>.safetensors`` files, the newest ``keep``
kept, each written atomically through ``minigan.save`` (so a crash mid-save leaves the
previous ones intact) and never with pickle."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from minigan.serialization import load, save

PATTERN = re.compile(r"checkpoint-(\d+)\.safetensors$")


class CheckpointManager:
    """Saves and finds the checkpoints in ``folder``."""

    def __init__(self, folder: str | Path, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"CheckpointManager: keep must be >= 1, got {keep}")
        self.folder, self.keep = Path(folder), keep

    def path(self, step: int) -> Path:
        return self.folder / f"checkpoint-{step:08d}.safetensors"

    def all(self) -> list[tuple[int, Path]]:
        """(step, path) of every checkpoint, oldest first."""
        found = []
        for p in self.folder.glob("checkpoint-*.safetensors"):
            match = PATTERN.search(p.name)
            if match:
                found.append((int(match.group(1)), p))
        return sorted(found)

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1][1] if found else None

    def save(self, state: dict[str, Any], step: int) -> Path:
        """Write ``state`` as the checkpoint of ``step``, then drop the oldest beyond
        ``keep``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(step)
        save(state, path)
        for _, old in self.all()[:-self.keep]:
            old.unlink()
        return path

    @staticmethod
    def load(path: str | Path) -> Any:
        return load(path)
