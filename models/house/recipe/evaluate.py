# Measures the shipped house model through Hugging Face transformers alone (independent of the training
# code): the BOS massive activation per layer, its source FFN, the top-k massive rows, the attention mass on
# BOS, and held-out perplexity for the variants base, massive-zero, massive-retain and random-zero.
# Run: python evaluate.py --model models/house --text models/house/heldout.txt [--window 1024] [--json out.json]
import argparse
import contextlib
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer


@contextlib.contextmanager
def ffn_mask(model, layer: int, mask: torch.Tensor | None):
    """Multiplies the input of mlp.down_proj (the intermediate state) of one layer by mask."""
    if mask is None:
        yield
        return
    hook = model.model.layers[layer].mlp.down_proj.register_forward_pre_hook(lambda m, a: (a[0] * mask,))
    try:
        yield
    finally:
        hook.remove()


@torch.no_grad()
def intermediates(model, ids: torch.Tensor) -> list[torch.Tensor]:
    got, hooks = [], []
    for layer in model.model.layers:
        hooks.append(layer.mlp.down_proj.register_forward_pre_hook(lambda m, a: got.append(a[0].float())))
    try:
        model(ids)
    finally:
        for h in hooks:
            h.remove()
    return got


@torch.no_grad()
def analyse(model, ids: torch.Tensor, k: int, seed: int) -> dict:
    bos = torch.tensor([[model.config.bos_token_id]])
    inter_bos = intermediates(model, bos)  # L x (1, 1, d_ff)
    out = model(ids, output_hidden_states=True, output_attentions=True)
    hid = torch.stack(out.hidden_states[1:]).float()  # L, 1, T, D
    med = hid.abs().flatten(1).median(dim=1).values
    ratio = (hid[:, 0, 0].abs().amax(-1) / med).tolist()
    dim = int(hid[-2, 0, 0].abs().argmax())
    writes = [float(hid[0, 0, 0, dim] - 0)] + [
        float(hid[i, 0, 0, dim] - hid[i - 1, 0, 0, dim]) for i in range(1, len(hid))
    ]
    # the source: the first layer whose intermediate state at BOS explodes (top |value| >= 100x its median)
    peaks = [float(x[0, 0].abs().max() / x[0, 0].abs().median()) for x in inter_bos]
    src = next((i for i, p in enumerate(peaks) if p >= 100), None)
    sink = [float(a[0, :, 8:, 0].mean()) for a in out.attentions]
    L = len(sink)
    mid = list(range(L // 4, L - L // 4))
    res = {
        "massive_dim": dim,
        "bos_value": float(hid[-2, 0, 0, dim]),
        "hidden_median": float(med[-2]),
        "ratio_per_layer": [round(r, 1) for r in ratio],
        "layer_write_to_massive_dim": [round(w, 2) for w in writes],
        "inter_peak_over_median_per_layer": [round(p, 1) for p in peaks],
        "massive_layer": src,
        "sink_per_layer": [round(s, 3) for s in sink],
        "sink_middle_layers": mid,
        "sink_middle": round(sum(sink[i] for i in mid) / len(mid), 3),
    }
    if src is not None:
        inter = inter_bos[src][0, 0]
        top = inter.abs().topk(k).indices
        rest = torch.tensor([i for i in range(inter.numel()) if i not in set(top.tolist())])
        rand = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed))[:k]]
        res |= {"topk_rows": top.tolist(), "topk_values": [round(float(inter[i]), 2) for i in top]}
        res |= {"random_rows": rand.tolist(), "inter_median": float(inter.abs().median())}
    return res


@torch.no_grad()
def perplexity(model, windows: list[torch.Tensor]) -> float:
    nll, n = 0.0, 0
    for w in windows:
        logits = model(w[None, :-1]).logits.float()
        nll += F.cross_entropy(logits[0], w[1:], reduction="sum").item()
        n += w.numel() - 1
    return math.exp(nll / n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("models/house"))
    ap.add_argument("--text", type=Path, default=Path("models/house/heldout.txt"))
    ap.add_argument("--window", type=int, default=1024, help="tokens per window, BOS included")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    ids = tok(args.text.read_text(), add_special_tokens=False)["input_ids"]
    W = args.window - 1
    windows = [torch.tensor([tok.bos_token_id] + ids[i : i + W]) for i in range(0, len(ids) - W + 1, W)]
    res = {"model": str(args.model), "text": str(args.text), "window": args.window, "windows": len(windows)}
    res |= analyse(model, windows[0][None], args.k, args.seed)
    src = res["massive_layer"]
    d_ff = model.config.intermediate_size
    masks = {"base": None}
    if src is not None:
        zero = torch.ones(d_ff)
        zero[res["topk_rows"]] = 0
        retain = 1 - zero
        rnd = torch.ones(d_ff)
        rnd[res["random_rows"]] = 0
        masks |= {"massive-zero": zero, "massive-retain": retain, "random-zero": rnd}
    ppl = {}
    for name, m in masks.items():
        with ffn_mask(model, src, m):
            ppl[name] = perplexity(model, windows)
        print(f"{name:15s} ppl {ppl[name]:9.3f}  x{ppl[name] / ppl['base']:.3f}", flush=True)
    res["perplexity"] = ppl
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
