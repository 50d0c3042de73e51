"""Pictures of a run: sample grids (Pillow) and, for 2-D data, samples over the data with
the critic's value as contours (matplotlib)."""
from __future__ import annotations

import math
import os
from typing import Callable, Sequence

import numpy as np


def image_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one (rows*(H+p)+p, cols*(W+p)+p, C) uint8 picture."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected (N, 1 or 3, H, W) images, got {images.shape}")
    n, c, h, w = images.shape
    cols = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    grid = np.zeros((rows * (h + padding) + padding, cols * (w + padding) + padding, c),
                    np.uint8)
    pixels = np.clip((images + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[top:top + h, left:left + w] = pixels[i].transpose(1, 2, 0)
    return grid


def save_image_grid(images: np.ndarray, path: str | os.PathLike, nrow: int | None = None,
                    scale: int = 1) -> None:
    """Write ``image_grid(images)`` as a PNG, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    grid = image_grid(images, nrow)
    picture = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale),
                                 Image.Resampling.NEAREST)
    picture.save(path)


def save_points_plot(samples: np.ndarray, data: np.ndarray, path: str | os.PathLike,
                     critic: Callable[[np.ndarray], np.ndarray] | None = None,
                     title: str = "") -> None:
    """Generated points (red) over data points (grey), with the critic's value on a grid
    as filled contours when ``critic`` maps (n, 2) points to (n,) values."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    both = np.concatenate([samples, data])
    lo, hi = np.percentile(both, [0.5, 99.5], axis=0)
    margin = 0.15 * (hi - lo) + 1e-3
    lo, hi = lo - margin, hi + margin
    fig, ax = plt.subplots(figsize=(5, 5))
    if critic is not None:
        xs, ys = np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80)
        gx, gy = np.meshgrid(xs, ys)
        values = critic(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32))
        contour = ax.contourf(gx, gy, values.reshape(gx.shape), levels=20, cmap="viridis",
                              alpha=0.6)
        fig.colorbar(contour, ax=ax, label="critic D(x)")
    ax.scatter(data[:, 0], data[:, 1], s=2, c="0.3", alpha=0.5, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="red", alpha=0.6, label="generated")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    ax.set_title(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_loss_plot(steps: Sequence[int], curves: dict[str, Sequence[float]],
                   path: str | os.PathLike, title: str = "") -> None:
    """One line per loss against the step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        ax.plot(steps, values, label=name, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
