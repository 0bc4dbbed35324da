"""Readable text for the analysis (what `python -m runner analyse` prints)."""

from __future__ import annotations


def _top(s: dict) -> str:
    return ", ".join(f"{d}:{v:.4g}" for d, v in s["top"])


def analysis_table(a: dict) -> str:
    lines = [f"model {a['model']}  (k={a['k']}, threshold {a['threshold']:g}x median)", "", "BOS alone:"]
    dim = a["massive_dims"][0]["dim"] if a["massive_dims"] else None
    write_head = f"FFN write to dim {dim}" if dim is not None else ""
    lines.append(
        f"{'layer':>5}  {'hidden max/median':>18}  {'hidden top-3 (dim:value)':<40}  {'inter max/median':>17}  "
        f"{'inter top-3':<40}  {write_head}"
    )
    for row in a["bos"]["layers"]:
        h, f = row["hidden"], row["inter"]
        w = row.get("ffn_write_dims", {}).get(str(dim), "") if dim is not None else ""
        lines.append(
            f"{row['layer']:>5}  {h['ratio'] or 0:>18.1f}  {_top(h):<40}  {f['ratio'] or 0:>17.1f}  "
            f"{_top(f):<40}  {w if w == '' else f'{w:.4g}'}"
        )
    lines.append("")
    if a["massive_layer"] is None:
        lines.append("massive layer: none found (no massive dim is created by an FFN)")
    else:
        tk = a["top_k"]
        pairs = ", ".join(f"{i} ({v:.4g})" for i, v in zip(tk["indices"], tk["values"]))
        lines.append(f"massive layer: {a['massive_layer']}   top-{a['k']} rows of up/gate: {pairs}")
    dims = (
        ", ".join(
            f"{d['dim']} (peak {d['value']:.4g} at layer {d['layer']}, "
            + (
                "created by no FFN)"
                if d["created_by"] is None
                else f"created by layer {d['created_by']}'s FFN)"
            )
            for d in a["massive_dims"]
        )
        or "none"
    )
    lines.append(f"massive hidden dims: {dims}")
    p = a["prompt"]
    lines.append("")
    lines.append(f"prompt: {p['text']!r} ({len(p['tokens'])} tokens)")
    lines.append("attention on position 0, mean over heads and later queries, per layer:")
    lines.append("  " + "  ".join(f"L{row['layer']}:{row['attention_on_first']:.3f}" for row in p["layers"]))
    lines.append(f"rule: {a['rule']}")
    return "\n".join(lines)
