"""A layer's projections packed into four matrices over one copy of the weights, for the decode step.

q|k|v share their input, as do gate|up: vLLM and gpt-fast multiply each such group by one matrix
(QKVParallelLinear, wqkv), which at batch 1 means one long matrix-vector product instead of three short
ones. Here the packed matrix IS the model's weight: it is allocated once, the members' rows are copied in,
and each member nn.Linear's weight becomes a view of its rows, so the model (prefill, the dynamic path,
analysis) reads the very same memory and nothing is held twice.

Each loaded adapter's lora_A matrices of the group's members are stacked under the base rows (member by
member: all adapters' q ranks, then their k ranks, ...; a member's columns read only its own), so the same
product also computes every adapter's low-rank input h = x A^T (S-LoRA's stacked A, folded into the base
product): an adapter costs a decode step a few more rows to read, not another kernel. fused.py expands h
with lora_B, per row. The base-only step multiplies by the base rows alone (`weight(False)`), a row slice
of the same matrix. Packing again (when an adapter is loaded) moves the rows into a larger matrix.
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
        """(Re)build the packed matrix from the members' current weights and adapters."""
        bases = self._bases()
        w0 = bases[0].weight
        A, blocks = [], []  # stacked lora_A rows; (member, its row offset, lora) per stacked block
        offsets = [sum(self.sizes[:i]) for i in range(len(bases))]
        loras = []
        for i, name in enumerate(self.names):
            mod = getattr(self.parent, name)
            if isinstance(mod, MultiLoraLinear):
                loras += [(lo.number, i, lo) for lo in mod.loras.values()]
        for _, i, lo in sorted(loras, key=lambda t: (t[1], t[0])):  # member by member: a member's ranks adjoin
            A.append(lo.A)
            blocks.append((i, offsets[i], lo))
        R = sum(a.shape[0] for a in A)
        W = torch.empty(self.n + R, w0.shape[1], device=w0.device, dtype=w0.dtype)
        for lin, off, size in zip(bases, offsets, self.sizes):
            W[off : off + size].copy_(lin.weight)
        if A:
            W[self.n :].copy_(torch.cat(A))
        for lin, off, size in zip(bases, offsets, self.sizes):  # the model's weights become views: one copy
            lin.weight = nn.Parameter(W[off : off + size], requires_grad=False)
        self.W = W
        self._lora = self._expansion(blocks, R, W) if A else None

    def _expansion(self, blocks, R: int, W: torch.Tensor) -> Lora:
        Bt = W.new_zeros(R, self.n)
        owner = torch.empty(R, dtype=torch.long, device=W.device)
        M = None
        if any(lo.mag_norm_scale is not None for _, _, lo in blocks):
            top = max(lo.number for _, _, lo in blocks)
            M = W.new_ones(top + 1, self.n)
        col = 0
        for i, off, lo in blocks:
            r, size = lo.A.shape[0], self.sizes[i]
            Bt[col : col + r, off : off + size] = (lo.B * lo.scaling).T
            owner[col : col + r] = lo.number
            if lo.mag_norm_scale is not None:
                M[lo.number, off : off + size] = lo.mag_norm_scale
            col += r
        spans = []
        for i in range(len(self.names)):
            first = sum(lo.A.shape[0] for j, _, lo in blocks if j < i)
            spans.append((first, sum(lo.A.shape[0] for j, _, lo in blocks if j == i)))
        return Lora(Bt, owner, M, tuple(spans))

    def weight(self, lora: bool) -> torch.Tensor:
        """The matrix a step multiplies by: base rows only, or with the adapters' stacked lora_A rows."""
        return self.W if lora and self._lora is not None else self.W[: self.n]

    def lora(self, on: bool) -> Lora | None:
        return self._lora if on else None


class Packed:
    """Every layer's four groups: qkv, o, gate_up, down."""

    def __init__(self, layers: nn.ModuleList):
        self.layers = [
            tuple(Group(getattr(block, part), names) for part, names in GROUPS) for block in layers
        ]

    def pack(self) -> None:
        for groups in self.layers:
            for g in groups:
                g.pack()
