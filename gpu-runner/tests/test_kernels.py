"""kernels.py's Triton kernels compute what fused.py computes (the decode step's glue the CPU tests prove
equal to Hugging Face's modules): every function, with and without adapters (LoRA and DoRA rows of two
adapters beside base rows), bias, per-head norms, keep-masks, and attention over rows of different lengths
cut into several splits. On a GPU they run compiled; without one, in Triton's interpreter (TRITON_INTERPRET,
numpy on the CPU: the same kernel code, run op by op). Skipped where Triton is not installed."""

import pytest
import torch

from runner import fused

triton = pytest.importorskip("triton")
from runner import decode_attention, kernels  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
B, H, HKV, DH, D, FF, S_MAX = 3, 4, 2, 16, 600, 300, 128  # D, FF: not powers of two (masked tails)
K = 40  # a projection's input width
ROWS = [3, 19]  # the adapters' expansion holds 16 rows a program: one partial row block, and two


def gen(seed=0):
    g = torch.Generator().manual_seed(seed)
    return lambda *shape: torch.randn(*shape, generator=g).to(DEV)


def adapters(sizes: list[int], k: int, r=(4, 30), dora=True, seed=1):
    """Two adapters (ranks r, the second one DoRA) on a packed projection of members `sizes` (q, k, v;
    gate, up; or one) with inputs of width k, stacked as packed.py stacks them (adapter by adapter, each
    member's block of lora_B in its own columns)."""
    t = gen(seed)
    n, R = sum(sizes), len(sizes) * sum(r)
    Bt = torch.zeros(R, n, device=DEV)
    owner, row = [], 0
    for number, rank in enumerate(r, start=1):
        col = 0
        for size in sizes:
            Bt[row : row + rank, col : col + size] = 0.2 * t(rank, size)
            owner += [number] * rank
            row, col = row + rank, col + size
    M = torch.ones(3, n, device=DEV)
    if dora:
        M[2] = 1 + 0.1 * t(n)
    return fused.Lora(0.2 * t(R, k), Bt, torch.tensor(owner, device=DEV), M if dora else None)


def deltas(x, lora, ix):
    """The adapters' deltas for input x, fused's, after checking the kernels' equal to them; both glue
    paths then add the same deltas, so each test holds one kernel to fused.py at a time."""
    if lora is None:
        return None
    want, got = fused.lora_delta(x, lora, ix), kernels.lora_delta(x, lora, ix)
    torch.testing.assert_close(got.delta, want.delta, atol=1e-5, rtol=1e-5)
    return want


def index(rows: int) -> torch.Tensor:  # rows run base, adapter 1, adapter 2, base, ...
    return torch.arange(rows, device=DEV) % 3


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("with_lora", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("qk_norm", [False, True])
def test_qkv_rope_cache_kernel_equals_fused(rows, with_lora, bias, qk_norm):
    t = gen()
    n = (H + 2 * HKV) * DH
    lora = adapters([H * DH, HKV * DH, HKV * DH], K) if with_lora else None
    y = t(rows, n)
    b = t(n) if bias else None
    angle = t(rows, DH // 2)
    cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
    pos = (torch.arange(rows, device=DEV) * 37 + 5) % S_MAX  # column 0, the last, and between
    norms = ((1 + 0.1 * t(DH), 1e-6), (1 + 0.1 * t(DH), 1e-6)) if qk_norm else ()
    caches = [[t(rows + 1, HKV, S_MAX, DH) for _ in range(2)] for _ in range(2)]
    caches[1] = [c.clone() for c in caches[0]]
    ix = index(rows) if lora else None
    ada = deltas(t(rows, K), lora, ix)
    want = fused.qkv_rope_cache(y, H, HKV, b, ada, ix, cos, sin, *caches[0], pos, *norms)
    got = kernels.qkv_rope_cache(y, H, HKV, b, ada, ix, cos, sin, *caches[1], pos, *norms)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for a, w in zip(caches[1], caches[0]):  # the same columns written, nothing else touched
        torch.testing.assert_close(a, w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("S", [64, 128])
def test_split_attention_kernel_equals_fused(S):
    t = gen(2)
    kc, vc = t(4, HKV, S_MAX, DH), t(4, HKV, S_MAX, DH)
    q = t(B, H, DH)
    pos = torch.tensor([0, 40, S - 1], device=DEV)  # one column, some, all of the bucket
    assert decode_attention.splits_for(1, HKV, S) > 1, "the test should cover several splits"
    want = fused.attend(q, kc, vc, pos, S, DH**-0.5)
    got = kernels.attend(q, kc, vc, pos, S, DH**-0.5)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("with_lora", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_add_rms_norm_kernel_equals_fused(rows, with_lora, bias):
    t = gen(3)
    lora = adapters([D], K) if with_lora else None
    x, y, w = t(rows, D), t(rows, D), 1 + 0.1 * t(D)
    b = t(D) if bias else None
    ix = index(rows) if lora else None
    ada = deltas(t(rows, K), lora, ix)
    want = fused.add_rms_norm(x, y, b, ada, ix, w, 1e-5)
    got = kernels.add_rms_norm(x, y, b, ada, ix, w, 1e-5)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(kernels.rms_norm(x, w, 1e-5), fused.rms_norm(x, w, 1e-5), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("with_lora", [False, True])
@pytest.mark.parametrize("keep", [False, True])
def test_swiglu_kernel_equals_fused(rows, with_lora, keep):
    t = gen(4)
    lora = adapters([FF, FF], K) if with_lora else None
    y = t(rows, 2 * FF)
    k = (t(rows, FF) > 0).float() if keep else None
    ix = index(rows) if lora else None
    ada = deltas(t(rows, K), lora, ix)
    want = fused.swiglu(y, FF, None, ada, ix, k)
    got = kernels.swiglu(y, FF, None, ada, ix, k)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
