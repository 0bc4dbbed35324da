"""A layer's projections packed into four matrices over one copy of the weights, for the decode step.

q|k|v share their input, as do gate|up: vLLM and gpt-fast multiply each such group by one matrix
(QKVParallelLinear, wqkv), which at batch 1 means one long matrix-vector product instead of three short
ones. Here the packed matrix IS the model's weight: it is allocated once, the members' rows are copied in,
and each member nn.Linear's weight becomes a view of its rows, so the model (prefill, the dynamic path,
analysis) reads the very same memory and nothing is held twice.

Each loaded adapter's lora_A and lora_B of the group's members are stacked once here (fused.Lora: A [R,
K], Bt [R, N] with each member's block in its own columns, each rank's owner), so one small product gives
every row its own adapter's delta (fused.lora_delta), which the decode step computes beside the base
product (slots.py). `stack()` rebuilds them when an adapter is loaded.
"""

from __future__ import annotations

import torch
from torch import nn

from .adapters import MultiLoraLinear, unwrap
from .fused import Lora

GROUPS = (("self_attn", ("q_proj", "k_proj", "v_proj")), ("self_attn", ("o_proj",)),
          ("mlp", ("gate_proj", "up_proj")), ("mlp", ("down_proj",)))  # fmt: skip


class Group:
    """One packed projection of one layer: `parent` (an attention or MLP module) and its members."""

    def __init__(self, parent: nn.Module, names: tuple[str, ...]):
        self.parent, self.names = parent, names
        bases = self._bases()
        self.sizes = [lin.out_features for lin in bases]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(bases))]  # each member's first row
        self.n = sum(self.sizes)
        w = bases[0].weight
        self.bias = None
        if any(lin.bias is not None for lin in bases):
            self.bias = torch.cat(
                [lin.bias if lin.bias is not None else w.new_zeros(lin.out_features) for lin in bases]
            )
        self.W: torch.Tensor | None = None
        self._lora: Lora | None = None
        self.pack()

    def _bases(self) -> list[nn.Linear]:
        return [unwrap(getattr(self.parent, name)) for name in self.names]

    def pack(self) -> None:
        """Build the packed matrix from the members' weights (once: they become views of it)."""
        bases = self._bases()
        w0 = bases[0].weight
        W = torch.empty(self.n, w0.shape[1], device=w0.device, dtype=w0.dtype)
        for lin, off, size in zip(bases, self.offsets, self.sizes):
            W[off : off + size].copy_(lin.weight)
        for lin, off, size in zip(bases, self.offsets, self.sizes):  # the model's weights become views
            lin.weight = nn.Parameter(W[off : off + size], requires_grad=False)
        self.W = W
        self.stack()

    def stack(self) -> None:
        """(Re)build the group's adapters from its members' own stacks (MultiLoraLinear.stacks(): lora_A,
        lora_B x scaling, owners, DoRA scales), each member's lora_B in its own columns."""
        parts = []  # (member's first row, its stacks)
        for off, name in zip(self.offsets, self.names):
            mod = getattr(self.parent, name)
            if isinstance(mod, MultiLoraLinear) and mod.loras:
                parts.append((off, mod.stacks()))
        self._lora = self._join(parts) if parts else None

    def _join(self, parts) -> Lora:
        A = torch.cat([a for _, (a, *_) in parts])
        owner = torch.cat([o for _, (_, _, o, _, _) in parts])
        Bt = A.new_zeros(A.shape[0], self.n)
        Ms = [m for _, (*_, m) in parts if m is not None]
        M = A.new_ones(max(m.shape[0] for m in Ms), self.n) if Ms else None
        row = 0
        for off, (a, b, _, _, m) in parts:
            Bt[row : row + a.shape[0], off : off + b.shape[0]] = b.T
            if m is not None:
                M[: m.shape[0], off : off + b.shape[0]] = m
            row += a.shape[0]
        return Lora(A, Bt, owner, M)

    def weight(self) -> torch.Tensor:
        """The packed matrix a step multiplies by: [N, K], the members' rows one after the other."""
        return self.W

    def lora(self, on: bool) -> Lora | None:
        return self._lora if on else None


class Packed:
    """Every layer's four groups: qkv, o, gate_up, down."""

    def __init__(self, layers: nn.ModuleList):
        self.layers = [
            tuple(Group(getattr(block, part), names) for part, names in GROUPS) for block in layers
        ]

    def stack(self) -> None:
        """Every group's adapters stacked again (an adapter was loaded)."""
        for groups in self.layers:
            for g in groups:
                g.stack()
