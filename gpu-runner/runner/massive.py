"""Massive-activation analysis (DESIGN §1): per-layer magnitudes of the hidden state and of the FFN
intermediate state (the input of down_proj), the massive layer, its top-k massive weights, attention sinks.

Detection rule (stated once, tested in tests/test_massive.py):
  1. Run a reference text that starts with BOS. Position 0 of a causal model sees only BOS, so it is
     exactly "BOS alone". For each layer l take h_l[0] (the layer's output) and inter_l[0] (down_proj's
     input), and ratio(v) = max|v[0]| / median|v| where the median runs over every position and dimension
     of that layer's state (the reference magnitude of Sun et al.; a BOS-only median would be inflated by
     the BOS row itself).
  2. Massive activations exist iff some layer has ratio(h_l) >= threshold (default 100). Let L* be the first.
  3. The massive layer is the layer l <= L* whose intermediate state at BOS explodes most, among those with
     ratio(inter_l) >= threshold. If none (no outlier, or one not born in an FFN), it is null: no top-k.
  4. Top-k massive weights: the k indices of largest |inter_l[0]|, i.e. rows of up_proj and gate_proj.
  5. Massive hidden dims: dims of h_{L*}[0] with |value| >= threshold * median.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch

from .load import Loaded

DEFAULT_PROMPT = "Summer is warm. Winter is cold. The cat sat on the mat, and the dog slept by the door."


@dataclass
class Profile:
    """BOS rows and reference medians per layer, from one forward pass of a BOS-prefixed text."""

    hidden: list[torch.Tensor]  # h_l[0], [D] each
    inter: list[torch.Tensor]  # inter_l[0], [F] each
    hidden_median: list[float]  # median |h_l| over all positions and dims
    inter_median: list[float]


def stats(v: torch.Tensor, median: float | None = None, top: int = 3) -> dict:
    """Top-3 (dim, value) by |value|, the reference median (default: v's own), and max|v| / median."""
    a = v.float().abs()
    med = a.median().item() if median is None else median
    vals, idx = a.topk(min(top, a.numel()))
    return {
        "top": [[int(i), round(float(v[i]), 4)] for i in idx.tolist()],
        "median": round(med, 6),
        "ratio": round(vals[0].item() / med, 2) if med > 0 else None,
    }


def _ratio(v: torch.Tensor, median: float) -> float:
    peak = v.float().abs().max().item()
    return peak / median if median > 0 else (float("inf") if peak > 0 else 0.0)


@contextmanager
def capture(loaded: Loaded):
    """Record each layer's output hidden state and its FFN intermediate state: [B, T, D] and [B, T, F]."""
    hidden: dict[int, torch.Tensor] = {}
    inter: dict[int, torch.Tensor] = {}
    hooks = []
    for i, layer in enumerate(loaded.layers):
        hooks.append(layer.register_forward_hook(_save(hidden, i, output=True)))
        hooks.append(loaded.ffn(i).down.register_forward_pre_hook(_save(inter, i, output=False)))
    try:
        yield hidden, inter
    finally:
        for h in hooks:
            h.remove()


def _save(store, i, output):
    if output:

        def hook(_m, _args, out):
            store[i] = (out[0] if isinstance(out, tuple) else out).detach()

    else:

        def hook(_m, args):
            store[i] = args[0].detach()

    return hook


@torch.no_grad()
def bos_profile(loaded: Loaded, tokens, text: str = DEFAULT_PROMPT) -> Profile:
    ids = torch.tensor([tokens.encode(text, add_bos=True)], device=loaded.device)
    with capture(loaded) as (hidden, inter):
        loaded.model(input_ids=ids, use_cache=False)
    n = range(len(loaded.layers))
    return Profile(
        hidden=[hidden[i][0, 0] for i in n],
        inter=[inter[i][0, 0] for i in n],
        hidden_median=[hidden[i][0].float().abs().median().item() for i in n],
        inter_median=[inter[i][0].float().abs().median().item() for i in n],
    )


def detect(p: Profile, k: int, threshold: float) -> dict:
    """Apply the rule above."""
    out = {"massive_layer": None, "top_k": {"indices": [], "values": []}, "massive_dims": []}
    h_ratio = [_ratio(h, m) for h, m in zip(p.hidden, p.hidden_median)]
    first = next((i for i, r in enumerate(h_ratio) if r >= threshold), None)
    if first is None:
        return out
    h, med = p.hidden[first], p.hidden_median[first]
    dims = (h.float().abs() >= threshold * med).nonzero().flatten().tolist()
    out["massive_dims"] = [{"dim": d, "value": round(float(h[d]), 4), "layer": first} for d in dims]
    f_ratio = {i: _ratio(p.inter[i], p.inter_median[i]) for i in range(first + 1)}
    exploding = [i for i, r in f_ratio.items() if r >= threshold]
    if not exploding:
        return out
    layer = max(exploding, key=f_ratio.get)
    vals, idx = p.inter[layer].float().abs().topk(k)
    out["massive_layer"] = layer
    out["top_k"] = {
        "indices": idx.tolist(),
        "values": [round(float(p.inter[layer][i]), 4) for i in idx.tolist()],
    }
    return out


@torch.no_grad()
def prompt_profile(loaded: Loaded, ids: list[int]) -> list[dict]:
    """Per layer: stats at every position, and the attention mass that queries 1.. put on position 0."""
    model = loaded.model
    prev = model.config._attn_implementation
    model.set_attn_implementation("eager")  # the only implementation that returns attention weights
    try:
        x = torch.tensor([ids], device=loaded.device)
        with capture(loaded) as (hidden, inter):
            out = model(input_ids=x, use_cache=False, output_attentions=True)
    finally:
        model.set_attn_implementation(prev)
    layers = []
    for i in range(len(loaded.layers)):
        att = out.attentions[i][0]  # [H, T, T]
        first = att[:, 1:, 0].float().mean().item() if att.shape[-1] > 1 else 1.0
        h_med = hidden[i][0].float().abs().median().item()  # reference: the whole prompt at this layer
        f_med = inter[i][0].float().abs().median().item()
        positions = [
            {"pos": p, "hidden": stats(hidden[i][0, p], h_med), "inter": stats(inter[i][0, p], f_med)}
            for p in range(len(ids))
        ]
        layers.append({"layer": i, "positions": positions, "attention_on_first": round(first, 4)})
    return layers


def rule_text(threshold: float) -> str:
    return (
        f"BOS at position 0 of a reference text; ratio = max|value at BOS| / median|value over all positions|; "
        f"massive activations exist iff some layer's hidden state has ratio >= {threshold:g} (first such layer L*); "
        f"the massive layer is the layer <= L* whose FFN intermediate state (input of down_proj) has the largest "
        f"ratio >= {threshold:g}; top-k = its k largest |intermediate| dims at BOS (rows of up/gate)."
    )


def analyse(loaded: Loaded, tokens, k: int, threshold: float, prompt: str | None = None, view=None) -> dict:
    """The full analysis as served by GET /v1/massive and printed by `python -m runner analyse`.
    `view` (a context manager applying one variant, e.g. massive-zero) analyses that variant instead."""
    with view if view is not None else nullcontext():
        return _analyse(loaded, tokens, k, threshold, prompt)


def _analyse(loaded: Loaded, tokens, k: int, threshold: float, prompt: str | None) -> dict:
    p = bos_profile(loaded, tokens)
    result = {"model": loaded.model_id, "k": k, "threshold": threshold}
    result["bos"] = {
        "reference": DEFAULT_PROMPT,
        "layers": [
            {
                "layer": i,
                "hidden": stats(p.hidden[i], p.hidden_median[i]),
                "inter": stats(p.inter[i], p.inter_median[i]),
            }
            for i in range(len(p.hidden))
        ],
    }
    result.update(detect(p, k, threshold))
    text = DEFAULT_PROMPT if prompt is None else prompt
    ids = tokens.encode(text, add_bos=True)
    result["prompt"] = {
        "text": text,
        "tokens": [tokens.piece(i) for i in ids],
        "layers": prompt_profile(loaded, ids),
    }
    result["rule"] = rule_text(threshold)
    return result
