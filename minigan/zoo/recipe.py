"""A GAN variant as data: its loss, penalty, critic schedule, optimisers and network
options, with each paper's defaults filled in by the variant's own module
(``minigan.zoo.wgan_gp.RECIPE``...)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from minigan.zoo.losses import LOSSES

PENALTIES = ("gradient", "div", "r1")


@dataclass(frozen=True)
class Recipe:
    """Everything that tells one GAN variant from another.

    loss: a key of ``minigan.zoo.losses.LOSSES``; penalty: None or one of ``PENALTIES``
    with its weight (lambda, or WGAN-div's k with exponent ``penalty_power``); n_critic:
    critic updates per generator update; weight_clip: WGAN's c; optimizer 'adam' or
    'rmsprop' with two learning rates (TTUR when they differ) and Adam's betas;
    network options: normalisation in G and D, spectral norm, self-attention;
    toy_settings: fields set differently for 2-D toy data (the authors' toy settings, or
    minigan's measured ones where the recipe's docstring says so), which the training loop
    applies on 2-D points (before the command line's own overrides).
    """

    name: str
    paper: str
    loss: str
    penalty: str | None = None
    penalty_weight: float = 0.0
    penalty_power: float = 6.0
    n_critic: int = 1
    weight_clip: float | None = None
    optimizer: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    g_norm: str = "batch"
    d_norm: str = "batch"
    spectral: bool = False
    attention: bool = False
    toy_settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"Recipe {self.name}: unknown loss {self.loss!r}; "
                             f"known: {sorted(LOSSES)}")
        if self.penalty is not None and self.penalty not in PENALTIES:
            raise ValueError(f"Recipe {self.name}: unknown penalty {self.penalty!r}; "
                             f"known: {PENALTIES}")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"Recipe {self.name}: optimizer must be 'adam' or 'rmsprop', "
                             f"got {self.optimizer!r}")
        if self.n_critic < 1:
            raise ValueError(f"Recipe {self.name}: n_critic must be >= 1, got {self.n_critic}")
        names = {f.name for f in fields(self)} - {"name", "paper", "toy_settings"}
        unknown = sorted(set(self.toy_settings) - names)
        if unknown:
            raise ValueError(f"Recipe {self.name}: toy_settings names unknown fields {unknown}")

    def with_overrides(self, **changes: Any) -> Recipe:
        """A copy with the given fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
