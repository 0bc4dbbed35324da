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


@contextlib.contextmanager
def capture_intermediates(model):
    """Collects each layer's intermediate state (the input of mlp.down_proj) during a forward: B, T, d_ff."""
    got, hooks = {}, []
    for i, layer in enumerate(model.model.layers):
        hooks.append(
            layer.mlp.down_proj.register_forward_pre_hook(lambda m, a, i=i: got.__setitem__(i, a[0].float()))
        )
    try:
        yield got
    finally:
        for h in hooks:
            h.remove()


@torch.no_grad()
def analyse(model, ids: torch.Tensor, k: int, seed: int, threshold: float = 100.0) -> dict:
    """The paper's rule, as the runner states it: ratio = |value at BOS| / median |value| over every position
    and dim of the text; L* = first layer whose hidden ratio >= threshold; the massive layer = the layer
    l <= L* whose intermediate state at BOS explodes most, among those with ratio >= threshold."""
    with capture_intermediates(model) as inter:
        out = model(ids, output_hidden_states=True, output_attentions=True)
    hid = torch.stack(out.hidden_states[1:]).float()  # L, B, T, D
    L = len(hid)
    h_ratio = [float(hid[i, 0, 0].abs().max() / hid[i].abs().median()) for i in range(L)]
    i_ratio = [float(inter[i][0, 0].abs().max() / inter[i].abs().median()) for i in range(L)]
    first = next((i for i, r in enumerate(h_ratio) if r >= threshold), None)
    cands = [i for i in range(first + 1) if i_ratio[i] >= threshold] if first is not None else []
    src = max(cands, key=lambda i: i_ratio[i]) if cands else None
    dim = int(hid[-2, 0, 0].abs().argmax())
    writes = [float(hid[0, 0, 0, dim])] + [
        float(hid[i, 0, 0, dim] - hid[i - 1, 0, 0, dim]) for i in range(1, L)
    ]
    sink = [float(a[:, :, 8:, 0].mean()) for a in out.attentions]  # mean over windows, heads, queries >= 8
    mid = list(range(L // 4, L - L // 4))
    bins = [(8, 32), (32, 128), (128, 512), (512, ids.shape[1])]
    by_pos = {
        f"{a}-{b}": round(sum(float(out.attentions[i][:, :, a:b, 0].mean()) for i in mid) / len(mid), 3)
        for a, b in bins
    }
    res = {
        "massive_dim": dim,
        "bos_value": float(hid[-2, 0, 0, dim]),
        "hidden_median": float(hid[-2].abs().median()),
        "hidden_ratio_per_layer": [round(r, 1) for r in h_ratio],
        "inter_ratio_per_layer": [round(r, 1) for r in i_ratio],
        "layer_write_to_massive_dim": [round(w, 2) for w in writes],
        "first_massive_hidden_layer": first,
        "massive_layer": src,
        "sink_per_layer": [round(s, 3) for s in sink],
        "sink_middle_layers": mid,
        "sink_middle": round(sum(sink[i] for i in mid) / len(mid), 3),
        "sink_middle_by_query_position": by_pos,
    }
    if src is not None:
        v = inter[src][0, 0]
        top = v.abs().topk(k).indices
        rest = torch.tensor([i for i in range(v.numel()) if i not in set(top.tolist())])
        rand = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed))[:k]]
        res |= {"topk_rows": top.tolist(), "topk_values": [round(float(v[i]), 2) for i in top]}
        res |= {"random_rows": rand.tolist()}
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
    ap.add_argument("--analysis-windows", type=int, default=4, help="windows for the ratio and sink figures")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(args.model)
    # eager attention only for the analysis, which needs the attention weights; SDPA for perplexity
    eager = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    ids = tok(args.text.read_text(), add_special_tokens=False)["input_ids"]
    W = args.window - 1
    windows = [torch.tensor([tok.bos_token_id] + ids[i : i + W]) for i in range(0, len(ids) - W + 1, W)]
    res = {"model": str(args.model), "text": str(args.text), "window": args.window, "windows": len(windows)}
    res |= analyse(eager.eval(), torch.stack(windows[: args.analysis_windows]), args.k, args.seed)
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
    ppl, bos_value = {}, {}
    bos = torch.tensor([[tok.bos_token_id]])
    for name, m in masks.items():
        with ffn_mask(model, src, m), torch.no_grad():
            ppl[name] = perplexity(model, windows)
            bos_value[name] = float(
                model(bos, output_hidden_states=True).hidden_states[-2][0, 0, res["massive_dim"]]
            )
        print(
            f"{name:15s} ppl {ppl[name]:9.3f}  x{ppl[name] / ppl['base']:.3f}  BOS value {bos_value[name]:.1f}"
        )
    res["perplexity"], res["bos_value_of_massive_dim"] = ppl, bos_value
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
