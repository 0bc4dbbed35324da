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
        offsets = [sum(self.sizes[:i]) for i in range(len(bases))]
        W = torch.empty(self.n, w0.shape[1], device=w0.device, dtype=w0.dtype)
        for lin, off, size in zip(bases, offsets, self.sizes):
            W[off : off + size].copy_(lin.weight)
        for lin, off, size in zip(bases, offsets, self.sizes):  # the model's weights become views: one copy
            lin.weight = nn.Parameter(W[off : off + size], requires_grad=False)
        self.W = W
        self.stack()

    def stack(self) -> None:
        """(Re)build the stacks of the members' adapters (after an adapter is loaded)."""
        offsets = [sum(self.sizes[:i]) for i in range(len(self.names))]
        loras = []  # (adapter number, member, its row offset, lora)
        for i, name in enumerate(self.names):
            mod = getattr(self.parent, name)
            if isinstance(mod, MultiLoraLinear):
                loras += [(lo.number, i, offsets[i], lo) for lo in mod.loras.values()]
        self._lora = self._stack(sorted(loras, key=lambda t: t[:2])) if loras else None

    def _stack(self, blocks) -> Lora:
        A = torch.cat([lo.A for *_, lo in blocks])
        R = A.shape[0]
        Bt = A.new_zeros(R, self.n)
        owner = torch.empty(R, dtype=torch.long, device=A.device)
        M = None
        if any(lo.mag_norm_scale is not None for *_, lo in blocks):
            M = A.new_ones(max(number for number, *_ in blocks) + 1, self.n)
        row = 0
        for number, i, off, lo in blocks:
            r, size = lo.A.shape[0], self.sizes[i]
            Bt[row : row + r, off : off + size] = (lo.B * lo.scaling).T
            owner[row : row + r] = number
            if lo.mag_norm_scale is not None:
                M[number, off : off + size] = lo.mag_norm_scale
            row += r
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
