"""Variants: named views of one base model (docs/ARCHITECTURE.md), and the context manager that applies them per row.

A Variant is data: {name, adapter?, ffn_mask?: {layer, indices, mode}}. Names compose with "+". Since
act(0) = 0 for SiLU and GELU, zeroing rows of up/gate equals zeroing those intermediate dimensions, so an
FFN mask is a per-row multiply on the input of down_proj, installed as a hook only while a batch runs.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .adapters import NAME, Adapters
from .errors import ApiError
from .load import Loaded

MODES = ("zero", "retain")


@dataclass(frozen=True)
class FfnMask:
    layer: int
    indices: tuple[int, ...]
    mode: str  # "zero": drop these dims; "retain": keep only these dims

    def keep(self, d_ff: int) -> torch.Tensor:
        """[d_ff] of 1.0 (kept) and 0.0 (dropped)."""
        idx = torch.tensor(self.indices, dtype=torch.long)
        if self.mode == "zero":
            return torch.ones(d_ff).index_fill_(0, idx, 0.0)
        return torch.zeros(d_ff).index_fill_(0, idx, 1.0)

    def to_json(self) -> dict:
        return {"layer": self.layer, "indices": list(self.indices), "mode": self.mode}


@dataclass(frozen=True)
class Variant:
    name: str
    adapter: str | None = None
    ffn_mask: FfnMask | None = None
    description: str = ""

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "adapter": self.adapter,
            "ffn_mask": self.ffn_mask.to_json() if self.ffn_mask else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class Plan:
    """What one row runs: a resolved (possibly composed) variant."""

    name: str
    adapter: str | None
    masks: tuple[FfnMask, ...]


BASE = Plan("base", None, ())


class Registry:
    """Every variant of the loaded model, the built-ins computed from the massive analysis at load."""

    def __init__(self, loaded: Loaded, adapters: Adapters):
        self.loaded = loaded
        self.adapters = adapters
        self.variants: dict[str, Variant] = {"base": Variant("base", description="the model as loaded")}

    def add_builtins(self, layer: int | None, top: list[int], seed: int) -> None:
        if layer is None:
            return
        k, d_ff = len(top), self.loaded.ffn(layer).d_ff
        others = sorted(set(range(d_ff)) - set(top))
        rand = tuple(sorted(random.Random(seed).sample(others, k)))
        for v in (
            Variant(
                "massive-zero",
                None,
                FfnMask(layer, tuple(top), "zero"),
                f"top-{k} massive rows of layer {layer} zeroed",
            ),
            Variant(
                "massive-retain",
                None,
                FfnMask(layer, tuple(top), "retain"),
                f"every row of layer {layer}'s up/gate but the top-{k} zeroed",
            ),
            Variant(
                "random-zero",
                None,
                FfnMask(layer, rand, "zero"),
                f"{k} random non-massive rows of layer {layer} zeroed (control, seed {seed})",
            ),
        ):
            self.variants[v.name] = v

    def names(self) -> list[str]:
        return list(self.variants)

    def add(self, v: Variant) -> Variant:
        if not NAME.match(v.name) or v.name == "base":
            raise ApiError(
                422, f"variant name {v.name!r} must match {NAME.pattern} and not be 'base'", "name"
            )
        if v.name in self.variants:
            raise ApiError(422, f"variant {v.name!r} already exists", "name")
        if v.adapter is None and v.ffn_mask is None:
            raise ApiError(422, "a variant needs an adapter, an ffn_mask, or both")
        if v.adapter is not None and v.adapter not in self.adapters.meta:
            raise ApiError(404, f"unknown adapter {v.adapter!r}; loaded: {self.adapters.names()}", "adapter")
        if v.ffn_mask is not None:
            self.check_mask(v.ffn_mask)
        self.variants[v.name] = v
        return v

    def check_mask(self, m: FfnMask) -> None:
        n = len(self.loaded.layers)
        if not 0 <= m.layer < n:
            raise ApiError(422, f"ffn_mask.layer {m.layer} is outside 0..{n - 1}", "ffn_mask.layer")
        d_ff = self.loaded.ffn(m.layer).d_ff
        if (
            not m.indices
            or any(not 0 <= i < d_ff for i in m.indices)
            or len(set(m.indices)) != len(m.indices)
        ):
            raise ApiError(
                422, f"ffn_mask.indices must be distinct integers in 0..{d_ff - 1}", "ffn_mask.indices"
            )
        if m.mode not in MODES:
            raise ApiError(422, f"ffn_mask.mode must be one of {MODES}, got {m.mode!r}", "ffn_mask.mode")

    def resolve(self, name: str, param: str = "variant") -> Plan:
        """'a+b+c' -> one Plan: at most one adapter, masks multiplied."""
        if not isinstance(name, str) or not name:
            raise ApiError(400, "variant must be a non-empty string", param)
        adapter, masks = None, []
        for part in name.split("+"):
            v = self.variants.get(part)
            if v is None:
                raise ApiError(
                    404, f"unknown variant {part!r}; known: {self.names()} (compose with '+')", param
                )
            if v.adapter is not None:
                if adapter is not None and adapter != v.adapter:
                    raise ApiError(
                        422,
                        f"{name!r} composes two adapters ({adapter}, {v.adapter}); use at most one",
                        param,
                    )
                adapter = v.adapter
            if v.ffn_mask is not None:
                masks.append(v.ffn_mask)
        return Plan(name, adapter, tuple(masks))


@contextmanager
def apply_plans(loaded: Loaded, adapters: Adapters, plans: list[Plan]):
    """For one forward pass over a batch whose row b runs plans[b]: per-row adapters and FFN masks."""
    device = loaded.device
    keeps: dict[int, torch.Tensor] = {}  # layer -> [B, d_ff]
    for b, p in enumerate(plans):
        for m in p.masks:
            d_ff = loaded.ffn(m.layer).d_ff
            if m.layer not in keeps:
                keeps[m.layer] = torch.ones(len(plans), d_ff)
            keeps[m.layer][b] *= m.keep(d_ff)
    hooks = []
    for layer, keep in keeps.items():
        keep = keep.to(device, loaded.dtype)[:, None, :]  # [B, 1, d_ff]
        hooks.append(loaded.ffn(layer).down.register_forward_pre_hook(_masker(keep)))
    index = None
    if any(p.adapter is not None for p in plans):  # each row its own adapter, all in one stacked product
        index = torch.tensor([adapters.index_of(p.adapter) for p in plans], device=device)
    try:
        with adapters.active.indexed(index):
            yield
    finally:
        for h in hooks:
            h.remove()


def _masker(keep: torch.Tensor):
    def hook(_module, args):
        return (args[0] * keep,) + tuple(args[1:])

    return hook
