"""The shared training loop, command line, checkpoints, pictures and evaluation."""
from minigan.train.checkpoints import CheckpointManager
from minigan.train.cli import build_parser, parse_args
from minigan.train.loop import Run, main, train

__all__ = ["CheckpointManager", "build_parser", "parse_args", "Run", "main", "train"]
