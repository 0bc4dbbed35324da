"""MacDrop, massive weights curriculum dropout (arXiv 2410.01866 §5): while an adapter trains, drop
elements of the frozen top-k massive rows of the massive layer's gate_proj and up_proj for one optimizer
step, then put the pre-trained values back exactly.

The recipe (arXiv 2410.01866; README "Training adapters"), each deviation a named option of MacDropConfig:
  - one element-wise Bernoulli keep-mask [k, D] per optimizer step (keep probability 1 - p), drawn fresh
    from (seed, step) so every micro-batch of an accumulated step, every rank of a multi-GPU run and a
    resumed run see the same mask;
  - the same mask on gate and up (both halves of Phi-3's fused gate_up_proj): rows come from
    load.FFN.row_weights, the one place that maps intermediate dims to weight rows;
  - DropConnect without 1/(1-p) rescaling (`rescale=True` adds it);
  - p decays with the step t of T: `linear` p0 (1 - t/(T-1)) (the paper's p0 (1 - t/T) counted so that
    the first step drops with p0 and the last with 0), `step` (stairs), `exp`, `constant` (ablations).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch

SCHEDULES = ("linear", "step", "exp", "constant")


@dataclass(frozen=True)
class MacDropConfig:
    p0: float = 0.8  # drop probability at the first optimizer step (the paper's p0)
    k: int = 5  # massive rows dropped (the paper's top-k)
    schedule: str = "linear"  # how p decays over the run: linear (the paper's), step, exp, constant
    stages: int = 4  # `step`: number of equal-length stairs from p0 down to 0
    rate: float = 5.0  # `exp`: p0 e^(-rate t/(T-1)), shifted and scaled to reach 0 at the last step
    rescale: bool = False  # DropConnect's 1/(1-p) on kept elements; the paper does not rescale

    def __post_init__(self):
        if not 0.0 <= self.p0 < 1.0:
            raise ValueError(f"p0 must be in [0, 1), got {self.p0}")
        if not 1 <= self.k <= 64:
            raise ValueError(f"k must be in 1..64, got {self.k}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.stages < 2:
            raise ValueError(f"stages must be >= 2, got {self.stages}")
        if self.rate <= 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")

    def p(self, t: int, T: int) -> float:
        """Drop probability at optimizer step t (0-based) of T."""
        if self.schedule == "constant" or T <= 1:
            return self.p0
        x = min(max(t / (T - 1), 0.0), 1.0)  # progress: 0 at the first step, 1 at the last
        if self.schedule == "linear":
            return self.p0 * (1.0 - x)
        if self.schedule == "step":
            stair = min(int(x * self.stages), self.stages - 1)  # 0 .. stages-1
            return self.p0 * (1.0 - stair / (self.stages - 1))
        floor = math.exp(-self.rate)
        return self.p0 * (math.exp(-self.rate * x) - floor) / (1.0 - floor)


def keep_mask(seed: int, step: int, p: float, k: int, d: int) -> torch.Tensor:
    """[k, d] of 1.0 (kept) and 0.0 (dropped), Bernoulli(1 - p), the same for the same (seed, step) on any
    device: drawn on the CPU from a generator of its own, so it never moves the global RNG."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return (torch.rand(k, d, generator=g) >= p).float()


class MacDrop:
    """Drops the massive rows of one layer for one optimizer step at a time.

    `rows` are (weight [out, D], row index [m k]) pairs from loaded.ffn(layer).row_weights(indices): gate
    and up, or one fused gate_up whose index lists the k gate rows then the k up rows. Take them before
    PEFT wraps the model: the weight tensors stay the same objects under its wrappers."""

    def __init__(self, rows: list[tuple[torch.Tensor, torch.Tensor]], cfg: MacDropConfig, seed: int, T: int):
        self.rows = rows
        self.cfg = cfg
        self.seed = seed
        self.T = T
        self.d = rows[0][0].shape[1]
        for w, idx in rows:
            if len(idx) % cfg.k or w.shape[1] != self.d:
                raise ValueError(f"row index of length {len(idx)} is not a multiple of k={cfg.k}")

    def p(self, t: int) -> float:
        return self.cfg.p(t, self.T)

    @contextmanager
    def dropped(self, t: int):
        """Within the block the k rows are masked; on leaving, their pre-trained values are back bit for
        bit (saved copies, not a division). Yields (p, mask [k, D] or None when p = 0)."""
        p = self.p(t)
        if p == 0.0:
            yield p, None
            return
        mask = keep_mask(self.seed, t, p, self.cfg.k, self.d)
        scale = mask / (1.0 - p) if self.cfg.rescale else mask
        saved = []
        with torch.no_grad():
            for w, idx in self.rows:
                before = w.index_select(0, idx)  # [m k, D], the exact pre-trained rows
                saved.append(before)
                m = scale.to(w.device, w.dtype).repeat(len(idx) // self.cfg.k, 1)  # same mask, each half
                w.index_copy_(0, idx, before * m)
        try:
            yield p, mask
        finally:
            with torch.no_grad():
                for (w, idx), before in zip(self.rows, saved):
                    w.index_copy_(0, idx, before)
