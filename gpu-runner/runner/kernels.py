"""fused.py's functions as Triton kernels, for the CUDA decode step (slots.py).

Same signatures and the same math as fused.py (which tests/test_kernels.py holds these to: compiled on a
GPU, in Triton's interpreter on a CPU), fp32 inside each kernel, one row a program:
- qkv_rope_cache: one program per (row, head) of q|k|v: the adapters' delta, bias, per-head norm, rotary
  (a head's two halves, which rotary pairs), and k/v stored straight into the row's slot (vLLM's
  "reshape_and_cache" folded in);
- attend: flash-decoding on tensor cores, in its own file (decode_attention.py);
- add_rms_norm: residual add (rounded to the model's dtype, as the model stores its residual stream), then
  RMSNorm;
- swiglu: silu(gate) * up * keep, blocks of columns;
- lora_delta: each row's adapter delta for one projection: h = x A^T over the stacked lora_A (cuBLAS),
  then one tensor-core product per block of 16 rows (`_expand_kernel`: each lora_B tile read once per
  row block, Punica's SGMV idea), each row keeping its own adapter's ranks. slots.py runs it on a second
  stream while the base product runs, so the glue only adds a ready delta.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from .decode_attention import attend, next_pow2  # noqa: F401  (attend: the step's `fn.attend`)
from .fused import Adapted

RANK_TILE: tl.constexpr = tl.constexpr(16)  # adapter ranks one tensor-core product takes
ROWS = 16  # rows an expansion program holds (a tensor-core product's smallest M)
EXPAND_COLUMNS = 128  # columns an expansion program covers


@triton.jit
def _expand_kernel(h, stride_h, Bt, owner, index, out, n, R, B, BM: tl.constexpr, BN: tl.constexpr,
                   BLOCK_R: tl.constexpr, IEEE: tl.constexpr):  # fmt: skip
    """out[rows, cols] = sum over ranks r of h[row, r] Bt[r, cols] where owner[r] == index[row] (base rows,
    index 0, own no rank), fp32. Every load is issued at once: none waits for a row's adapter number."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    rmask, cmask = rows < B, cols < n
    idx = tl.load(index + rows, mask=rmask, other=0)
    acc = tl.zeros([BM, BN], dtype=tl.float32)
    for r0 in tl.static_range(0, BLOCK_R, RANK_TILE):  # unrolled: every load in flight together
        r = r0 + tl.arange(0, RANK_TILE)
        inside = r < R
        own = tl.load(owner + r, mask=inside, other=-1)
        hv = tl.load(
            h + rows[:, None] * stride_h + r[None, :], mask=rmask[:, None] & inside[None, :], other=0.0
        )
        hv = tl.where(idx[:, None] == own[None, :], hv, tl.zeros_like(hv))
        bt = tl.load(Bt + r[:, None] * n + cols[None, :], mask=inside[:, None] & cmask[None, :], other=0.0)
        if IEEE:  # an fp32 model: full-precision products, not TF32
            acc += tl.dot(hv.to(tl.float32), bt.to(tl.float32), input_precision="ieee")
        else:
            acc += tl.dot(hv.to(bt.dtype), bt)
    tl.store(out + rows[:, None] * n + cols[None, :], acc, mask=rmask[:, None] & cmask[None, :])


def lora_delta(x, lora, index, out=None) -> Adapted:
    B, n, R = x.shape[0], lora.Bt.shape[1], lora.owner.numel()
    h = F.linear(x, lora.A)  # [B, R] (a Triton kernel streaming A with a few programs took 3x as long)
    if out is None:
        out = torch.empty(B, n, device=x.device, dtype=torch.float32)
    _expand_kernel[(triton.cdiv(B, ROWS), triton.cdiv(n, EXPAND_COLUMNS))](
        h, h.stride(0), lora.Bt, lora.owner, index, out, n, R, B, BM=ROWS, BN=EXPAND_COLUMNS,
        BLOCK_R=max(16, next_pow2(R)), IEEE=x.dtype == torch.float32,
    )  # fmt: skip
    return Adapted(out, lora.M)


@triton.jit
def _project(y, stride_y, b, cols, cmask, bias, delta, stride_d, M, index, HAS_BIAS: tl.constexpr,
             HAS_DELTA: tl.constexpr, HAS_M: tl.constexpr):  # fmt: skip
    """fused.project at columns `cols` of row b, fp32. The delta's load goes out with y's."""
    out = tl.load(y + b * stride_y + cols, mask=cmask, other=0.0).to(tl.float32)
    if HAS_DELTA:
        out += tl.load(delta + b * stride_d + cols, mask=cmask, other=0.0)
        if HAS_M:  # M [adapters + 1, N]: its rows are as long as the delta's (N = stride_d)
            out *= tl.load(M + tl.load(index + b) * stride_d + cols, mask=cmask, other=1.0).to(tl.float32)
    if HAS_BIAS:
        out += tl.load(bias + cols, mask=cmask, other=0.0).to(tl.float32)
    return out


def _adapter_args(adapted, index, y, bias):
    """The projection's pointers (bias, delta, its row stride, M, index) and constexpr flags for every glue
    kernel; dummies (never read) where there is no bias or no adapter."""
    flags = dict(HAS_BIAS=bias is not None, HAS_DELTA=adapted is not None, HAS_M=False)
    b = bias if bias is not None else y
    if adapted is None:
        return (b, y, 0, y, y), flags
    d = adapted.delta
    assert d.dtype == torch.float32 and d.stride(1) == 1 and d.stride(0) == d.shape[1], "delta: [B, N] fp32"
    flags["HAS_M"] = adapted.M is not None
    return (b, d, d.stride(0), adapted.M if adapted.M is not None else y, index), flags


@triton.jit
def _qkv_kernel(y, stride_y, bias, delta, stride_d, M, index, cos, sin, kc, vc, pos, q_out, qn_w, kn_w, eps, H,
                HKV, S_MAX, DH: tl.constexpr, BLOCK_H: tl.constexpr, HAS_BIAS: tl.constexpr,
                HAS_DELTA: tl.constexpr, HAS_M: tl.constexpr, QK_NORM: tl.constexpr):  # fmt: skip
    b = tl.program_id(0)
    j = tl.program_id(1)  # head: q heads [0, H), k heads [H, H + HKV), v heads after
    half: tl.constexpr = DH // 2
    e = tl.arange(0, BLOCK_H)  # a column of the head's first half; e + half: its rotary partner
    emask = e < half
    x1 = _project(
        y, stride_y, b, j * DH + e, emask, bias, delta, stride_d, M, index, HAS_BIAS, HAS_DELTA, HAS_M
    )
    x2 = _project(y, stride_y, b, j * DH + half + e, emask, bias, delta, stride_d, M, index, HAS_BIAS,
                  HAS_DELTA, HAS_M)  # fmt: skip
    if j < H + HKV:  # q or k: norm (Qwen-3), then rotary
        if QK_NORM:
            w_ptr = qn_w if j < H else kn_w
            rstd = 1.0 / tl.sqrt((tl.sum(x1 * x1, axis=0) + tl.sum(x2 * x2, axis=0)) / DH + eps)
            x1 = x1 * rstd * tl.load(w_ptr + e, mask=emask, other=0.0).to(tl.float32)
            x2 = x2 * rstd * tl.load(w_ptr + half + e, mask=emask, other=0.0).to(tl.float32)
        c1 = tl.load(cos + b * DH + e, mask=emask, other=0.0).to(tl.float32)
        c2 = tl.load(cos + b * DH + half + e, mask=emask, other=0.0).to(tl.float32)
        s1 = tl.load(sin + b * DH + e, mask=emask, other=0.0).to(tl.float32)
        s2 = tl.load(sin + b * DH + half + e, mask=emask, other=0.0).to(tl.float32)
        x1, x2 = x1 * c1 - x2 * s1, x2 * c2 + x1 * s2
    p = tl.load(pos + b)
    slot = ((b * HKV + tl.where(j < H + HKV, j - H, j - H - HKV)) * S_MAX + p) * DH
    if j < H:
        at = (b * H + j) * DH
        tl.store(q_out + at + e, x1.to(q_out.dtype.element_ty), mask=emask)
        tl.store(q_out + at + half + e, x2.to(q_out.dtype.element_ty), mask=emask)
    elif j < H + HKV:
        tl.store(kc + slot + e, x1.to(kc.dtype.element_ty), mask=emask)
        tl.store(kc + slot + half + e, x2.to(kc.dtype.element_ty), mask=emask)
    else:
        tl.store(vc + slot + e, x1.to(vc.dtype.element_ty), mask=emask)
        tl.store(vc + slot + half + e, x2.to(vc.dtype.element_ty), mask=emask)


def qkv_rope_cache(y, n_heads, n_kv, bias, adapted, index, cos, sin, kc, vc, pos, q_norm=None, k_norm=None):
    B, Dh = y.shape[0], kc.shape[-1]
    q = torch.empty(B, n_heads, Dh, device=y.device, dtype=y.dtype)
    proj, flags = _adapter_args(adapted, index, y, bias)
    qn_w, eps = q_norm if q_norm is not None else (y, 0.0)
    kn_w = k_norm[0] if k_norm is not None else y
    _qkv_kernel[(B, n_heads + 2 * n_kv)](
        y, y.stride(0), *proj, cos.contiguous(), sin.contiguous(), kc, vc, pos, q, qn_w, kn_w, eps, n_heads,
        n_kv, kc.shape[2], DH=Dh, BLOCK_H=next_pow2(Dh // 2), **flags, QK_NORM=q_norm is not None,
    )  # fmt: skip
    return q


@triton.jit
def _add_rms_kernel(x, y, stride_y, bias, delta, stride_d, M, index, w, x_out, h_out, eps, D,
                    BLOCK_N: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_DELTA: tl.constexpr,
                    HAS_M: tl.constexpr):  # fmt: skip
    """One program a row: the residual add, then RMSNorm."""
    b = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < D
    out = _project(y, stride_y, b, cols, cmask, bias, delta, stride_d, M, index, HAS_BIAS, HAS_DELTA, HAS_M)
    xn = tl.load(x + b * D + cols, mask=cmask, other=0.0).to(tl.float32) + out
    xn = xn.to(x_out.dtype.element_ty)  # the model keeps its residual stream in its dtype
    tl.store(x_out + b * D + cols, xn, mask=cmask)
    xf = xn.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(xf * xf, axis=0) / D + eps)
    normed = (xf * rstd).to(h_out.dtype.element_ty).to(tl.float32)  # cast back, then scale: HF's order
    hv = tl.load(w + cols, mask=cmask, other=0.0).to(tl.float32) * normed
    tl.store(h_out + b * D + cols, hv.to(h_out.dtype.element_ty), mask=cmask)


def add_rms_norm(x, y, bias, adapted, index, weight, eps: float):
    B, D = x.shape
    x_out, h = torch.empty_like(x), torch.empty_like(x)
    proj, flags = _adapter_args(adapted, index, y, bias)
    block = next_pow2(D)
    _add_rms_kernel[(B,)](
        x, y, y.stride(0), *proj, weight, x_out, h, eps, D, BLOCK_N=block, **flags,
        num_warps=8 if block <= 8192 else 16,
    )  # fmt: skip
    return x_out, h


@triton.jit
def _rms_kernel(x, w, h_out, eps, D, BLOCK_N: tl.constexpr):
    b = tl.program_id(0)
    sq = tl.zeros([BLOCK_N], tl.float32)
    for c0 in range(0, D, BLOCK_N):
        cols = c0 + tl.arange(0, BLOCK_N)
        xf = tl.load(x + b * D + cols, mask=cols < D, other=0.0).to(tl.float32)
        sq += xf * xf
    rstd = 1.0 / tl.sqrt(tl.sum(sq, axis=0) / D + eps)
    for c0 in range(0, D, BLOCK_N):
        cols = c0 + tl.arange(0, BLOCK_N)
        cmask = cols < D
        xf = tl.load(x + b * D + cols, mask=cmask, other=0.0).to(tl.float32)
        normed = (xf * rstd).to(h_out.dtype.element_ty).to(tl.float32)
        hv = tl.load(w + cols, mask=cmask, other=0.0).to(tl.float32) * normed
        tl.store(h_out + b * D + cols, hv.to(h_out.dtype.element_ty), mask=cmask)


def rms_norm(x, weight, eps: float):
    """Only for rows [B, D] (the step's first norm); per-head norms live in qkv_rope_cache."""
    B, D = x.shape
    h = torch.empty_like(x)
    _rms_kernel[(B,)](x, weight, h, eps, D, BLOCK_N=min(next_pow2(D), 2048), num_warps=8)
    return h


@triton.jit
def _swiglu_kernel(y, stride_y, bias, delta, stride_d, M, index, keep, out, F, BLOCK_N: tl.constexpr,
                   HAS_BIAS: tl.constexpr, HAS_DELTA: tl.constexpr, HAS_M: tl.constexpr,
                   HAS_KEEP: tl.constexpr):  # fmt: skip
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < F
    gate = _project(y, stride_y, b, cols, cmask, bias, delta, stride_d, M, index, HAS_BIAS, HAS_DELTA, HAS_M)
    up = _project(
        y, stride_y, b, F + cols, cmask, bias, delta, stride_d, M, index, HAS_BIAS, HAS_DELTA, HAS_M
    )
    act = gate / (1.0 + tl.exp(-gate)) * up
    if HAS_KEEP:
        act *= tl.load(keep + b * F + cols, mask=cmask, other=0.0).to(tl.float32)
    tl.store(out + b * F + cols, act.to(out.dtype.element_ty), mask=cmask)


def swiglu(y, d_ff: int, bias, adapted, index, keep):
    B = y.shape[0]
    out = torch.empty(B, d_ff, device=y.device, dtype=y.dtype)
    proj, flags = _adapter_args(adapted, index, y, bias)
    block = min(1024, next_pow2(d_ff))
    _swiglu_kernel[(B, triton.cdiv(d_ff, block))](
        y, y.stride(0), *proj, keep if keep is not None else y, out, d_ff, BLOCK_N=block, **flags,
        HAS_KEEP=keep is not None,
    )  # fmt: skip
    return out
