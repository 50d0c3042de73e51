"""The training loop every example shares: arguments -> data -> networks -> steps, with
progress, samples, metrics, plots and exactly resumable checkpoints.

A run's folder holds ``config.json``, ``metrics.jsonl`` (one JSON object per evaluation:
step, seconds, mean losses since the last evaluation, metrics), ``samples/`` (sample grids
of fixed latent vectors, or point plots with the critic's contours for 2-D data),
``losses.png`` and ``checkpoint-<step>.safetensors`` files. A checkpoint holds the
networks, optimisers, every random stream (latents, penalty coefficients, data order)
and the loss history, so ``--resume`` continues with the same numbers an uninterrupted
run would have produced. Ctrl-C lets the current step finish, saves a checkpoint and
returns (a second Ctrl-C stops at once, without saving); a non-finite loss stops the run,
keeps the last good checkpoint and points to ``minigan.detect_anomaly``.
"""
from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from minigan import backend, creation, nn, optim
from minigan.autograd import no_grad
from minigan.data import BatchIterator, ImageDataset, load_dataset
from minigan.random import Generator, manual_seed, pcg64_state, set_pcg64_state
from minigan.train.checkpoints import CheckpointManager
from minigan.train.cli import parse_args
from minigan.train.evaluation import Evaluator
from minigan.train.images import save_image_grid, save_loss_plot, save_points_plot
from minigan.zoo.recipe import Recipe
from minigan.zoo.step import GAN, build_gan, train_step

DEFAULT_STEPS = 2000
# Decay of the generator's weight average that samples and metrics use, unless --ema says
# otherwise. On 2-D points a faster average (0.99) than on images: on ring8 (WGAN-GP, seed
# 0, 3000 steps) it raised the high-quality share from 68% (none) to 76% (0.999: 74%).
DEFAULT_EMA = {"points": 0.99, "images": 0.999}
QUICK = dict(steps=6, batch_size=16, width=8, sample_every=3, eval_every=3,
             checkpoint_every=3)


class PointSource:
    """Endless batches from a 2-D sampler, drawn with a NumPy PCG64 stream whose state
    goes into checkpoints."""

    def __init__(self, sampler: Any, batch_size: int, seed: int) -> None:
        self.sampler, self.batch_size = sampler, batch_size
        self.rng = np.random.Generator(np.random.PCG64([seed, 2]))

    def next(self) -> np.ndarray:
        return self.sampler.sample(self.batch_size, self.rng)

    def state_dict(self) -> dict[str, Any]:
        return pcg64_state(self.rng)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_pcg64_state(self.rng, state)


class ImageSource:
    """Endless shuffled image batches (labels dropped) from a ``BatchIterator``."""

    def __init__(self, dataset: ImageDataset, batch_size: int, seed: int) -> None:
        self.iterator = BatchIterator(dataset.images, batch_size, seed=seed)
        self.stream = self.iterator.infinite()

    def next(self) -> np.ndarray:
        return next(self.stream)

    def state_dict(self) -> dict[str, Any]:
        return self.iterator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iterator.load_state_dict(state)


class Run:
    """One training run: everything the loop needs, and what a checkpoint saves."""

    def __init__(self, recipe: Recipe, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out or f"runs/{recipe.name}-{args.dataset}")
        self.dataset = load_dataset(args.dataset, args.data_dir, args.image_size)
        self.points = not isinstance(self.dataset, ImageDataset)
        if self.points:
            recipe = recipe.with_overrides(**recipe.toy_settings)
        self.recipe = recipe.with_overrides(lr_g=args.lr_g, lr_d=args.lr_d,
                                            n_critic=args.n_critic,
                                            penalty_weight=args.penalty_weight)
        manual_seed(args.seed)
        if self.points:
            self.source: Any = PointSource(self.dataset, args.batch_size, args.seed)
            shape: tuple[int, ...] = (2,)
        else:
            self.source = ImageSource(self.dataset, args.batch_size, args.seed)
            shape = self.dataset.image_shape
        self.gan: GAN = build_gan(self.recipe, shape, args.latent_dim, args.width,
                                  args.device)
        if not self.points:
            self.gan.generator.apply(nn.init.dcgan_init_)
            self.gan.critic.apply(nn.init.dcgan_init_)
        decay = args.ema if args.ema is not None else \
            DEFAULT_EMA["points" if self.points else "images"]
        self.ema = optim.EMA(self.gan.generator, decay) if decay > 0 else None
        self.rng = Generator(args.seed + 1)
        fixed = Generator(args.seed + 2)
        self.fixed_z = creation.randn(64 if not self.points else 2500, self.gan.latent_dim,
                                      device=args.device, generator=fixed)
        self.step = 0
        self.seconds = 0.0
        self.history: dict[str, list[float]] = {"step": []}
        self.checkpoints = CheckpointManager(self.out, args.keep)

    # ------------------------------------------------------------ checkpoints --
    def state(self) -> dict[str, Any]:
        return {"format": "minigan-run", "recipe": self.recipe.name, "step": self.step,
                "seconds": self.seconds, "gan": self.gan.state_dict(),
                "ema": None if self.ema is None else self.ema.state_dict(),
                "rng": self.rng.get_state(), "data": self.source.state_dict(),
                "history": {k: np.asarray(v, np.float64) for k, v in self.history.items()}}

    def save(self) -> Path:
        return self.checkpoints.save(self.state(), self.step)

    def resume(self) -> bool:
        path = self.checkpoints.latest()
        if path is None:
            return False
        state = self.checkpoints.load(path)
        if state.get("recipe") != self.recipe.name:
            raise SystemExit(f"--resume: {path} is a {state.get('recipe')} run, not "
                             f"{self.recipe.name}")
        self.gan.load_state_dict(state["gan"])
        if (self.ema is None) != (state.get("ema") is None):
            raise SystemExit(f"--resume: {path} was trained "
                             f"{'without' if state.get('ema') is None else 'with'} --ema; "
                             f"resume with the same setting")
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.rng.set_state(state["rng"])
        self.source.load_state_dict(state["data"])
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        print(f"resumed from {path} at step {self.step}")
        return True

    # ---------------------------------------------------------------- outputs --
    def update_average(self) -> None:
        if self.ema is not None:
            self.ema.update(self.gan.generator)

    def sampling_generator(self) -> nn.Module:
        """The generator pictures and metrics use: the weight average when there is one."""
        return self.gan.generator if self.ema is None else self.ema.module

    def sample(self, n: int) -> np.ndarray:
        """n generated examples as a NumPy array (eval mode, no graph)."""
        g = self.sampling_generator()
        g.eval()
        try:
            with no_grad():
                chunks = []
                for start in range(0, n, 500):
                    z = creation.randn(min(500, n - start), self.gan.latent_dim,
                                       device=self.args.device, generator=Generator(start))
                    chunks.append(g(z).cpu().numpy())
        finally:
            g.train()
        return np.concatenate(chunks)

    def write_samples(self) -> None:
        folder = self.out / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        g, d = self.sampling_generator(), self.gan.critic
        path = folder / f"step-{self.step:08d}.png"
        # Eval mode: batch norm and spectral norm must not update their state here, or
        # the training would depend on when pictures are drawn.
        g.eval()
        d.eval()
        try:
            with no_grad():
                fake = g(self.fixed_z).cpu().numpy()
                if self.points:
                    def critic(points: np.ndarray) -> np.ndarray:          # (n, 2) -> (n,)
                        x = creation.tensor(points, device=self.args.device)
                        return d(x).cpu().numpy().reshape(-1)
                    data = self.dataset.sample(2500, np.random.Generator(np.random.PCG64(0)))
                    save_points_plot(fake, data, path, critic,
                                     f"{self.recipe.name} step {self.step}")
                else:
                    save_image_grid(fake, path, nrow=8, scale=2)
        finally:
            g.train()
            d.train()

    def write_losses(self) -> None:
        curves = {k: v for k, v in self.history.items() if k != "step"}
        save_loss_plot(self.history["step"], curves, self.out / "losses.png",
                       f"{self.recipe.name} on {self.args.dataset}")

    def record(self, losses: dict[str, float]) -> None:
        self.history["step"].append(float(self.step))
        for key, value in losses.items():
            self.history.setdefault(key, [np.nan] * (len(self.history["step"]) - 1))
            self.history[key].append(value)

    def mean_losses(self, since: int) -> dict[str, float]:
        steps = np.asarray(self.history["step"])
        keep = steps > since
        return {k: float(np.mean(np.asarray(v)[keep])) for k, v in self.history.items()
                if k != "step" and keep.any()}


class _DeferredInterrupt:
    """Ctrl-C (SIGINT) during training: the first one only sets ``requested``, so the
    step under way completes and every checkpoint holds whole steps; a second one raises
    KeyboardInterrupt at once (``forced``). Python delivers signals to the main thread
    only; elsewhere this installs nothing."""

    def __init__(self) -> None:
        self.requested = self.forced = False
        self.previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: finishing this step, then saving (Ctrl-C again stops at once, "
              "without saving)", file=sys.stderr)


def _metrics_until(path: Path, step: int) -> int:
    """Keep the entries of metrics.jsonl up to ``step`` (a resumed run writes the later
    ones again); returns the step of the last one kept, 0 when none."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [entry for entry in map(json.loads, filter(str.strip, lines))
            if entry["step"] <= step]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
    return kept[-1]["step"] if kept else 0


def _config(run: Run) -> dict[str, Any]:
    return {"variant": run.recipe.name, "recipe": run.recipe.to_dict(),
            "args": vars(run.args)}


def train(recipe: Recipe, args: argparse.Namespace) -> Run:
    """Train ``recipe`` as ``args`` say (see ``minigan.train.cli``); returns the run."""
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    args.batch_size = args.batch_size or 64
    run = Run(recipe, args)
    steps = args.steps or DEFAULT_STEPS
    sample_every = args.sample_every or max(steps // 10, 1)
    eval_every = args.eval_every or max(steps // 5, 1)
    checkpoint_every = args.checkpoint_every or max(steps // 5, 1)
    run.out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        if not run.resume():
            print(f"--resume: no checkpoint in {run.out}; starting from step 0")
    elif run.checkpoints.latest() is not None:
        # Else the old run's newer checkpoints would outlive the new ones and --resume
        # would continue the old run.
        raise SystemExit(f"{run.out} holds checkpoints of an earlier run "
                         f"({run.checkpoints.latest().name}): continue it with --resume, "
                         f"or choose another --out")
    (run.out / "config.json").write_text(json.dumps(_config(run), indent=2, default=str))
    evaluator = Evaluator(run.dataset)
    metrics_path = run.out / "metrics.jsonl"
    last_eval = _metrics_until(metrics_path, run.step)

    progress = None
    if not args.no_progress:
        from tqdm import tqdm
        progress = tqdm(total=steps, initial=run.step, unit="step", dynamic_ncols=True,
                        desc=run.recipe.name)
    interrupt = _DeferredInterrupt()
    try:
        with interrupt:
            while run.step < steps and not interrupt.requested:
                start = time.perf_counter()
                cursor = run.source.state_dict()
                try:
                    batches = [creation.tensor(run.source.next(), device=args.device)
                               for _ in range(run.recipe.n_critic)]
                    losses = train_step(run.gan, batches, run.rng)
                except FloatingPointError as error:
                    kept = run.checkpoints.latest()
                    raise SystemExit(
                        f"step {run.step + 1}: {error}. Training stopped; the last good "
                        f"checkpoint is {kept or 'none (no checkpoint was written yet)'}. "
                        f"Run the step under `with minigan.detect_anomaly():` to find the op "
                        f"that made the first NaN/Inf.") from None
                except KeyboardInterrupt:
                    # The step is not counted, so a resumed run draws its batches again.
                    run.source.load_state_dict(cursor)
                    raise
                run.update_average()
                run.step += 1
                run.seconds += time.perf_counter() - start
                run.record(losses)
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix({k: f"{v:.3g}" for k, v in losses.items()})
                if run.step % sample_every == 0 or run.step == steps:
                    run.write_samples()
                if run.step % eval_every == 0 or run.step == steps:
                    entry = {"step": run.step, "seconds": round(run.seconds, 3),
                             "losses": run.mean_losses(last_eval),
                             "metrics": evaluator.evaluate(run.sample)}
                    with metrics_path.open("a") as f:
                        f.write(json.dumps(entry) + "\n")
                    last_eval = run.step
                    run.write_losses()
                if run.step % checkpoint_every == 0 or run.step == steps:
                    run.save()
    except KeyboardInterrupt:
        # A second Ctrl-C may cut a step in half, so nothing is saved then. One raised by
        # code rather than by Ctrl-C (which is deferred) ends the run as Ctrl-C does.
        if interrupt.forced:
            print(f"\nstopped at once, not saved; the last checkpoint is "
                  f"{run.checkpoints.latest()}", file=sys.stderr)
            return run
        interrupt.requested = True
    finally:
        if progress is not None:
            progress.close()
    if interrupt.requested:
        path = run.save()
        print(f"\ninterrupted at step {run.step}: saved {path}; continue with --resume",
              file=sys.stderr)
    return run


def main(recipe: Recipe, default_dataset: str, argv: Sequence[str] | None = None) -> Run:
    """Parse the shared command line and train; the entry point of every example."""
    args = parse_args(recipe, default_dataset, argv)
    with backend.autotuning(args.autotune or backend.autotune_enabled()):
        run = train(recipe, args)
        chosen = collections.Counter(t.chosen for t in backend.tuning_results())
    print(f"{run.recipe.name}: {run.step} steps in {run.seconds:.1f} s; outputs in {run.out}")
    if chosen:
        print("autotuning chose: " + ", ".join(f"{name} for {count} signatures"
                                               for name, count in chosen.most_common()))
    return run
