"""The paper's comparison: plain vs MacDrop adapters on the same data over several seeds, evaluated through
the runner (its Engine, variants and scoring), with a paired test per metric.

    python -m runner compare-training --data FILE --method lora --seeds 0,1,2 --out DIR [--max-steps N]

For each seed it trains `<method>-plain-s<seed>` and `<method>-macdrop-s<seed>` (same data, same seed; a
folder that already holds a run card is reused), then loads them all into one Runner whose built-in
`massive-zero` zeroes the top --eval-k (3, the paper's robustness test) and measures, for X and
X+massive-zero: held-out perplexity (runner.evaluate) and multiple-choice accuracy via loglikelihood
scoring (runner.score) on questions made from the validation split of the training data: the record's
own answer against answers of other validation records with the same instruction.
Writes DIR/comparison.json; the paired test is scipy's ttest_rel of MacDrop against plain over seeds.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics

from . import data, evaluate, score
from .config import RunnerConfig
from .service import Runner

ARMS = ("plain", "macdrop")
ATTACK = "massive-zero"


def mc_questions(tokens, path: str, val_fraction: float, choices: int, limit: int) -> list[dict]:
    """[{context ids, [continuation ids per option], answer index}] from the validation records."""
    records = data.read_records(path)
    examples = [data.Example([], [], r) for r in records]
    _, val = data.split(examples, val_fraction)
    val = [e.record for e in val]
    by_instruction: dict[str, list[dict]] = {}
    for r in val:
        by_instruction.setdefault(r["instruction"], []).append(r)
    out = []
    for i, r in enumerate(val):
        pool = [o["output"] for o in by_instruction[r["instruction"]] if o["output"] != r["output"]]
        pool = sorted(set(pool))
        if len(pool) < choices - 1:
            continue
        rng = random.Random(i)
        options = rng.sample(pool, choices - 1)
        answer = rng.randrange(choices)
        options.insert(answer, r["output"])
        text, add_bos = data.prompt_text(tokens, r)
        ctx = tokens.encode(text, add_bos=add_bos)
        conts = [tokens.encode(data.answer_text(tokens, {**r, "output": o}), add_bos=False) for o in options]
        out.append({"context": ctx, "options": conts, "answer": answer})
        if len(out) == limit:
            break
    return out


def mc_accuracy(engine, plan, questions: list[dict]) -> dict:
    """acc: highest total log-likelihood; acc_norm: highest per-token log-likelihood (lm-eval's two)."""
    items = [(plan, q["context"], c) for q in questions for c in q["options"]]
    res = iter(score.drain(score.loglikelihood(engine, items)))  # run the chunked scorer to its end
    hit = hit_norm = 0
    for q in questions:
        scored = [next(res) for _ in q["options"]]
        total = [s["logprob"] for s in scored]
        norm = [s["logprob"] / s["tokens"] for s in scored]
        hit += max(range(len(total)), key=total.__getitem__) == q["answer"]
        hit_norm += max(range(len(norm)), key=norm.__getitem__) == q["answer"]
    n = max(len(questions), 1)
    return {"acc": hit / n, "acc_norm": hit_norm / n}


def measure(runner: Runner, name: str, wins, questions) -> dict:
    out = {}
    attacked = ATTACK if name == "base" else f"{name}+{ATTACK}"
    for variant, tag in ((name, ""), (attacked, "_attacked")):
        plan = runner.registry.resolve(variant)
        ppl = evaluate.perplexity(runner.engine, plan, wins)["ppl"]
        acc = mc_accuracy(runner.engine, plan, questions)
        out[f"ppl{tag}"] = ppl
        out[f"acc{tag}"] = acc["acc"]
        out[f"acc_norm{tag}"] = acc["acc_norm"]
    out["ppl_ratio"] = out["ppl_attacked"] / out["ppl"]  # how much the attack costs (1 = nothing)
    out["acc_drop"] = out["acc"] - out["acc_attacked"]
    out["acc_norm_drop"] = out["acc_norm"] - out["acc_norm_attacked"]
    return out


def paired(plain: list[float], mac: list[float]) -> dict:
    from scipy.stats import ttest_rel

    diffs = [m - p for p, m in zip(plain, mac)]
    test = {"t": None, "p_value": None}
    if len(diffs) >= 2 and statistics.pstdev(diffs) > 0:
        r = ttest_rel(mac, plain)
        test = {"t": float(r.statistic), "p_value": float(r.pvalue)}
    return {
        "plain_mean": statistics.fmean(plain),
        "macdrop_mean": statistics.fmean(mac),
        "diff_mean": statistics.fmean(diffs),
        "diff_sd": statistics.stdev(diffs) if len(diffs) > 1 else None,
        **test,
    }


def compare(args, make_cfg) -> dict:
    """make_cfg(out, macdrop, seed) -> TrainConfig. Returns (and writes) the comparison."""
    from .finetune import train

    adapters = os.path.join(args.out, "adapters")
    cards = {}
    for seed in args.seeds:
        for arm in ARMS:
            name = f"{args.method}-{arm}-s{seed}"
            folder = os.path.join(adapters, name)
            card_path = os.path.join(folder, "run_card.json")
            if os.path.isfile(card_path):
                with open(card_path) as f:
                    cards[name] = json.load(f)
            else:
                cards[name] = train(make_cfg(folder, arm == "macdrop", seed))
    cfg = make_cfg(adapters, False, 0)
    runner = Runner(RunnerConfig(cfg.model, adapters, cfg.device, cfg.dtype, k=args.eval_k))
    try:
        if ATTACK not in runner.registry.variants:
            raise ValueError(f"the runner finds no massive layer in {cfg.model}: no {ATTACK} to attack with")
        text = args.text or os.path.join(cfg.model, "heldout.txt")
        with open(text, encoding="utf-8") as f:
            ids = runner.tokens.encode(f.read(), add_bos=False)
        wins = evaluate.windows(ids, runner.tokens.bos_id, args.context, args.max_windows)
        questions = []
        if cfg.data.endswith(".jsonl"):
            questions = mc_questions(
                runner.tokens, cfg.data, cfg.val_fraction, args.choices, args.max_questions
            )
        massive_info = runner.health()["massive"]
        metrics = {"base": measure(runner, "base", wins, questions)}
        for name in cards:
            metrics[name] = measure(runner, name, wins, questions)
    finally:
        runner.close()
    keys = list(metrics["base"])
    per_seed = {
        arm: {k: [metrics[f"{args.method}-{arm}-s{s}"][k] for s in args.seeds] for k in keys} for arm in ARMS
    }
    result = {
        "model": cfg.model,
        "data": cfg.data,
        "method": args.method,
        "seeds": list(args.seeds),
        "eval": {
            "attack": f"X+{ATTACK} (top-{args.eval_k} zeroed)",
            "massive": massive_info,
            "perplexity_text": text,
            "windows": len(wins),
            "context": args.context,
            "questions": len(questions),
            "choices": args.choices,
        },
        "training": {n: summary(c) for n, c in cards.items()},
        "metrics": metrics,
        "per_seed": per_seed,
        "paired": {k: paired(per_seed["plain"][k], per_seed["macdrop"][k]) for k in keys},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "comparison.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def summary(card: dict) -> dict:
    val = card["loss"]["val"]
    return {
        "steps": card["steps"],
        "final_val_loss": val[-1]["loss"] if val else None,
        "seconds_per_step": card["time"]["seconds_per_step_median"],
        "wall_seconds": card["time"]["wall_seconds"],
        "massive": card["massive"],
    }


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def table(result: dict) -> str:
    """Markdown: means per arm, the paired difference and its p-value, then per-seed values."""
    base = result["metrics"]["base"]
    lines = [
        f"{result['method']}: plain vs MacDrop over seeds {result['seeds']}; attack {result['eval']['attack']}",
        "",
        "| metric | base | plain mean | MacDrop mean | diff (MacDrop - plain) | paired t p-value |",
        "|---|---|---|---|---|---|",
    ]
    for k, t in result["paired"].items():
        lines.append(
            f"| {k} | {_fmt(base[k])} | {_fmt(t['plain_mean'])} | {_fmt(t['macdrop_mean'])} | "
            f"{_fmt(t['diff_mean'])} | {_fmt(t['p_value'])} |"
        )
    lines += ["", "| metric | arm | " + " | ".join(f"seed {s}" for s in result["seeds"]) + " |"]
    lines.append("|---|---|" + "---|" * len(result["seeds"]))
    for k in result["paired"]:
        for arm in ARMS:
            lines.append(f"| {k} | {arm} | " + " | ".join(_fmt(v) for v in result["per_seed"][arm][k]) + " |")
    return "\n".join(lines)
