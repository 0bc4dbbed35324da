"""Held-out perplexity per variant (the attack table): each window of the text starts with BOS, as the
house model was trained.

    python -m runner evaluate --model DIR --text FILE [--variants base,massive-zero] [--context N]
"""

from __future__ import annotations

import math

import torch

from .engine import Engine
from .variants import Plan


def windows(ids: list[int], bos: int, context: int, max_windows: int | None) -> list[list[int]]:
    step = context - 1
    out = [[bos] + ids[i : i + step] for i in range(0, len(ids) - 1, step)]
    out = [w for w in out if len(w) > 1]
    return out[:max_windows] if max_windows else out


@torch.inference_mode()
def perplexity(engine: Engine, plan: Plan, wins: list[list[int]], batch: int = 8) -> dict:
    nll, n = 0.0, 0
    for i in range(0, len(wins), batch):
        chunk = wins[i : i + batch]
        for w, lp in zip(chunk, engine.logprobs_of(chunk, [plan] * len(chunk))):
            tgt = torch.tensor(w[1:], device=lp.device)
            nll -= float(lp.gather(1, tgt[:, None]).sum())
            n += len(w) - 1
    return {"variant": plan.name, "tokens": n, "nll": nll / n, "ppl": math.exp(nll / n)}


def table(rows: list[dict]) -> str:
    base = next((r["ppl"] for r in rows if r["variant"] == "base"), None)
    lines = ["| variant | tokens | mean NLL | perplexity | x base |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ppl'] / base:.3f}" if base else "-"
        lines.append(f"| {r['variant']} | {r['tokens']} | {r['nll']:.4f} | {r['ppl']:.2f} | {ratio} |")
    return "\n".join(lines)
