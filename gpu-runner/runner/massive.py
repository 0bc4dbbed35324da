"""Massive-activation analysis (DESIGN §1): per-layer magnitudes of the hidden state and of the FFN
intermediate state (the input of down_proj), the massive layer, its top-k massive weights, attention sinks.

Detection rule (stated once, tested in tests/test_massive.py):
  1. Feed BOS alone. For each layer l take h_l (the layer's output) and inter_l (down_proj's input) at
     position 0, and ratio(v) = max|v| / median|v|.
  2. Massive activations exist iff some layer has ratio(h_l) >= threshold (default 100). Let L* be the first.
  3. The massive layer is the first l <= L* whose intermediate state explodes: ratio(inter_l) >= threshold.
     If none (no outlier, or one not born in an FFN), the massive layer is null and no top-k is reported.
  4. Top-k massive weights: the k indices of largest |inter_l[0]|, i.e. rows of up_proj and gate_proj.
  5. Massive hidden dims: dims of h_{L*} at BOS with |value| >= threshold * median.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch

from .load import Loaded

DEFAULT_PROMPT = "Summer is warm. Winter is cold. The cat sat on the mat, and the dog slept by the door."


def stats(v: torch.Tensor, top: int = 3) -> dict:
    a = v.float().abs()
    med = a.median().item()
    vals, idx = a.topk(min(top, a.numel()))
    return {
        "top": [[int(i), round(float(v[i]), 4)] for i in idx.tolist()],
        "median": round(med, 6),
        "ratio": round(vals[0].item() / med, 2) if med > 0 else None,
    }


def _ratio(v: torch.Tensor) -> float:
    a = v.float().abs()
    med = a.median().item()
    return a.max().item() / med if med > 0 else float("inf") if a.max() > 0 else 0.0


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
def bos_profile(loaded: Loaded, bos_id: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """h_l[0] and inter_l[0] for every layer, with BOS alone as input."""
    ids = torch.tensor([[bos_id]], device=loaded.device)
    with capture(loaded) as (hidden, inter):
        loaded.model(input_ids=ids, use_cache=False)
    n = len(loaded.layers)
    return [hidden[i][0, 0] for i in range(n)], [inter[i][0, 0] for i in range(n)]


def detect(hidden: list[torch.Tensor], inter: list[torch.Tensor], k: int, threshold: float) -> dict:
    """Apply the rule above to BOS-alone profiles."""
    first_hidden = next((i for i, h in enumerate(hidden) if _ratio(h) >= threshold), None)
    out = {"massive_layer": None, "top_k": {"indices": [], "values": []}, "massive_dims": []}
    if first_hidden is None:
        return out
    h = hidden[first_hidden]
    med = h.float().abs().median().item()
    dims = (h.float().abs() >= threshold * med).nonzero().flatten().tolist()
    out["massive_dims"] = [{"dim": d, "value": round(float(h[d]), 4), "layer": first_hidden} for d in dims]
    layer = next((i for i in range(first_hidden + 1) if _ratio(inter[i]) >= threshold), None)
    if layer is None:
        return out
    vals, idx = inter[layer].float().abs().topk(k)
    out["massive_layer"] = layer
    out["top_k"] = {
        "indices": idx.tolist(),
        "values": [round(float(inter[layer][i]), 4) for i in idx.tolist()],
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
        positions = [
            {"pos": p, "hidden": stats(hidden[i][0, p]), "inter": stats(inter[i][0, p])}
            for p in range(len(ids))
        ]
        layers.append({"layer": i, "positions": positions, "attention_on_first": round(first, 4)})
    return layers


def rule_text(threshold: float) -> str:
    return (
        f"BOS alone; massive activations exist iff some layer's hidden state has max|h|/median|h| >= {threshold:g}; "
        f"the massive layer is the first layer at or before it whose FFN intermediate state (input of down_proj) "
        f"has max/median >= {threshold:g}; top-k = the k largest |intermediate| dims at BOS (rows of up/gate)."
    )


def analyse(loaded: Loaded, tokens, k: int, threshold: float, prompt: str | None = None, view=None) -> dict:
    """The full analysis as served by GET /v1/massive and printed by `python -m runner analyse`.
    `view` (a context manager applying one variant, e.g. massive-zero) analyses that variant instead."""
    with view if view is not None else nullcontext():
        return _analyse(loaded, tokens, k, threshold, prompt)


def _analyse(loaded: Loaded, tokens, k: int, threshold: float, prompt: str | None) -> dict:
    hidden, inter = bos_profile(loaded, tokens.bos_id)
    result = {"model": loaded.model_id, "k": k, "threshold": threshold}
    result["bos"] = {
        "layers": [
            {"layer": i, "hidden": stats(h), "inter": stats(f)} for i, (h, f) in enumerate(zip(hidden, inter))
        ]
    }
    result.update(detect(hidden, inter, k, threshold))
    text = DEFAULT_PROMPT if prompt is None else prompt
    ids = tokens.encode(text, add_bos=True)
    result["prompt"] = {
        "text": text,
        "tokens": [tokens.piece(i) for i in ids],
        "layers": prompt_profile(loaded, ids),
    }
    result["rule"] = rule_text(threshold)
    return result
