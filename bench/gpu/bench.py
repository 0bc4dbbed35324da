"""GPU serving benchmark: the runner (through its scheduler, in-process) against Hugging Face's own decoding,
on an 8B Llama-3-shaped model with random bf16 weights and a planted massive layer, in one process.

    PYTHONPATH=gpu-runner python bench/gpu/bench.py --out DIR           # on the GPU (README.md: the command)
    PYTHONPATH=gpu-runner python bench/gpu/bench.py --out DIR --quick   # a tiny model on CPU: the script runs

Every run: 32-token prompts, 256 greedy tokens with ignore_eos (EOS never ends a row). It writes
DIR/results.json (every figure) and DIR/table.md (the table README.md shows), section by section, so a
run cut short still leaves what it measured. Sections: the copy bandwidth and the bound it sets; HF eager
generate; HF static cache + torch.compile; the runner (static slot cache + CUDA graphs) at 1/8/32/64
streams, cold vs steady, mixed variants vs base at 3/8/64 rows, prefill, memory, a decode step's GPU time
and kernels, and each product's time alone and with its adapters beside it (overlap.py); the runner on
the growing cache (the old path), last, if the time budget leaves room.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import traceback

import torch
from llama8b import ALL_TARGETS, build, weight_bytes_per_token, write_lora  # beside this file
from overlap import products_beside_adapters

STREAMS = (1, 8, 32, 64)
MIXED_ROWS = (3, 8, 64)
MIX = ("massive-zero", "massive-retain", "lora16", "base")  # equal shares; 3 rows: the three variants
MASKS = ("massive-zero", "massive-retain", "base")  # the same without the adapter: what masks alone cost
PROMPT, NEW = 32, 256


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def mem_gb() -> float:
    return torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else 0.0


def reset_peak():
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def prompts(n: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[256] + [rng.randrange(32, 127) for _ in range(PROMPT - 1)] for _ in range(n)]  # BOS + ASCII


def bandwidth() -> dict:
    """A device-to-device copy of 4 GiB, bytes read + written over the median of 10 copies."""
    x = torch.empty(1 << 32, dtype=torch.uint8, device="cuda").random_()
    y = torch.empty_like(x)
    times = []
    for i in range(13):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        y.copy_(x)
        b.record()
        b.synchronize()
        if i >= 3:
            times.append(a.elapsed_time(b) / 1e3)
    del x, y
    torch.cuda.empty_cache()
    return {
        "copy_bytes": 2 * (1 << 32),
        "copy_s_median": statistics.median(times),
        "TB_s": 2 * (1 << 32) / statistics.median(times) / 1e12,
    }


def hf_generate(model, n: int, seed: int, static: bool = False, repeats: int = 2) -> dict:
    ids = torch.tensor(prompts(n, seed), device=model.device)
    kw = dict(max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=258)
    if static:
        kw["cache_implementation"] = "static"
    walls = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
        sync()
        walls.append(time.perf_counter() - t0)
        assert out.shape[1] == PROMPT + NEW
    return {
        "streams": n,
        "wall_s": walls,
        "tok_s_first": n * NEW / walls[0],
        "tok_s": n * NEW / min(walls[1:] or walls),
    }


def streams(r, n: int, seed: int, variants=("base",)) -> dict:
    """n concurrent generate calls of one row each (as n clients would send them), through the scheduler."""
    from runner.wire import GenerateRequest, parse

    rows = [
        {"prompt": p, "variant": variants[i % len(variants)], "max_tokens": NEW, "ignore_eos": True}
        for i, p in enumerate(prompts(n, seed))
    ]
    reset_peak()
    t0 = time.perf_counter()
    gens = [r.generate(parse(GenerateRequest, {"requests": [row]})) for row in rows]
    finals = [g.results()[0] for g in gens]
    wall = time.perf_counter() - t0
    assert all(len(f["tokens"]) == NEW for f in finals), [len(f["tokens"]) for f in finals]
    ttft = [(g.rows[0].t_first - g.rows[0].t_submit) * 1e3 for g in gens]
    per_stream = [(NEW - 1) / (f["timing_ms"]["total"] / 1e3 - t / 1e3) for f, t in zip(finals, ttft)]
    return {
        "streams": n,
        "variants": list(variants),
        "wall_s": wall,
        "tok_s": n * NEW / wall,
        "ttft_ms_median": statistics.median(ttft),
        "ttft_ms_max": max(ttft),
        "per_stream_decode_tok_s_median": statistics.median(per_stream),
        "admits": len({g.rows[0].t_admit for g in gens}),  # prefills the rows took: 1 = one batch
        "peak_mem_GB": mem_gb(),
    }


def mixed_rounds(r, n: int, rounds: int = 3) -> dict:
    """Base-only, mixed and masks-only rows at n streams, interleaved (base, mixed, masks) `rounds` times
    after one unrecorded warm-up round, so the three meet the same machine state; each kind's figures are
    those of its median run by tok/s, with every run's tok/s beside them."""
    kinds = {"base": ("base",), "mixed": MIX, "masks": MASKS}
    runs = {k: [] for k in kinds}
    for i in range(rounds + 1):
        for kind, variants in kinds.items():
            res = streams(r, n, seed=500 + n + i, variants=variants)
            if i:
                runs[kind].append(res)
    out = {}
    for kind, rs in runs.items():
        rs = sorted(rs, key=lambda x: x["tok_s"])
        out[kind] = {**rs[len(rs) // 2], "tok_s_runs": [round(x["tok_s"], 1) for x in rs]}
    return out


def prefill_rate(r, n: int, variants=("base",)) -> dict:
    """engine.prefill of n 32-token rows (row i runs variants[i % len]) on the model thread, median of 5
    after one warm-up."""
    ps = prompts(n, 99)
    plans = [r.registry.resolve(variants[i % len(variants)]) for i in range(n)]

    def run():
        times = []
        for _ in range(6):
            sync()
            t0 = time.perf_counter()
            r.engine.prefill(ps, plans)
            sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times[1:])

    s = r.scheduler.call(run).result()
    return {
        "rows": n,
        "variants": list(variants),
        "tokens": n * PROMPT,
        "s_median": s,
        "tok_s": n * PROMPT / s,
    }


def rows_as(slots, B: int, lora: bool) -> None:
    """For a LoRA step, every fourth of slots [0, B) runs the adapter (number 1, the only one; row 0 at
    batch 1), as in the mixed batch's equal shares; the rest run base (a LoRA step timed with no adapter
    row would time a graph whose adapters' work multiplies zeros)."""
    slots.adapter_index[:B] = 0
    if lora:
        slots.adapter_index[:B:4] = 1


def step_gpu_time(r, B: int, S: int, lora: bool = False) -> dict:
    """GPU time of one captured decode step (graph replay, CUDA events, median of 50)."""
    slots = r.slots

    def run():
        rows_as(slots, B, lora)
        times = []
        for _ in range(55):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            slots._run(B, S, lora)
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        return statistics.median(times[5:])

    ms = r.scheduler.call(run).result()
    return {"B": B, "S": S, "lora": lora, "ms": ms, "tok_s": B * 1e3 / ms}


def kernels_per_step(r, B: int, S: int, lora: bool) -> dict:
    """How many kernels one decode step launches (the step run op by op under torch.profiler), and their
    summed GPU time: the graph replays the same kernels."""
    from torch.profiler import ProfilerActivity, profile

    def run():
        rows_as(r.slots, B, lora)
        r.slots._forward(B, S, lora)
        sync()
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as prof:
            r.slots._forward(B, S, lora)
            sync()
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        by_name: dict[str, list] = {}
        for e in kernels:
            entry = by_name.setdefault(e.name[:80], [0, 0.0])
            entry[0] += 1
            entry[1] += e.device_time / 1e3
        top = sorted(by_name.items(), key=lambda kv: -kv[1][1])[:12]
        return {
            "B": B,
            "S": S,
            "lora": lora,
            "kernels": len(kernels),
            "kernel_ms": sum(e.device_time for e in kernels) / 1e3,
            "top_ms": [[name, n, round(ms, 3)] for name, (n, ms) in top],  # by summed GPU time
        }

    return r.scheduler.call(run).result()


class Report:
    def __init__(self, out: str):
        self.out, self.data, self.t0 = out, {}, time.perf_counter()
        os.makedirs(out, exist_ok=True)

    def put(self, key, value):
        self.data[key] = value
        self.data["elapsed_s"] = round(time.perf_counter() - self.t0, 1)
        print(f"[{self.data['elapsed_s']:7.1f}s] {key}: {json.dumps(value)[:600]}", flush=True)
        with open(f"{self.out}/results.json", "w") as f:
            json.dump(self.data, f, indent=1)

    def section(self, key, fn, *a, **kw):
        try:
            self.put(key, fn(*a, **kw))
        except Exception as e:  # one broken section must not lose the others
            traceback.print_exc()
            self.put(key, {"error": f"{type(e).__name__}: {e}"})


def runner_over(loaded, adapters_dir: str, decode: str, rows: int):
    import runner.service as service
    from runner.config import RunnerConfig

    service.load = lambda *a, **k: loaded  # the model is built in memory, not read from a folder
    cfg = RunnerConfig(
        model=loaded.model_id,
        adapters_dir=adapters_dir,
        decode=decode,
        max_batch_rows=rows,
        max_prompt_tokens=64,
        max_tokens=512,
        batch_wait_ms=5.0,
    )
    t0 = time.perf_counter()
    r = service.Runner(cfg)
    return r, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="a tiny model on CPU, few tokens: the script runs")
    ap.add_argument("--budget-s", type=float, default=540, help="skip sections that would start after this")
    ap.add_argument(
        "--mixed-only",
        action="store_true",
        help="only the runner's mixed/base/masks rows, its step times, kernels and overlap (no peers, no streams)",
    )
    ap.add_argument(
        "--lora-targets",
        default=",".join(ALL_TARGETS),
        help="the projections the mixed batch's LoRA adapts (default: all seven; PEFT's default: q_proj,v_proj)",
    )
    args = ap.parse_args()
    targets = tuple(t for t in args.lora_targets.split(",") if t)
    if not targets or set(targets) - set(ALL_TARGETS):
        ap.error(f"--lora-targets: a comma-separated subset of {','.join(ALL_TARGETS)}")
    global NEW, STREAMS, MIXED_ROWS
    gpu = torch.cuda.is_available() and not args.quick
    if args.quick:
        NEW, STREAMS, MIXED_ROWS = 8, (1, 4), (3, 4)
    rep = Report(args.out)
    import transformers

    rep.put(
        "env",
        {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": torch.cuda.get_device_name() if gpu else "cpu",
            "prompt": PROMPT,
            "new_tokens": NEW,
            "lora_targets": list(targets),
        },
    )
    if gpu:
        torch.backends.cuda.enable_cudnn_sdp(False)  # for every contender alike (engine.py says why)
        rep.section("bandwidth", bandwidth)
    t = time.perf_counter()
    loaded = build(args.quick, "cuda" if gpu else "cpu")
    wb = weight_bytes_per_token(loaded.model)
    rep.put(
        "model",
        {
            "build_s": time.perf_counter() - t,
            "params": sum(p.numel() for p in loaded.model.parameters()),
            "weight_bytes_per_token": wb,
            "mem_GB": mem_gb(),
        },
    )
    if gpu and "TB_s" in rep.data.get("bandwidth", {}):
        rep.put("bound_tok_s", rep.data["bandwidth"]["TB_s"] * 1e12 / wb)
    hf_rows = () if args.mixed_only else (1, 8, 64) if gpu else (1,)
    for n in hf_rows:
        rep.section(f"hf_eager_{n}", hf_generate, loaded.model, n, seed=n, repeats=2)

    # generate() compiles the forward itself (reduce-overhead, fullgraph) when the cache is static
    if gpu and not args.mixed_only:
        rep.section("hf_compiled_1", hf_generate, loaded.model, 1, seed=1, static=True, repeats=3)
        rep.put("hf_compiled_evidence", {"model._compiled_call": hasattr(loaded.model, "_compiled_call")})
    ad = os.path.join(args.out if args.quick else "/tmp", "adapters")
    write_lora(f"{ad}/lora16", loaded.model.config, rank=16 if gpu else 4, targets=targets)
    r, start_s = runner_over(loaded, ad, "static" if gpu else "static", 64 if gpu else 4)
    rep.put(
        "runner_start",
        {
            "s": start_s,
            "graphs": len(r.slots.graphs),
            "detected_layer": r.detection["massive_layer"],
            "mem_GB": mem_gb(),
            "slots": r.slots.N,
            "slot_len": r.slots.S_max,
        },
    )
    for n in () if args.mixed_only else STREAMS:
        if n == 1:
            rep.section("cold_1", streams, r, 1, seed=1000)
            rep.section("steady_1", streams, r, 1, seed=1000)
            rep.section("cold_8", streams, r, 8, seed=1008)
        rep.section(f"runner_{n}", streams, r, n, seed=n)
    for n in MIXED_ROWS:
        try:
            for kind, res in mixed_rounds(r, n, rounds=1 if args.quick else 3).items():
                rep.put(f"{kind}_rows_{n}", res)
        except Exception as e:  # one broken section must not lose the others
            traceback.print_exc()
            rep.put(f"mixed_rows_{n}", {"error": f"{type(e).__name__}: {e}"})
    if not args.mixed_only:
        rep.section("prefill_1", prefill_rate, r, 1)
        rep.section(f"prefill_{STREAMS[-1]}", prefill_rate, r, STREAMS[-1])
    for n in (MIXED_ROWS[0], MIXED_ROWS[-1]):  # what the adapter rows cost a prefill
        rep.section(f"prefill_base_{n}", prefill_rate, r, n)
        rep.section(f"prefill_mixed_{n}", prefill_rate, r, n, variants=MIX)
    if gpu:
        for B, S, lora in ((1, 64, False), (1, 512, False), (64, 512, False), (1, 64, True), (64, 512, True)):
            rep.section(f"step_{B}x{S}{'_lora' if lora else ''}", step_gpu_time, r, B, S, lora)
        rep.section("kernels_1x64", kernels_per_step, r, 1, 64, False)
        rep.section("kernels_1x64_lora", kernels_per_step, r, 1, 64, True)
        rep.section("kernels_64x512", kernels_per_step, r, 64, 512, False)
        rep.section("kernels_64x512_lora", kernels_per_step, r, 64, 512, True)
        rep.section("overlap", products_beside_adapters, r)
    r.close()
    del r
    if gpu and not args.mixed_only and time.perf_counter() - rep.t0 < args.budget_s - 120:
        d, s = runner_over(loaded, None, "dynamic", 64)
        rep.section("dynamic_1", streams, d, 1, seed=1)
        rep.section("dynamic_64", streams, d, 64, seed=64)
        d.close()
    from table import write_table  # noqa: E402  (beside this file)

    write_table(rep.data, f"{args.out}/table.md")
    print(open(f"{args.out}/table.md").read())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
