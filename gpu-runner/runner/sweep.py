"""The science table: perplexity and the attention sink when the massive layer's rows are zeroed, retained
or randomly zeroed, over k (the paper's Table 1 and its k ablation, on any model the runner loads).

    python -m runner sweep --model DIR_OR_NAME --text FILE [--ks 1,2,5,10,20,50] [--context 256]
                           [--max-tokens 2048] --out DIR

Writes sweep.json, sweep.md, sweep.png and sweep.svg into --out. Modes: `zero` (top-k rows zeroed, the
paper's attack), `retain` (every other row of that layer's up/gate zeroed), `random` (k random rows outside
the top max(ks), seeded: the control). The rows are the runner's detection (massive.locate), never re-derived.
"""

from __future__ import annotations

import json
import os
import random
import time

import torch

from . import massive
from .evaluate import perplexity, windows
from .variants import BASE, FfnMask, Plan, apply_plans

MODES = ("zero", "retain", "random")


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="perplexity and attention sink over k for zero/retain/random rows")
    p.add_argument("--model", help="model folder, .gguf file or named model (default: the project's)")
    p.add_argument("--device")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--text", required=True, help="UTF-8 text file to measure perplexity on")
    p.add_argument("--ks", default="1,2,5,10,20,50")
    p.add_argument("--context", type=int, default=256, help="tokens per window (BOS first)")
    p.add_argument("--max-tokens", type=int, default=2048, help="tokens of the text to use")
    p.add_argument("--sink-tokens", type=int, default=128, help="tokens of the window the sink is read on")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-row control")
    p.add_argument("--out", required=True, help="folder for sweep.json/.md/.png/.svg")
    p.set_defaults(run=cmd_sweep)


def plans_for(
    layer: int, ranked: list[int], d_ff: int, ks: list[int], seed: int
) -> list[tuple[str, int, Plan]]:
    """(mode, k, plan) for every mode and k; `ranked` is the layer's rows by |BOS intermediate|, largest first."""
    pool = sorted(set(range(d_ff)) - set(ranked[: max(ks)]))
    rng = random.Random(seed)
    out = []
    for k in ks:
        rows = {"zero": ranked[:k], "retain": ranked[:k], "random": sorted(rng.sample(pool, k))}
        for mode in MODES:
            m = FfnMask(layer, tuple(rows[mode]), "retain" if mode == "retain" else "zero")
            out.append((mode, k, Plan(f"{mode}-{k}", None, (m,))))
    return out


def sink(runner, plan: Plan, ids: list[int]) -> float:
    """Mean attention weight that queries 1.. put on position 0, over layers and heads."""
    with apply_plans(runner.loaded, runner.adapters, [plan]):
        per_layer = massive.attention_on_first(runner.loaded, torch.tensor([ids]))
    return sum(per_layer) / len(per_layer)


def run(
    runner, text: str, ks: list[int], context: int, max_tokens: int, sink_tokens: int, seed: int, log=print
):
    det = runner.detection
    layer = det["massive_layer"]
    if layer is None:
        raise ValueError("the detection found no massive layer in this model; there is nothing to sweep")

    ranked = det["top_k"]["indices"]  # the runner was started with k = max(ks): its detection ranks them
    if len(ranked) < max(ks):
        raise ValueError(f"the runner ranked {len(ranked)} rows; start it with k >= {max(ks)}")
    ids = runner.tokens.encode(text, add_bos=False)[:max_tokens]
    wins = windows(ids, runner.tokens.bos_id, context, None)
    probe = wins[0][:sink_tokens]
    rows, t0 = [], time.perf_counter()
    base = perplexity(runner.engine, BASE, wins)
    rows.append(
        {"mode": "base", "k": 0, "ppl": base["ppl"], "nll": base["nll"], "sink": sink(runner, BASE, probe)}
    )
    d_ff = runner.loaded.ffn(layer).d_ff
    for mode, k, plan in plans_for(layer, ranked, d_ff, ks, seed):
        r = perplexity(runner.engine, plan, wins)
        rows.append(
            {"mode": mode, "k": k, "ppl": r["ppl"], "nll": r["nll"], "sink": sink(runner, plan, probe)}
        )
        log(
            f"sweep: {mode:6s} k={k:<3d} ppl {r['ppl']:10.2f} (base {base['ppl']:.2f})  sink {rows[-1]['sink']:.3f}"
        )
    return {
        "model": runner.loaded.model_id,
        "architecture": runner.loaded.architecture,
        "massive_layer": layer,
        "rows_ranked": ranked,
        "massive_dims": det["massive_dims"][:3],
        "tokens": base["tokens"],
        "windows": len(wins),
        "context": context,
        "sink_tokens": len(probe),
        "seed": seed,
        "results": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def markdown(res: dict) -> str:
    base = next(r for r in res["results"] if r["mode"] == "base")
    ks = sorted({r["k"] for r in res["results"] if r["k"]})
    at = {(r["mode"], r["k"]): r for r in res["results"]}
    lines = [
        f"Model `{res['model']}` ({res['architecture']}): massive layer {res['massive_layer']}, "
        f"{res['tokens']} tokens in {res['windows']} windows of {res['context']}; base perplexity "
        f"{base['ppl']:.2f}, attention on position 0 {base['sink']:.3f}.",
        "",
        "| k | zero: ppl (x base) | retain: ppl (x base) | random: ppl (x base) | sink zero / retain / random |",
        "|---|---|---|---|---|",
    ]
    for k in ks:
        cells = [f"{at[(m, k)]['ppl']:.2f} (x{at[(m, k)]['ppl'] / base['ppl']:.2f})" for m in MODES]
        sinks = " / ".join(f"{at[(m, k)]['sink']:.3f}" for m in MODES)
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {sinks} |")
    return "\n".join(lines) + "\n"


def plot(res: dict, out_base: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = next(r for r in res["results"] if r["mode"] == "base")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, style in zip(MODES, ("o-", "s-", "^--")):
        pts = sorted((r["k"], r["ppl"], r["sink"]) for r in res["results"] if r["mode"] == mode)
        a.plot([p[0] for p in pts], [p[1] for p in pts], style, label=mode)
        b.plot([p[0] for p in pts], [p[2] for p in pts], style, label=mode)
    a.axhline(base["ppl"], color="grey", lw=1, label="base")
    b.axhline(base["sink"], color="grey", lw=1, label="base")
    for ax, title in ((a, "perplexity"), (b, "attention on position 0")):
        ax.set_xscale("log")
        ax.set_xlabel(f"k (rows of layer {res['massive_layer']}'s up/gate)")
        ax.set_title(title)
        ax.legend()
    ppl = [r["ppl"] for r in res["results"]]
    if max(ppl) / min(ppl) > 10:  # a collapse spans decades; a small effect reads better on a linear axis
        a.set_yscale("log")
    fig.suptitle(f"{res['model']}: top-k massive weights zeroed / retained / random-k zeroed")
    fig.tight_layout()
    fig.savefig(out_base + ".png", dpi=110)
    fig.savefig(out_base + ".svg")
    plt.close(fig)


def cmd_sweep(args) -> int:
    from .__main__ import runner_from

    ks = sorted({int(k) for k in args.ks.split(",")})
    if not ks or ks[0] < 1:
        raise ValueError(f"--ks must be positive integers, got {args.ks!r}")
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    args.k = max(ks)
    runner = runner_from(args)
    try:
        res = run(runner, text, ks, args.context, args.max_tokens, args.sink_tokens, args.seed)
    finally:
        runner.close()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sweep.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "sweep.md"), "w") as f:
        f.write(markdown(res))
    plot(res, os.path.join(args.out, "sweep"))
    print(markdown(res))
    print(f"sweep: wrote sweep.json, sweep.md, sweep.png, sweep.svg to {args.out}")
    return 0
