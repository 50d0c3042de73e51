"""The command line every example shares."""
from __future__ import annotations

import argparse
from typing import Sequence

from minigan import backend
from minigan.zoo.recipe import Recipe


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends each option's default, except None: those options' help says what they
    default to."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser(recipe: Recipe, default_dataset: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=f"Train {recipe.name.upper()} ({recipe.paper}).",
        formatter_class=_HelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default=default_dataset,
                      help="ring8, grid25, swissroll (2-D points), digits (embedded), or "
                           "mnist, fashion-mnist, cifar10, folder (files in --data-dir)")
    data.add_argument("--data-dir", default=None,
                      help="folder holding the dataset's files (nothing is downloaded; not "
                           "used by the 2-D and digits datasets)")
    data.add_argument("--image-size", type=int, default=None,
                      help="resize images to this many pixels a side: 16, 32 or 64, the "
                           "sizes the networks take (default: 16 for digits, others as "
                           "stored, so MNIST's 28 needs --image-size 32)")
    train = parser.add_argument_group("training")
    train.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                       help="where tensors live; cuda needs CuPy and an NVIDIA GPU")
    train.add_argument("--autotune", action="store_true",
                       help="time every implementation of the hot ops (conv, attention, "
                            "power iteration) on their first call with each input shape and "
                            "keep the fastest, like cuDNN's benchmark mode; also "
                            "MINIGAN_AUTOTUNE=1. Runs then differ in rounding")
    train.add_argument("--steps", type=int, default=None,
                       help="generator updates to train for (default: 2000; 6 with --quick)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="examples per batch (default: 64; 16 with --quick)")
    train.add_argument("--lr-g", type=float, default=None,
                       help=f"generator learning rate (paper: {recipe.lr_g})")
    train.add_argument("--lr-d", type=float, default=None,
                       help=f"critic learning rate (paper: {recipe.lr_d})")
    train.add_argument("--n-critic", type=int, default=None,
                       help=f"critic updates per generator update (paper: {recipe.n_critic})")
    train.add_argument("--penalty-weight", type=float, default=None,
                       help=f"weight of the {recipe.penalty} penalty (paper: "
                            f"{recipe.penalty_weight}"
                            + (f"; {recipe.toy_settings['penalty_weight']} on 2-D points"
                               if "penalty_weight" in recipe.toy_settings else "") + ")"
                       if recipe.penalty else
                       "penalty weight (unused: this recipe has no penalty)")
    train.add_argument("--latent-dim", type=int, default=None,
                       help="size of z (default: 2 for points, 100 for images)")
    train.add_argument("--width", type=int, default=None,
                       help="base channels of the DCGAN nets (default: 32 for 16-pixel "
                            "images, 64 above) / hidden units of the MLPs (default: 256); 8 "
                            "with --quick")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds weights, latents and data order")
    train.add_argument("--ema", type=float, default=None,
                       help="decay of the moving average of the generator's weights that "
                            "samples and metrics use; 0 turns it off (default: 0.999 for "
                            "images, 0.99 for 2-D points)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", default=None,
                     help="output folder (default: runs/<variant>-<dataset>)")
    out.add_argument("--resume", action="store_true",
                     help="continue from the newest checkpoint in --out, same step and "
                          "random streams")
    out.add_argument("--sample-every", type=int, default=None,
                     help="steps between sample grids / plots (default: steps / 10; 3 "
                          "with --quick)")
    out.add_argument("--eval-every", type=int, default=None,
                     help="steps between evaluations written to metrics.jsonl (default: "
                          "steps / 5; 3 with --quick)")
    out.add_argument("--checkpoint-every", type=int, default=None,
                     help="steps between checkpoints (default: steps / 5; 3 with --quick)")
    out.add_argument("--keep", type=int, default=3, help="checkpoints kept")
    out.add_argument("--quick", action="store_true",
                     help="a tiny run that finishes in seconds (smoke test)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def parse_args(recipe: Recipe, default_dataset: str, argv: Sequence[str] | None = None
               ) -> argparse.Namespace:
    """The options; ``--device cuda`` where no GPU can be used is a usage error that says
    why, before any data is loaded."""
    parser = build_parser(recipe, default_dataset)
    args = parser.parse_args(argv)
    if args.device == "cuda":
        why = backend.why_no_cuda()
        if why is not None:
            parser.error(f"--device cuda: no GPU available: {why}")
    return args
