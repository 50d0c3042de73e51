"""Mode coverage on the 2-D mixtures of VEEGAN and PacGAN, for each variant and seed.

ring8: 8 Gaussians on the unit circle, std 0.01; grid25: 25 Gaussians on {-4,...,4}^2,
std 0.05. After training, 2,500 samples are scored: a sample is high quality within 3
standard deviations of its nearest mode, and a mode is covered when it is the nearest
mode of at least one high-quality sample (minigan.metrics.mixture_metrics). Each run is
the example's own training loop (the MLP pair of minigan/zoo/networks.py) with the
options given here; the table prints the mean over seeds and each seed's numbers.

    python bench/mixture_modes.py --variants wgan_gp --datasets ring8 grid25 --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from minigan.train import parse_args, train
from minigan.zoo import RECIPES


def run_one(variant: str, dataset: str, seed: int, options: list[str], out: Path) -> dict:
    recipe = RECIPES[variant]
    argv = ["--dataset", dataset, "--seed", str(seed), "--out", str(out), "--no-progress",
            *options]
    start = time.perf_counter()
    train(recipe, parse_args(recipe, dataset, argv))
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return {**last["metrics"], "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["wgan_gp"], choices=sorted(RECIPES))
    parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"],
                        choices=["ring8", "grid25"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=3000, help="generator updates per run")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further options for every run (after all others)")
    args = parser.parse_args()
    options = ["--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--sample-every", str(args.steps), "--eval-every", str(args.steps),
               "--checkpoint-every", str(args.steps), *args.extra]
    print(f"{args.steps} steps, batch {args.batch_size}, extra options {args.extra or '-'}")
    print(f"{'variant':<10}{'data':<8}{'modes':>8}{'HQ %':>8}{'s/run':>8}   per seed "
          f"(modes/HQ%)")
    with tempfile.TemporaryDirectory() as folder:
        for variant in args.variants:
            for dataset in args.datasets:
                results = [run_one(variant, dataset, seed, options,
                                   Path(folder) / f"{variant}-{dataset}-{seed}")
                           for seed in args.seeds]
                modes = statistics.mean(r["modes_covered"] for r in results)
                hq = 100 * statistics.mean(r["high_quality"] for r in results)
                seconds = statistics.mean(r["seconds"] for r in results)
                each = " ".join(f"{r['modes_covered']}/{100 * r['high_quality']:.1f}"
                                for r in results)
                print(f"{variant:<10}{dataset:<8}{modes:>8.2f}{hq:>8.1f}{seconds:>8.0f}   "
                      f"{each}", flush=True)


if __name__ == "__main__":
    main()
