"""Massive-activation analysis (docs/ARCHITECTURE.md, "What it serves"): per-layer magnitudes of the hidden state and of the FFN
intermediate state (the input of down_proj), the massive layer, its top-k massive weights, attention sinks.

Detection rule (stated here once; `detect` is the one implementation, used by serving, export, training,
the sweep and the house model's recipe; tested in tests/test_massive.py and tests/test_detection_fixtures.py):
  1. Run a reference text that starts with BOS. Position 0 of a causal model sees only BOS, so it is
     exactly "BOS alone". For each layer l record at BOS: h_l (the layer's output, [D]), inter_l (down_proj's
     input, [F]) and write_l (what the FFN adds to the residual stream, [D]: down_proj's output, after the
     post-feed-forward norm where the family has one). ratio = |value| / median|value|, the median taken
     over every position and dimension of that layer's state (Sun et al.'s reference).
  2. Massive dimensions: hidden dims whose peak ratio over layers is >= threshold (default 100), largest
     peak first. None -> no massive activation, massive layer null.
  3. The massive layer is where the massive value is CREATED: for the massive dims in order, the first layer
     l <= the dim's peak layer whose FFN writes at least `share` (default 0.05) of the peak value onto it, with
     the peak's sign. The first dim that has such a layer decides. No such layer (an outlier that an
     embedding or attention makes, or none at all) -> null: no layer is invented.
     This is what "first layer over a threshold" gets wrong when BOS starts out large (a big BOS embedding,
     Gemma's scaled embeddings), and what "largest intermediate ratio" gets wrong on Gemma 3 270M, whose
     layer 0 holds the largest ratio but writes another, smaller outlier.
  4. Top-k massive weights: the k indices of largest |inter_l| at BOS in that layer, i.e. rows of up_proj and
     gate_proj (both halves of a fused gate_up_proj).
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
    write: list[torch.Tensor] | None = None  # the FFN's write into the residual stream at BOS, [D] each


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


@contextmanager
def capture(loaded: Loaded, write: dict | None = None):
    """Record each layer's output hidden state and its FFN intermediate state: [B, T, D] and [B, T, F]; with
    `write`, also what each FFN adds to the residual stream, [B, T, D] (after a post-FFN norm if any)."""
    hidden: dict[int, torch.Tensor] = {}
    inter: dict[int, torch.Tensor] = {}
    hooks = []
    for i, layer in enumerate(loaded.layers):
        hooks.append(layer.register_forward_hook(_save(hidden, i, output=True)))
        hooks.append(loaded.ffn(i).down.register_forward_pre_hook(_save(inter, i, output=False)))
        if write is not None:
            post = getattr(layer, "post_feedforward_layernorm", None)  # Gemma 2/3: norm after the FFN
            hooks.append((post or layer.mlp).register_forward_hook(_save(write, i, output=True)))
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


def bos_profile(loaded: Loaded, tokens, text: str = DEFAULT_PROMPT) -> Profile:
    return profile_ids(loaded, tokens.encode(text, add_bos=True))


@torch.no_grad()
def profile_ids(loaded: Loaded, ids: list[int]) -> Profile:
    """The profile of one reference sequence of token ids that starts with BOS."""
    ids = torch.tensor([ids], device=loaded.device)  # [1, T]
    write: dict[int, torch.Tensor] = {}
    with capture(loaded, write) as (hidden, inter):
        loaded.model(input_ids=ids, use_cache=False)
    n = range(len(loaded.layers))
    return Profile(
        hidden=[hidden[i][0, 0] for i in n],
        inter=[inter[i][0, 0] for i in n],
        hidden_median=[hidden[i][0].float().abs().median().item() for i in n],
        inter_median=[inter[i][0].float().abs().median().item() for i in n],
        write=[write[i][0, 0] for i in n],
    )


SHARE = 0.05  # an FFN creates a massive dim when it writes at least this share of the dim's peak onto it


def detect(p: Profile, k: int, threshold: float, share: float = SHARE) -> dict:
    """Apply the rule above: the massive dims, the layer whose FFN creates the largest one, its top-k rows."""
    out = {"massive_layer": None, "top_k": {"indices": [], "values": []}, "massive_dims": []}
    H = torch.stack([h.float() for h in p.hidden])  # [L, D]
    med = torch.tensor(p.hidden_median, dtype=torch.float32, device=H.device)[:, None]  # [L, 1]
    ratio = torch.where(med > 0, H.abs() / med.clamp_min(1e-30), torch.zeros_like(H))  # [L, D]
    peak_ratio, _ = ratio.max(dim=0)  # [D]
    dims = [d for d in peak_ratio.argsort(descending=True).tolist() if peak_ratio[d] >= threshold]
    writes = torch.stack([w.float() for w in p.write]) if p.write else None  # [L, D]
    for d in dims:
        peak_layer = int(H[:, d].abs().argmax())
        peak = float(H[peak_layer, d])
        created = None
        if writes is not None:
            signed = writes[: peak_layer + 1, d] * (1.0 if peak >= 0 else -1.0)  # [peak_layer + 1]
            over = (signed >= share * abs(peak)).nonzero().flatten().tolist()
            created = over[0] if over else None
        out["massive_dims"].append(
            {
                "dim": d,
                "value": round(peak, 4),
                "layer": peak_layer,
                "ratio": round(float(peak_ratio[d]), 2),
                "created_by": created,
            }
        )
        if out["massive_layer"] is None and created is not None:
            out["massive_layer"] = created
    layer = out["massive_layer"]
    if layer is not None:
        _, idx = p.inter[layer].float().abs().topk(min(k, p.inter[layer].numel()))
        out["top_k"] = {
            "indices": idx.tolist(),
            "values": [round(float(p.inter[layer][i]), 4) for i in idx.tolist()],
        }
    return out


def locate(loaded: Loaded, tokens, k: int, threshold: float = 100.0, share: float = SHARE) -> dict:
    """Profile the model at BOS and apply the rule: what serving, training and the sweep call."""
    return detect(bos_profile(loaded, tokens), k, threshold, share)


@contextmanager
def eager(model):
    """Eager attention for the duration: the only implementation that returns attention weights."""
    prev = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield model
    finally:
        model.set_attn_implementation(prev)


def on_first(att: torch.Tensor, from_pos: int = 1) -> float:
    """Mean weight that queries from_pos.. put on key 0, over batch and heads: att is [B, H, T, T]."""
    return att[:, :, from_pos:, 0].float().mean().item() if att.shape[-1] > from_pos else 1.0


@torch.no_grad()
def attention_on_first(loaded: Loaded, ids: torch.Tensor, from_pos: int = 1) -> list[float]:
    """Per layer, the attention mass on position 0 (the sink) from queries from_pos..; ids is [B, T]."""
    with eager(loaded.model) as model:
        out = model(input_ids=ids.to(loaded.device), use_cache=False, output_attentions=True)
    return [on_first(a, from_pos) for a in out.attentions]


@torch.no_grad()
def prompt_profile(loaded: Loaded, ids: list[int]) -> list[dict]:
    """Per layer: stats at every position, and the attention mass that queries 1.. put on position 0."""
    x = torch.tensor([ids], device=loaded.device)
    with eager(loaded.model) as model, capture(loaded) as (hidden, inter):
        out = model(input_ids=x, use_cache=False, output_attentions=True)
    layers = []
    for i in range(len(loaded.layers)):
        first = on_first(out.attentions[i])
        h_med = hidden[i][0].float().abs().median().item()  # reference: the whole prompt at this layer
        f_med = inter[i][0].float().abs().median().item()
        positions = [
            {"pos": p, "hidden": stats(hidden[i][0, p], h_med), "inter": stats(inter[i][0, p], f_med)}
            for p in range(len(ids))
        ]
        layers.append({"layer": i, "positions": positions, "attention_on_first": round(first, 4)})
    return layers


def rule_text(threshold: float, share: float = SHARE) -> str:
    return (
        f"BOS at position 0 of a reference text; ratio = |value at BOS| / median|value over all positions| per "
        f"layer; massive dims = hidden dims whose peak ratio over layers >= {threshold:g}, largest first; the "
        f"massive layer is where the largest one is created: the first layer whose FFN writes >= {share:g} of the "
        f"dim's peak onto it (after a post-FFN norm if any), else null; top-k = that layer's k largest "
        f"|intermediate| dims at BOS (rows of up/gate)."
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
                "ffn_write": stats(p.write[i], p.hidden_median[i]),
            }
            for i in range(len(p.hidden))
        ],
    }
    result.update(detect(p, k, threshold))
    for row in result["bos"]["layers"]:  # what each FFN writes onto each massive dim at BOS
        i = row["layer"]
        row["ffn_write_dims"] = {
            str(d["dim"]): round(float(p.write[i][d["dim"]]), 4) for d in result["massive_dims"]
        }
    text = DEFAULT_PROMPT if prompt is None else prompt
    ids = tokens.encode(text, add_bos=True)
    result["prompt"] = {
        "text": text,
        "tokens": [tokens.piece(i) for i in ids],
        "layers": prompt_profile(loaded, ids),
    }
    result["rule"] = rule_text(threshold)
    return result
