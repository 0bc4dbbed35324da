"""fused.py's functions as Triton kernels, for the CUDA decode step (slots.py).

Same signatures and the same math as fused.py (which tests/test_kernels.py holds these to: compiled on a
GPU, in Triton's interpreter on a CPU), fp32 inside each kernel:
- qkv_rope_cache: one program per (row, head) of q|k|v: the adapters' expansion, bias, per-head norm,
  rotary, and k/v stored straight into the row's slot (vLLM's "reshape_and_cache" folded in);
- attend: flash-decoding on tensor cores, in its own file (decode_attention.py);
- add_rms_norm: residual add (rounded to the model's dtype, as the model stores its residual stream), then
  RMSNorm: one program a row, or, with adapters, blocks of columns of which the last to finish normalises;
- swiglu: silu(gate) * up * keep, blocks of columns.
The adapters' expansion is a short reduction over the stacked ranks inside each kernel (R is 16 for a
rank-16 LoRA; the product's lora_A rows ran inside the packed matrix product), so adapters add no kernel,
but each adapter row reads its layer's lora_B itself (bench/gpu/README.md: what that costs).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .decode_attention import attend, next_pow2  # noqa: F401  (attend: the step's `fn.attend`)

RANK_TILE: tl.constexpr = tl.constexpr(32)  # adapter ranks one load reads


@triton.jit
def _delta(y_row, n, cols, cmask, Bt, owner, idx, R, HAS_LORA: tl.constexpr, BLOCK_R: tl.constexpr):
    """A row's own adapter's expansion at output columns `cols`: sum over its ranks r of h[r] Bt[r, cols].
    All ranks at once (RANK_TILE a load, unrolled up to BLOCK_R >= R), loads without a loop or a branch
    before or between them, so they are in flight together (a loop over ranks, or a branch on the row's
    adapter, waits for memory at every turn): a base row's loads are masked off (no traffic), other
    adapters' ranks are read and multiplied by zero, and a row's expansion is one round trip to memory."""
    acc = tl.zeros(cols.shape, dtype=tl.float32)
    if HAS_LORA:
        for r0 in tl.static_range(0, BLOCK_R, RANK_TILE):
            rr = r0 + tl.arange(0, RANK_TILE)
            live = (rr < R) & ((rr * 0 + idx) != 0)  # a base row's loads are all masked off: no traffic
            own = tl.load(owner + rr, mask=live, other=-1) == idx
            h = tl.where(own, tl.load(y_row + n + rr, mask=live, other=0.0).to(tl.float32), 0.0)
            tile = tl.load(
                Bt + rr[:, None] * n + cols[None, :], mask=live[:, None] & cmask[None, :], other=0.0
            )
            acc += tl.sum(h[:, None] * tile.to(tl.float32), axis=0)
    return acc


@triton.jit
def _project(
    y_row,
    n,
    cols,
    cmask,
    bias,
    Bt,
    owner,
    M,
    idx,
    R,
    HAS_BIAS: tl.constexpr,
    HAS_LORA: tl.constexpr,
    HAS_M: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    """fused.project at columns `cols` of one row, in fp32."""
    out = tl.load(y_row + cols, mask=cmask, other=0.0).to(tl.float32)
    out += _delta(y_row, n, cols, cmask, Bt, owner, idx, R, HAS_LORA, BLOCK_R)
    if HAS_M:
        out *= tl.load(M + idx * n + cols, mask=cmask, other=1.0).to(tl.float32)
    if HAS_BIAS:
        out += tl.load(bias + cols, mask=cmask, other=0.0).to(tl.float32)
    return out


@triton.jit
def _row_adapter(index, b, HAS_LORA: tl.constexpr):
    if HAS_LORA:
        return tl.load(index + b)
    else:
        return 0


BLOCKED_ROWS = 8  # from this many rows a step, adapters' expansion runs as one product per row block


@triton.jit
def _expand_kernel(
    y,
    stride_y,
    Bt,
    owner,
    M,
    index,
    n,
    R,
    B,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_R: tl.constexpr,
    HAS_M: tl.constexpr,
    IEEE: tl.constexpr,
):
    """y[:, :n] += each row's own adapter's expansion of y[:, n:] (times DoRA's scale), in place, for a
    block of rows and columns: every lora_B tile is read once per block of rows (Punica's SGMV idea), not
    once per row."""
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask, cmask = rows < B, cols < n
    idx = tl.load(index + rows, mask=rmask, other=0)
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for r0 in range(0, R, BLOCK_R):
        r = r0 + tl.arange(0, BLOCK_R)
        inside = r < R
        own = tl.load(owner + r, mask=inside, other=-1)
        sel = (idx[:, None] == own[None, :]) & (idx[:, None] != 0) & rmask[:, None] & inside[None, :]
        h = tl.load(y + rows[:, None] * stride_y + n + r[None, :], mask=sel, other=0.0)
        bt = tl.load(Bt + r[:, None] * n + cols[None, :], mask=inside[:, None] & cmask[None, :], other=0.0)
        if IEEE:
            acc += tl.dot(h.to(tl.float32), bt.to(tl.float32), input_precision="ieee")
        else:
            acc += tl.dot(h.to(bt.dtype), bt)
    both = rmask[:, None] & cmask[None, :]
    ptr = y + rows[:, None] * stride_y + cols[None, :]
    out = tl.load(ptr, mask=both, other=0.0).to(tl.float32) + acc
    if HAS_M:
        out *= tl.load(M + idx[:, None] * n + cols[None, :], mask=both, other=1.0).to(tl.float32)
    tl.store(ptr, out.to(y.dtype.element_ty), mask=both)


def _expand_rows(y, n: int, lora, index):
    """With BLOCKED_ROWS rows or more, expand every adapter row into y[:, :n] now (one product per block of
    rows) and return None, so the glue kernel runs without adapters; else return `lora` for the glue's own
    per-row expansion (fewer kernels: better for a few rows)."""
    B = y.shape[0]
    if lora is None or B < BLOCKED_ROWS:
        return lora
    _expand_kernel[(triton.cdiv(B, 16), triton.cdiv(n, 128))](
        y,
        y.stride(0),
        lora.Bt,
        lora.owner,
        lora.M if lora.M is not None else y,
        index,
        n,
        lora.owner.numel(),
        B,
        BLOCK_M=16,
        BLOCK_N=128,
        BLOCK_R=32,
        HAS_M=lora.M is not None,
        IEEE=y.dtype == torch.float32,
    )
    return None


def _lora_args(lora, index, y, bias):
    """The projection's pointers (bias, Bt, owner, M, index, R) and constexpr flags for every glue kernel;
    dummies (never read) where there is no bias or no adapter."""
    flags = dict(HAS_BIAS=bias is not None, HAS_LORA=lora is not None, HAS_M=False, BLOCK_R=32)
    b = bias if bias is not None else y
    if lora is None:
        return (b, y, y, y, y, 0), flags
    R = lora.owner.numel()
    flags.update(HAS_M=lora.M is not None, BLOCK_R=max(32, next_pow2(R)))
    return (b, lora.Bt, lora.owner, lora.M if lora.M is not None else y, index, R), flags


@triton.jit
def _qkv_kernel(
    y,
    stride_y,
    bias,
    Bt,
    owner,
    M,
    index,
    R,
    cos,
    sin,
    kc,
    vc,
    pos,
    q_out,
    qn_w,
    kn_w,
    eps,
    H,
    HKV,
    S_MAX,
    DH: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    HAS_LORA: tl.constexpr,
    HAS_M: tl.constexpr,
    BLOCK_R: tl.constexpr,
    QK_NORM: tl.constexpr,
):
    b = tl.program_id(0)
    j = tl.program_id(1)  # head: q heads [0, H), k heads [H, H + HKV), v heads after
    n = (H + 2 * HKV) * DH
    y_row = y + b * stride_y
    idx = _row_adapter(index, b, HAS_LORA)
    d = tl.arange(0, BLOCK_D)
    dmask = d < DH
    half = DH // 2
    partner = tl.where(d < half, d + half, d - half)
    cols = j * DH + d
    x = _project(y_row, n, cols, dmask, bias, Bt, owner, M, idx, R, HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R)
    if j < H + HKV:  # q or k: norm (Qwen-3), then rotary
        xp = _project(
            y_row, n, j * DH + partner, dmask, bias, Bt, owner, M, idx, R, HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R
        )
        if QK_NORM:
            w_ptr = qn_w if j < H else kn_w
            rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / DH + eps)
            x = x * rstd * tl.load(w_ptr + d, mask=dmask, other=0.0).to(tl.float32)
            xp = xp * rstd * tl.load(w_ptr + partner, mask=dmask, other=0.0).to(tl.float32)
        c = tl.load(cos + b * DH + d, mask=dmask, other=0.0).to(tl.float32)
        s = tl.load(sin + b * DH + d, mask=dmask, other=0.0).to(tl.float32)
        x = x * c + tl.where(d < half, -xp, xp) * s
    p = tl.load(pos + b)
    if j < H:
        tl.store(q_out + (b * H + j) * DH + d, x.to(q_out.dtype.element_ty), mask=dmask)
    elif j < H + HKV:
        tl.store(kc + ((b * HKV + (j - H)) * S_MAX + p) * DH + d, x.to(kc.dtype.element_ty), mask=dmask)
    else:
        tl.store(vc + ((b * HKV + (j - H - HKV)) * S_MAX + p) * DH + d, x.to(vc.dtype.element_ty), mask=dmask)


def qkv_rope_cache(y, n_heads, n_kv, bias, lora, index, cos, sin, kc, vc, pos, q_norm=None, k_norm=None):
    B, Dh = y.shape[0], kc.shape[-1]
    q = torch.empty(B, n_heads, Dh, device=y.device, dtype=y.dtype)
    lora = _expand_rows(y, (n_heads + 2 * n_kv) * Dh, lora, index)
    proj, flags = _lora_args(lora, index, y, bias)
    qn_w, eps = q_norm if q_norm is not None else (y, 0.0)
    kn_w = k_norm[0] if k_norm is not None else y
    _qkv_kernel[(B, n_heads + 2 * n_kv)](
        y,
        y.stride(0),
        *proj,
        cos.contiguous(),
        sin.contiguous(),
        kc,
        vc,
        pos,
        q,
        qn_w,
        kn_w,
        eps,
        n_heads,
        n_kv,
        kc.shape[2],
        DH=Dh,
        BLOCK_D=next_pow2(Dh),
        **flags,
        QK_NORM=q_norm is not None,
    )
    return q


@triton.jit
def _add_rms_kernel(
    x,
    y,
    stride_y,
    bias,
    Bt,
    owner,
    M,
    index,
    R,
    w,
    x_out,
    h_out,
    parts,
    count,
    eps,
    D,
    BLOCK_N: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    HAS_LORA: tl.constexpr,
    HAS_M: tl.constexpr,
    BLOCK_R: tl.constexpr,
    SPLIT: tl.constexpr,
    NORM_BLOCK: tl.constexpr,
):
    """Programs (row, column block): each adds its block to the residual stream and stores its block's
    sum of squares; the row's last block to finish (an atomic count, reset by it) normalises the row."""
    b = tl.program_id(0)
    blk = tl.program_id(1)
    nblk = tl.num_programs(1)
    y_row = y + b * stride_y
    idx = _row_adapter(index, b, HAS_LORA)
    cols = blk * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < D
    out = _project(y_row, D, cols, cmask, bias, Bt, owner, M, idx, R, HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R)
    xn = tl.load(x + b * D + cols, mask=cmask, other=0.0).to(tl.float32) + out
    xn = xn.to(x_out.dtype.element_ty)  # the model keeps its residual stream in its dtype
    tl.store(x_out + b * D + cols, xn, mask=cmask)
    xf = xn.to(tl.float32)
    if not SPLIT:  # the whole row in this one program: normalise what it holds
        rstd = 1.0 / tl.sqrt(tl.sum(xf * xf, axis=0) / D + eps)
        normed = (xf * rstd).to(h_out.dtype.element_ty).to(tl.float32)  # cast back, then scale: HF's order
        hv = tl.load(w + cols, mask=cmask, other=0.0).to(tl.float32) * normed
        tl.store(h_out + b * D + cols, hv.to(h_out.dtype.element_ty), mask=cmask)
    else:
        tl.store(parts + b * nblk + blk, tl.sum(xf * xf, axis=0))
        done = tl.atomic_add(
            count + b, 1
        )  # acq_rel: this block's stores are seen by the block that counts last
        if done == nblk - 1:
            tl.store(count + b, 0)  # ready for the next call
            blocks = tl.arange(0, 64)
            parts_b = tl.load(parts + b * nblk + blocks, mask=blocks < nblk, other=0.0, cache_modifier=".cg")
            rstd = 1.0 / tl.sqrt(tl.sum(parts_b, 0) / D + eps)
            for c0 in range(0, D, NORM_BLOCK):  # wide: each turn of this loop waits for memory
                c = c0 + tl.arange(0, NORM_BLOCK)
                m = c < D
                xr = tl.load(x_out + b * D + c, mask=m, other=0.0, cache_modifier=".cg").to(tl.float32)
                normed = (xr * rstd).to(h_out.dtype.element_ty).to(tl.float32)
                hv = tl.load(w + c, mask=m, other=0.0).to(tl.float32) * normed
                tl.store(h_out + b * D + c, hv.to(h_out.dtype.element_ty), mask=m)


_scratch: dict = {}  # device -> (count [rows] int32, parts [rows, 64] fp32): add_rms_norm's cross-block state


def _add_rms_scratch(device, rows: int):
    count, parts = _scratch.get(device, (None, None))
    if count is None or count.numel() < rows:  # first met outside graph capture: a step's warm-up runs first
        count = torch.zeros(max(rows, 64), dtype=torch.int32, device=device)
        parts = torch.zeros(max(rows, 64), 64, dtype=torch.float32, device=device)
        _scratch[device] = (count, parts)
    return count, parts


def add_rms_norm(x, y, bias, lora, index, weight, eps: float):
    B, D = x.shape
    x_out, h = torch.empty_like(x), torch.empty_like(x)
    lora = _expand_rows(y, D, lora, index)
    proj, flags = _lora_args(lora, index, y, bias)
    block = (
        256 if lora is not None else min(next_pow2(D), 8192)
    )  # adapters: more programs share the lora_B reads
    blocks = triton.cdiv(D, block)
    assert blocks <= 64, "the last block sums at most 64 parts"
    count, parts = _add_rms_scratch(x.device, B)
    _add_rms_kernel[(B, blocks)](
        x,
        y,
        y.stride(0),
        *proj,
        weight,
        x_out,
        h,
        parts,
        count,
        eps,
        D,
        BLOCK_N=block,
        **flags,
        SPLIT=blocks > 1,
        NORM_BLOCK=min(next_pow2(D), 4096),
        num_warps=8 if blocks == 1 else 4,
    )
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
def _swiglu_kernel(
    y,
    stride_y,
    bias,
    Bt,
    owner,
    M,
    index,
    R,
    keep,
    out,
    F,
    BLOCK_N: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    HAS_LORA: tl.constexpr,
    HAS_M: tl.constexpr,
    BLOCK_R: tl.constexpr,
    HAS_KEEP: tl.constexpr,
):
    b = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < F
    y_row = y + b * stride_y
    idx = _row_adapter(index, b, HAS_LORA)
    n = 2 * F
    gate = _project(y_row, n, cols, cmask, bias, Bt, owner, M, idx, R, HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R)
    up = _project(y_row, n, F + cols, cmask, bias, Bt, owner, M, idx, R, HAS_BIAS, HAS_LORA, HAS_M, BLOCK_R)
    act = gate / (1.0 + tl.exp(-gate)) * up
    if HAS_KEEP:
        act *= tl.load(keep + b * F + cols, mask=cmask, other=0.0).to(tl.float32)
    tl.store(out + b * F + cols, act.to(out.dtype.element_ty), mask=cmask)


def swiglu(y, d_ff: int, bias, lora, index, keep):
    B = y.shape[0]
    out = torch.empty(B, d_ff, device=y.device, dtype=y.dtype)
    lora = _expand_rows(y, 2 * d_ff, lora, index)
    proj, flags = _lora_args(lora, index, y, bias)
    block = min(256 if lora is not None else 1024, next_pow2(d_ff))
    _swiglu_kernel[(B, triton.cdiv(d_ff, block))](
        y,
        y.stride(0),
        *proj,
        keep if keep is not None else y,
        out,
        d_ff,
        BLOCK_N=block,
        **flags,
        HAS_KEEP=keep is not None,
    )
    return out
