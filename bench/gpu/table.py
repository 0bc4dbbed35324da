"""The one table of bench/gpu/README.md, made from a run's results.json (bench.py writes both).

python bench/gpu/table.py results.json   # prints it again
"""

from __future__ import annotations

import json
import sys


def _f(x, nd=0):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def _overlap_rows(d: dict) -> list[str]:
    """The table's rows for bench.py's `overlap` section (none where it did not run)."""
    ov = d.get("overlap")
    if not isinstance(ov, dict) or "error" in ov:
        return []
    lines = []
    for B in ("1", "64"):  # json keys
        cells = []
        for kind in ("qkv", "o", "gate_up", "down"):
            f = ov.get(kind, {}).get(B)
            if f:
                cells.append(
                    f"{kind} {f['product']:.1f} / {f['beside_trivial']:.1f} / {f['beside_adapters']:.1f}"
                    f" ({f['adapters']:.1f})"
                )
        lines.append(
            f"| layer 0's products at {B} row{'s' if B != '1' else ''}, us per call: alone / a trivial kernel "
            f"beside it / its adapters beside it (the adapters alone) | {'; '.join(cells)} | | | |"
        )
    return lines


def write_table(d: dict, path: str) -> str:
    def get(key, field):
        v = d.get(key) or {}
        return v.get(field) if isinstance(v, dict) else None

    bound = d.get("bound_tok_s")
    lines = [
        f"Device: {d['env']['device']}; torch {d['env']['torch']}, transformers {d['env']['transformers']}; "
        f"{d['env']['prompt']}-token prompts, {d['env']['new_tokens']} greedy tokens, ignore_eos.",
        "",
        "| figure | runner (static slots + CUDA graphs) | runner, growing cache (before) | HF eager | HF static + compile |",
        "|---|---|---|---|---|",
    ]
    for n in (1, 8, 32, 64):
        lines.append(
            f"| {n} stream{'s' if n > 1 else ''}: tok/s (aggregate, end to end) | {_f(get(f'runner_{n}', 'tok_s'))} "
            f"| {_f(get(f'dynamic_{n}', 'tok_s'))} | {_f(get(f'hf_eager_{n}', 'tok_s'))} "
            f"| {_f(get(f'hf_compiled_{n}', 'tok_s'))} |"
        )
    lines.append(
        f"| 1 stream: decode tok/s after the first token | {_f(get('runner_1', 'per_stream_decode_tok_s_median'))} "
        f"| {_f(get('dynamic_1', 'per_stream_decode_tok_s_median'))} | | |"
    )
    for n in (1, 64):
        lines.append(
            f"| first token, median (max) at {n} stream{'s' if n > 1 else ''}, ms "
            f"| {_f(get(f'runner_{n}', 'ttft_ms_median'), 1)} ({_f(get(f'runner_{n}', 'ttft_ms_max'), 1)}) "
            f"| {_f(get(f'dynamic_{n}', 'ttft_ms_median'), 1)} ({_f(get(f'dynamic_{n}', 'ttft_ms_max'), 1)}) | | |"
        )
    if bound:
        bw = d["bandwidth"]["TB_s"]
        lines.append(
            f"| bound: {d['model']['weight_bytes_per_token'] / 1e9:.2f} GB of weights per step / {bw:.2f} TB/s copy "
            f"= {bound:.0f} tok/s at 1 stream; runner at 1 stream / bound "
            f"| {_f(100 * (get('runner_1', 'tok_s') or 0) / bound, 1)}% "
            f"| {_f(100 * (get('dynamic_1', 'tok_s') or 0) / bound, 1)}% "
            f"| {_f(100 * (get('hf_eager_1', 'tok_s') or 0) / bound, 1)}% "
            f"| {_f(100 * (get('hf_compiled_1', 'tok_s') or 0) / bound, 1)}% |"
        )
    for n in (1, 64):
        lines.append(
            f"| prefill tok/s, {n} row{'s' if n > 1 else ''} of 32 tokens | {_f(get(f'prefill_{n}', 'tok_s'))} | | | |"
        )
    for B, S, lora in ((1, 64, ""), (1, 512, ""), (64, 512, ""), (1, 64, "_lora"), (64, 512, "_lora")):
        what = ", LoRA graph, every 4th row (row 0 at 1 row) an adapter row" if lora else ""
        lines.append(
            f"| GPU time of one decode step, {B} rows x {S} columns{what} (graph replay), ms "
            f"| {_f(get(f'step_{B}x{S}{lora}', 'ms'), 2)} | | | |"
        )
    for B, S in ((1, 64), (64, 512)):
        k, kl = d.get(f"kernels_{B}x{S}") or {}, d.get(f"kernels_{B}x{S}_lora") or {}
        lines.append(
            f"| kernels one decode step launches, {B} rows x {S} columns (summed kernel time, ms): base / LoRA graph "
            f"| {_f(k.get('kernels'))} ({_f(k.get('kernel_ms'), 2)}) / {_f(kl.get('kernels'))} ({_f(kl.get('kernel_ms'), 2)}) | | | |"
        )
    lines += _overlap_rows(d)
    lines.append(
        f"| no warm-up cliff: first request / steady, 1 stream tok/s | {_f(get('cold_1', 'tok_s'))} / "
        f"{_f(get('steady_1', 'tok_s'))} (first 8-stream request: {_f(get('cold_8', 'tok_s'))}) | | | |"
    )
    targets = d["env"].get("lora_targets")  # runs before the option: all seven
    lora_on = f" on {', '.join(targets)}" if targets and len(targets) < 7 else ""
    for n in (3, 8, 64):
        base, mixed = get(f"base_rows_{n}", "tok_s"), get(f"mixed_rows_{n}", "tok_s")
        mb, mm = get(f"base_rows_{n}", "peak_mem_GB"), get(f"mixed_rows_{n}", "peak_mem_GB")
        ratio = f"{mixed / base:.3f}" if base and mixed else "n/a"
        mem = f"{mm:.2f} / {mb:.2f} GB" if mb and mm else "n/a"
        masks = get(f"masks_rows_{n}", "tok_s")
        mratio = f"{masks / base:.3f}" if base and masks else "n/a"
        db, dm = (get(f"{k}_rows_{n}", "per_stream_decode_tok_s_median") for k in ("base", "mixed"))
        dratio = f"{dm / db:.3f}" if db and dm else "n/a"
        runs = " / ".join(str(get(f"{k}_rows_{n}", "tok_s_runs")) for k in ("mixed", "base", "masks"))
        lines.append(
            f"| mixed (zero, retain, LoRA{lora_on}, base) / base at {n} rows, median of 3 interleaved runs: tok/s "
            f"{_f(mixed)} / {_f(base)} (runs: mixed / base / masks {runs}), peak memory {mem}; per stream after "
            f"the first token: ratio {dratio}; masks only (zero, retain, base): {_f(masks)} tok/s, ratio {mratio} "
            f"| ratio {ratio} | | | |"
        )
    for n in (3, 64):
        pb, pm = get(f"prefill_base_{n}", "s_median"), get(f"prefill_mixed_{n}", "s_median")
        lines.append(
            f"| prefill of {n} rows of 32 tokens, base / mixed variants (ms) "
            f"| {_f(pb and pb * 1e3, 1)} / {_f(pm and pm * 1e3, 1)} | | | |"
        )
    start = d.get("runner_start") or {}
    lines.append(
        f"| runner start (massive analysis + capturing {start.get('graphs', 'n/a')} graphs), s; memory after | "
        f"{_f(start.get('s'), 1)}; {_f(start.get('mem_GB'), 1)} GB | | | |"
    )
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(write_table(json.load(f), "/dev/stdout"), end="")
