"""Time per optimizer step with and without MacDrop on a >= 1B-parameter random-weight Llama (issue 9's
GPU target: MacDrop's overhead under 2%). Random weights have no massive layer, so the rows are given.

    cd gpu-runner && PYTHONPATH=. python ../bench/macdrop/step_time.py --out /tmp/step_time.json

Runs the real training loop (runner.finetune.prepare + steps) once for LoRA and once for DoRA, with steps
alternating between MacDrop (constant p = 0.8) and plain, so that drift in clocks, memory or data cancels;
each step is timed with a CUDA synchronize at its end (runner/finetune.py). A first version that ran the
arms as separate runs one after the other saw +5% to +7%, but plain runs alone drifted by 6% between the
first and the last (results.md). Also times MacDrop's own work alone: entering and
leaving `dropped()` (draw the mask, mask the rows, restore them) with a synchronize.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from runner.finetune import TrainConfig, prepare, steps
from runner.load import load
from runner.macdrop import MacDrop, MacDropConfig
from runner.tiny import byte_tokenizer, tiny_config

ROWS = (0, 1, 2, 3, 4)


def build_random_llama(out: str, layers: int, d_model: int, d_ff: int, heads: int) -> int:
    from transformers import AutoModelForCausalLM

    cfg = tiny_config("llama", layers, d_model, d_ff, heads=heads, kv_heads=heads, context=2048)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def mask_only_seconds(model_dir: str, reps: int) -> float:
    loaded = load(model_dir, "cuda")
    mac = MacDrop(loaded.ffn(1).row_weights(list(ROWS)), MacDropConfig(), seed=0, T=reps + 1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for t in range(reps):
        with mac.dropped(t):
            pass
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument(
        "--data", default=os.path.join(os.path.dirname(__file__), "../../models/house/heldout.txt")
    )
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--d-model", type=int, default=2048)
    ap.add_argument("--d-ff", type=int, default=8192)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=512)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    model_dir = os.path.join(tmp, "random-llama")
    n_params = build_random_llama(model_dir, a.layers, a.d_model, a.d_ff, a.heads)
    runs = {}
    for method in ("lora", "dora"):
        runs[method] = interleaved(model_dir, a, method, os.path.join(tmp, method))
        print(method, json.dumps({k: v for k, v in runs[method].items() if k != "steps"}), flush=True)
    result = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "parameters": n_params,
        "shape": vars(a),
        "tokens_per_step": a.micro_batch * a.max_len,
        **runs,
        "mask_only_seconds": mask_only_seconds(model_dir, 200),
    }
    print("mask only:", f"{result['mask_only_seconds'] * 1e6:.1f} us per step")
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


def interleaved(model_dir: str, a, method: str, out: str) -> dict:
    """One model, one PEFT wrap, one optimizer: steps alternate with and without MacDrop (the loop reads
    session.mac at each step), so drift in clocks, memory or data cancels out of the comparison."""
    cfg = TrainConfig(
        model=model_dir,
        data=a.data,
        out=out,
        method=method,
        macdrop=MacDropConfig(schedule="constant"),  # p = 0.8 at every step: the mask is never skipped
        layer=1,
        rows=ROWS,
        max_steps=a.steps,
        micro_batch=a.micro_batch,
        max_len=a.max_len,
        val_fraction=0.0,
        progress=False,
    )
    s = prepare(cfg)
    mac = s.mac
    arms = []
    for _ in steps(s):
        arms.append("macdrop" if s.mac else "plain")
        s.mac = None if s.mac else mac  # the next step runs the other arm
    secs = s.hist["step_seconds"]
    warm = range(4, len(secs))  # the first steps pay for allocation and kernel selection
    med = {arm: statistics.median(secs[i] for i in warm if arms[i] == arm) for arm in ("plain", "macdrop")}
    # each MacDrop step against the mean of its two plain neighbours
    pairs = [
        secs[i] - (secs[i - 1] + secs[i + 1]) / 2 for i in warm if arms[i] == "macdrop" and i + 1 < len(secs)
    ]
    return {
        **med,
        "overhead": med["macdrop"] / med["plain"] - 1,
        "paired_overhead_median_s": statistics.median(pairs),
        "steps": [{"arm": arm, "seconds": sec} for arm, sec in zip(arms, secs)],
    }


if __name__ == "__main__":
    main()
