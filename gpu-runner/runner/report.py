"""Readable text for the analysis (what `python -m runner analyse` prints)."""

from __future__ import annotations


def _top(s: dict) -> str:
    return ", ".join(f"{d}:{v:.4g}" for d, v in s["top"])


def analysis_table(a: dict) -> str:
    lines = [f"model {a['model']}  (k={a['k']}, threshold {a['threshold']:g}x median)", "", "BOS alone:"]
    lines.append(
        f"{'layer':>5}  {'hidden max/median':>18}  {'hidden top-3 (dim:value)':<40}  {'inter max/median':>17}  inter top-3"
    )
    for row in a["bos"]["layers"]:
        h, f = row["hidden"], row["inter"]
        lines.append(
            f"{row['layer']:>5}  {h['ratio'] or 0:>18.1f}  {_top(h):<40}  {f['ratio'] or 0:>17.1f}  {_top(f)}"
        )
    lines.append("")
    if a["massive_layer"] is None:
        lines.append("massive layer: none found (no layer's intermediate state at BOS crosses the threshold)")
    else:
        tk = a["top_k"]
        pairs = ", ".join(f"{i} ({v:.4g})" for i, v in zip(tk["indices"], tk["values"]))
        lines.append(f"massive layer: {a['massive_layer']}   top-{a['k']} rows of up/gate: {pairs}")
    dims = (
        ", ".join(f"{d['dim']} ({d['value']:.4g} at layer {d['layer']})" for d in a["massive_dims"]) or "none"
    )
    lines.append(f"massive hidden dims: {dims}")
    p = a["prompt"]
    lines.append("")
    lines.append(f"prompt: {p['text']!r} ({len(p['tokens'])} tokens)")
    lines.append("attention on position 0, mean over heads and later queries, per layer:")
    lines.append("  " + "  ".join(f"L{row['layer']}:{row['attention_on_first']:.3f}" for row in p["layers"]))
    lines.append(f"rule: {a['rule']}")
    return "\n".join(lines)
