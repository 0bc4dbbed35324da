"""What the adapters cost a decode step's products (bench.py's `overlap` section; GPU only).

For each of layer 0's four packed products (q|k|v, o, gate|up, down) at 1 and 64 rows (every fourth an
adapter row, as in the mixed batch), the GPU time per call, in microseconds, of:
- `product`: the base product alone;
- `beside_trivial`: the product with one trivial kernel forked onto a second stream and joined, as the
  step forks its adapters' work: the floor of computing anything beside a product;
- `beside_adapters`: the product with its adapters' deltas beside it (kernels.lora_delta on the second
  stream), as the decode step runs it;
- `adapters`: the adapters' deltas alone.
Each figure is a CUDA graph of 20 calls (as the step replays them: no launch overhead), replayed 15 times;
the median of the last 12 replays, per call.
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F

KINDS = ("qkv", "o", "gate_up", "down")


def _per_call_us(body, reps: int = 20) -> float:
    warm = torch.cuda.Stream()
    warm.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(warm):  # compile and allocate before the capture
        body()
    torch.cuda.current_stream().wait_stream(warm)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            body()
    times = []
    for _ in range(15):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / reps)
    return round(statistics.median(times[3:]), 2)


def _beside(side: torch.Stream, work, product):
    def body():
        main = torch.cuda.current_stream()
        side.wait_stream(main)
        with torch.cuda.stream(side):
            work()
        product()
        main.wait_stream(side)

    return body


def _figures(side, x, W, lora, index, delta) -> dict:
    from runner import kernels

    def product():
        F.linear(x, W)

    def adapters():
        kernels.lora_delta(x, lora, index, delta)

    def trivial():
        delta[:1, :1].zero_()

    return {
        "product": _per_call_us(product),
        "beside_trivial": _per_call_us(_beside(side, trivial, product)),
        "beside_adapters": _per_call_us(_beside(side, adapters, product)),
        "adapters": _per_call_us(adapters),
    }


def products_beside_adapters(r) -> dict:
    """`r`: a runner on CUDA with one adapter loaded (bench.py's). {kind: {str(rows): {figure: us}}}."""
    side = torch.cuda.Stream()
    out: dict = {}

    def run():
        for kind, group in zip(KINDS, r.slots.packed.layers[0]):
            if group.lora(True) is None:  # the adapter leaves this product alone (--lora-targets)
                continue
            W = group.weight()
            for B in (1, 64):
                x = torch.randn(B, W.shape[1], device=W.device, dtype=W.dtype)
                index = torch.zeros(B, dtype=torch.long, device=W.device)
                index[::4] = 1
                delta = torch.zeros(B, group.n, device=W.device, dtype=torch.float32)
                out.setdefault(kind, {})[str(B)] = _figures(side, x, W, group.lora(True), index, delta)
        return out

    return r.scheduler.call(run).result()
