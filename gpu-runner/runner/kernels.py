"""fused.py's functions as Triton kernels, for the CUDA decode step (slots.py).

Same signatures and the same math as fused.py (which tests/test_kernels.py holds these to: compiled on a
GPU, in Triton's interpreter on a CPU), fp32 inside each kernel:
- qkv_rope_cache: one program per (row block, head) of q|k|v: the adapters' expansion, bias, per-head
  norm, rotary, and k/v stored straight into each row's slot (vLLM's "reshape_and_cache" folded in);
- attend: flash-decoding on tensor cores, in its own file (decode_attention.py);
- add_rms_norm: residual add (rounded to the model's dtype, as the model stores its residual stream), then
  RMSNorm, one program a row; with adapters, their expansion runs first, in place (`_expand_kernel`);
- swiglu: silu(gate) * up * keep, blocks of (rows, columns).

Adapters (bench/gpu/README.md: what they cost). The product's stacked lora_A rows already gave each row
h = x A^T (packed.py); the expansion h Bt is a tensor-core product per block of BM = 16 rows (Punica's
SGMV idea: each lora_B tile read once per row block, not once per row), computed inside the glue kernel
that consumes the projection (q|k|v, gate|up: columns are independent there), or, for o and down, whose
glue normalises whole rows, by one small kernel before it. No load waits for a row's adapter number:
h, Bt and the owners are read together and a row's foreign ranks multiplied by zero, so the expansion
costs one memory round trip, not three. Without adapters a program holds one row (BM = 1).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .decode_attention import attend, next_pow2  # noqa: F401  (attend: the step's `fn.attend`)

RANK_TILE: tl.constexpr = tl.constexpr(16)  # adapter ranks one tensor-core product takes
ROWS = 16  # rows a program holds when adapters run (a tensor-core product's smallest M)


@triton.jit
def _delta(y, stride_y, n, rows, rmask, cols, cmask, Bt, owner, idx, r_off, r_len, BLOCK_R: tl.constexpr,
           IEEE: tl.constexpr):  # fmt: skip
    """Each row's own adapter's expansion at columns `cols` [BN] (of one member) of rows `rows` [BM]: sum
    over the member's ranks r in [r_off, r_off + r_len) of h[row, r] Bt[r, cols] where owner[r] ==
    idx[row] (base rows, idx 0, own no rank). [BM, BN] fp32."""
    acc = tl.zeros([rows.shape[0], cols.shape[0]], dtype=tl.float32)
    for r0 in tl.static_range(0, BLOCK_R, RANK_TILE):  # unrolled: every load in flight together
        k = r0 + tl.arange(0, RANK_TILE)
        inside = k < r_len
        r = r_off + k
        own = tl.load(owner + r, mask=inside, other=-1)
        h = tl.load(y + rows[:, None] * stride_y + n + r[None, :], mask=rmask[:, None] & inside[None, :], other=0.0)
        h = tl.where(idx[:, None] == own[None, :], h, tl.zeros_like(h))
        bt = tl.load(Bt + r[:, None] * n + cols[None, :], mask=inside[:, None] & cmask[None, :], other=0.0)
        if IEEE:  # an fp32 model: full-precision products, not TF32
            acc += tl.dot(h.to(tl.float32), bt.to(tl.float32), input_precision="ieee")
        else:
            acc += tl.dot(h.to(bt.dtype), bt)
    return acc


@triton.jit
def _project(y, stride_y, n, rows, rmask, cols, cmask, bias, Bt, owner, M, idx, r_off, r_len,
             HAS_BIAS: tl.constexpr, HAS_LORA: tl.constexpr, HAS_M: tl.constexpr, BLOCK_R: tl.constexpr,
             IEEE: tl.constexpr):  # fmt: skip
    """fused.project at columns `cols` (of one member) of rows `rows`: [BM, BN] fp32."""
    both = rmask[:, None] & cmask[None, :]
    out = tl.load(y + rows[:, None] * stride_y + cols[None, :], mask=both, other=0.0).to(tl.float32)
    if HAS_LORA:
        out += _delta(y, stride_y, n, rows, rmask, cols, cmask, Bt, owner, idx, r_off, r_len, BLOCK_R, IEEE)
        if HAS_M:
            out *= tl.load(M + idx[:, None] * n + cols[None, :], mask=both, other=1.0).to(tl.float32)
    if HAS_BIAS:
        out += tl.load(bias + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
    return out


@triton.jit
def _adapters_of(index, rows, rmask, HAS_LORA: tl.constexpr):
    """[BM] each row's adapter number (0 = base)."""
    if HAS_LORA:
        return tl.load(index + rows, mask=rmask, other=0)
    else:
        return rows * 0


def _lora_args(lora, index, y, bias, members: int):
    """The projection's pointers (bias, Bt, owner, M, index), each member's rank span (first, count: plain
    ints, fixed in a captured graph; packing again drops the graphs) and the constexpr flags every glue
    kernel takes (BM: rows a program holds); dummies (never read) where there is no bias or no adapter."""
    flags = dict(HAS_BIAS=bias is not None, HAS_LORA=lora is not None, HAS_M=False, BLOCK_R=16, BM=1,
                 IEEE=y.dtype == torch.float32)  # fmt: skip
    b = bias if bias is not None else y
    if lora is None:
        return (b, y, y, y, y), (0,) * (2 * members), flags
    spans = lora.spans or ((0, lora.owner.numel()),) * members
    assert len(spans) == members, f"{len(spans)} rank spans for {members} members"
    flags.update(HAS_M=lora.M is not None, BLOCK_R=max(16, next_pow2(max(c for _, c in spans))), BM=ROWS)
    M = lora.M if lora.M is not None else y
    return (b, lora.Bt, lora.owner, M, index), tuple(v for span in spans for v in span), flags


@triton.jit
def _expand_kernel(y, stride_y, bias, Bt, owner, M, index, r_off, r_len, n, B, BN: tl.constexpr,
                   HAS_BIAS: tl.constexpr, HAS_LORA: tl.constexpr, HAS_M: tl.constexpr, BLOCK_R: tl.constexpr,
                   BM: tl.constexpr, IEEE: tl.constexpr):  # fmt: skip
    """y[:, :n] = fused.project(y, n, None, lora, index), in place, for a block of rows and columns."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    rmask, cmask = rows < B, cols < n
    idx = _adapters_of(index, rows, rmask, HAS_LORA)
    out = _project(y, stride_y, n, rows, rmask, cols, cmask, bias, Bt, owner, M, idx, r_off, r_len, False,
                   HAS_LORA, HAS_M, BLOCK_R, IEEE)  # fmt: skip
    tl.store(y + rows[:, None] * stride_y + cols[None, :], out.to(y.dtype.element_ty),
             mask=rmask[:, None] & cmask[None, :])  # fmt: skip


@triton.jit
def _qkv_kernel(y, stride_y, bias, Bt, owner, M, index, q_off, q_len, k_off, k_len, v_off, v_len, cos, sin, kc,
                vc, pos, q_out, qn_w, kn_w, eps, B, H, HKV, S_MAX, DH: tl.constexpr, BLOCK_H: tl.constexpr,
                HAS_BIAS: tl.constexpr, HAS_LORA: tl.constexpr, HAS_M: tl.constexpr, BLOCK_R: tl.constexpr,
                BM: tl.constexpr, IEEE: tl.constexpr, QK_NORM: tl.constexpr):  # fmt: skip
    """A head's two halves (rotary pairs column d with d + Dh/2) for a block of rows: each half's columns
    and its adapter ranks are read once."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    j = tl.program_id(1)  # head: q heads [0, H), k heads [H, H + HKV), v heads after
    rmask = rows < B
    n = (H + 2 * HKV) * DH
    half: tl.constexpr = DH // 2
    is_q, is_k = j < H, (j >= H) & (j < H + HKV)
    r_off = tl.where(is_q, q_off, tl.where(is_k, k_off, v_off))
    r_len = tl.where(is_q, q_len, tl.where(is_k, k_len, v_len))
    idx = _adapters_of(index, rows, rmask, HAS_LORA)
    e = tl.arange(0, BLOCK_H)
    emask = e < half
    both = rmask[:, None] & emask[None, :]
    x1 = _project(y, stride_y, n, rows, rmask, j * DH + e, emask, bias, Bt, owner, M, idx, r_off, r_len,
                  HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R, IEEE)  # fmt: skip
    x2 = _project(y, stride_y, n, rows, rmask, j * DH + half + e, emask, bias, Bt, owner, M, idx, r_off, r_len,
                  HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R, IEEE)  # fmt: skip
    if j < H + HKV:  # q or k: norm (Qwen-3), then rotary
        if QK_NORM:
            w_ptr = qn_w if j < H else kn_w
            rstd = 1.0 / tl.sqrt((tl.sum(x1 * x1, axis=1) + tl.sum(x2 * x2, axis=1)) / DH + eps)
            x1 = x1 * rstd[:, None] * tl.load(w_ptr + e, mask=emask, other=0.0).to(tl.float32)[None, :]
            x2 = x2 * rstd[:, None] * tl.load(w_ptr + half + e, mask=emask, other=0.0).to(tl.float32)[None, :]
        at = rows[:, None] * DH + e[None, :]
        c1 = tl.load(cos + at, mask=both, other=0.0).to(tl.float32)
        c2 = tl.load(cos + at + half, mask=both, other=0.0).to(tl.float32)
        s1 = tl.load(sin + at, mask=both, other=0.0).to(tl.float32)
        s2 = tl.load(sin + at + half, mask=both, other=0.0).to(tl.float32)
        x1, x2 = x1 * c1 - x2 * s1, x2 * c2 + x1 * s2
    p = tl.load(pos + rows, mask=rmask, other=0)
    slot = ((rows[:, None] * HKV + tl.where(j < H + HKV, j - H, j - H - HKV)) * S_MAX + p[:, None]) * DH
    if j < H:
        at = (rows[:, None] * H + j) * DH + e[None, :]
        tl.store(q_out + at, x1.to(q_out.dtype.element_ty), mask=both)
        tl.store(q_out + at + half, x2.to(q_out.dtype.element_ty), mask=both)
    elif j < H + HKV:
        tl.store(kc + slot + e[None, :], x1.to(kc.dtype.element_ty), mask=both)
        tl.store(kc + slot + half + e[None, :], x2.to(kc.dtype.element_ty), mask=both)
    else:
        tl.store(vc + slot + e[None, :], x1.to(vc.dtype.element_ty), mask=both)
        tl.store(vc + slot + half + e[None, :], x2.to(vc.dtype.element_ty), mask=both)


def qkv_rope_cache(y, n_heads, n_kv, bias, lora, index, cos, sin, kc, vc, pos, q_norm=None, k_norm=None):
    B, Dh = y.shape[0], kc.shape[-1]
    q = torch.empty(B, n_heads, Dh, device=y.device, dtype=y.dtype)
    proj, spans, flags = _lora_args(lora, index, y, bias, 3)
    qn_w, eps = q_norm if q_norm is not None else (y, 0.0)
    kn_w = k_norm[0] if k_norm is not None else y
    _qkv_kernel[(triton.cdiv(B, flags["BM"]), n_heads + 2 * n_kv)](
        y, y.stride(0), *proj, *spans, cos.contiguous(), sin.contiguous(), kc, vc, pos, q, qn_w, kn_w, eps, B,
        n_heads, n_kv, kc.shape[2], DH=Dh, BLOCK_H=max(16, next_pow2(Dh // 2)), **flags,
        QK_NORM=q_norm is not None,
    )  # fmt: skip
    return q


@triton.jit
def _add_rms_kernel(x, y, stride_y, bias, w, x_out, h_out, eps, D, BLOCK_N: tl.constexpr, HAS_BIAS: tl.constexpr):
    """One program a row: the residual add (adapters already expanded into y), then RMSNorm."""
    b = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < D
    out = tl.load(y + b * stride_y + cols, mask=cmask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        out += tl.load(bias + cols, mask=cmask, other=0.0).to(tl.float32)
    xn = tl.load(x + b * D + cols, mask=cmask, other=0.0).to(tl.float32) + out
    xn = xn.to(x_out.dtype.element_ty)  # the model keeps its residual stream in its dtype
    tl.store(x_out + b * D + cols, xn, mask=cmask)
    xf = xn.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(xf * xf, axis=0) / D + eps)
    normed = (xf * rstd).to(h_out.dtype.element_ty).to(tl.float32)  # cast back, then scale: HF's order
    hv = tl.load(w + cols, mask=cmask, other=0.0).to(tl.float32) * normed
    tl.store(h_out + b * D + cols, hv.to(h_out.dtype.element_ty), mask=cmask)


EXPAND_COLUMNS = 64  # columns an expansion program covers (o, down: 4096 outputs, 64 programs a row block)


def _expand(y, n: int, lora, index) -> None:
    """y[:, :n] += each row's adapter's expansion (times DoRA's scale), in place: one product per block of
    ROWS rows and EXPAND_COLUMNS columns."""
    proj, spans, flags = _lora_args(lora, index, y, None, 1)
    B = y.shape[0]
    _expand_kernel[(triton.cdiv(B, flags["BM"]), triton.cdiv(n, EXPAND_COLUMNS))](
        y, y.stride(0), *proj, *spans, n, B, BN=EXPAND_COLUMNS, **flags
    )


def add_rms_norm(x, y, bias, lora, index, weight, eps: float):
    B, D = x.shape
    if lora is not None:  # y is the product's own output, a temporary: expanded in place
        _expand(y, D, lora, index)
    x_out, h = torch.empty_like(x), torch.empty_like(x)
    block = next_pow2(D)
    _add_rms_kernel[(B,)](
        x, y, y.stride(0), bias if bias is not None else y, weight, x_out, h, eps, D, BLOCK_N=block,
        HAS_BIAS=bias is not None, num_warps=8 if block <= 8192 else 16,
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
def _swiglu_kernel(y, stride_y, bias, Bt, owner, M, index, g_off, g_len, u_off, u_len, keep, out, F, B,
                   BLOCK_N: tl.constexpr,
                   HAS_BIAS: tl.constexpr, HAS_LORA: tl.constexpr, HAS_M: tl.constexpr, BLOCK_R: tl.constexpr,
                   BM: tl.constexpr, IEEE: tl.constexpr, HAS_KEEP: tl.constexpr):  # fmt: skip
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask, cmask = rows < B, cols < F
    both = rmask[:, None] & cmask[None, :]
    idx = _adapters_of(index, rows, rmask, HAS_LORA)
    n = 2 * F
    gate = _project(y, stride_y, n, rows, rmask, cols, cmask, bias, Bt, owner, M, idx, g_off, g_len, HAS_BIAS,
                    HAS_LORA, HAS_M, BLOCK_R, IEEE)  # fmt: skip
    up = _project(y, stride_y, n, rows, rmask, F + cols, cmask, bias, Bt, owner, M, idx, u_off, u_len,
                  HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R, IEEE)  # fmt: skip
    act = gate / (1.0 + tl.exp(-gate)) * up
    if HAS_KEEP:
        act *= tl.load(keep + rows[:, None] * F + cols[None, :], mask=both, other=0.0).to(tl.float32)
    tl.store(out + rows[:, None] * F + cols[None, :], act.to(out.dtype.element_ty), mask=both)


SWIGLU_COLUMNS = (1024, 128)  # columns a SwiGLU program covers: one row, or (adapters) a block of ROWS rows


def swiglu(y, d_ff: int, bias, lora, index, keep):
    B = y.shape[0]
    out = torch.empty(B, d_ff, device=y.device, dtype=y.dtype)
    proj, spans, flags = _lora_args(lora, index, y, bias, 2)
    block = min(SWIGLU_COLUMNS[lora is not None], max(16, next_pow2(d_ff)))
    _swiglu_kernel[(triton.cdiv(B, flags["BM"]), triton.cdiv(d_ff, block))](
        y, y.stride(0), *proj, *spans, keep if keep is not None else y, out, d_ff, B, BLOCK_N=block, **flags,
        HAS_KEEP=keep is not None,
    )  # fmt: skip
    return out
