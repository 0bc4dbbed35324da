"""Decode attention for the CUDA step (kernels.py's `attend`, fused.attend's math), as Triton kernels.

Flash-decoding (split-K, as FlashInfer and vLLM's paged attention do for one query token): the columns of
each (row, kv head) are cut into splits that run in parallel, each with its own online softmax on tensor
cores (the kv head's G query heads padded to a 16-row tile), then one small kernel merges the splits. A
batch-1 step has 8 kv heads on an 8B model: without splits 8 programs would stream the whole cache on 8
of the GPU's 132 SMs. Row b sees columns [0, pos[b]] of slot b of the caches [N, Hkv, S_max, Dh].
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


def next_pow2(n: int) -> int:
    return triton.next_power_of_2(max(1, n))


@triton.jit
def _attn_split_kernel(
    q,
    kc,
    vc,
    pos,
    m_out,
    l_out,
    acc_out,
    scale,
    HKV,
    S_MAX,
    PER_SPLIT,
    SPLITS,
    G: tl.constexpr,
    BLOCK_G: tl.constexpr,
    DH: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_S: tl.constexpr,
    IEEE: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)  # kv head
    sp = tl.program_id(2)
    last = tl.load(pos + b)  # row b sees columns [0, last]
    g = tl.arange(0, BLOCK_G)
    d = tl.arange(0, BLOCK_D)
    gmask, dmask = g < G, d < DH
    qv = tl.load(
        q + ((b * HKV + h) * G + g[:, None]) * DH + d[None, :],
        mask=gmask[:, None] & dmask[None, :],
        other=0.0,
    )  # [BLOCK_G >= 16, D]: the G query heads, padded to a tensor-core tile with zero rows
    m_i = tl.full([BLOCK_G], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_G], tl.float32)
    acc = tl.zeros([BLOCK_G, BLOCK_D], tl.float32)
    start = sp * PER_SPLIT
    base = (b * HKV + h) * S_MAX * DH
    for i in range(0, PER_SPLIT, BLOCK_S):
        s0 = start + i
        if s0 <= last:  # a tile past the row's last column is skipped; one that runs sees a column
            cols = s0 + tl.arange(0, BLOCK_S)
            visible = cols <= last
            kv_mask = visible[:, None] & dmask[None, :]
            k = tl.load(kc + base + cols[:, None] * DH + d[None, :], mask=kv_mask, other=0.0)
            v = tl.load(vc + base + cols[:, None] * DH + d[None, :], mask=kv_mask, other=0.0)
            if IEEE:  # an fp32 model: full-precision products, not TF32
                qk = tl.dot(qv, tl.trans(k), input_precision="ieee")
            else:
                qk = tl.dot(qv, tl.trans(k))  # [G, S], fp32 accumulation
            qk = tl.where(visible[None, :], qk * scale, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(qk, axis=1))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(qk - m_new[:, None])
            if IEEE:
                acc = acc * alpha[:, None] + tl.dot(p, v, input_precision="ieee")
            else:
                acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            l_i = l_i * alpha + tl.sum(p, axis=1)
            m_i = m_new
    o = ((b * HKV + h) * SPLITS + sp) * BLOCK_G
    tl.store(m_out + o + g, m_i)
    tl.store(l_out + o + g, l_i)
    tl.store(acc_out + (o + g[:, None]) * BLOCK_D + d[None, :], acc)


@triton.jit
def _attn_merge_kernel(
    m_in,
    l_in,
    acc_in,
    out,
    HKV,
    SPLITS,
    G: tl.constexpr,
    BLOCK_G: tl.constexpr,
    DH: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)
    g = tl.arange(0, BLOCK_G)
    d = tl.arange(0, BLOCK_D)
    first = (b * HKV + h) * SPLITS * BLOCK_G
    m = tl.load(m_in + first + g)  # split 0 always holds column 0: finite
    for sp in range(1, SPLITS):
        m = tl.maximum(m, tl.load(m_in + first + sp * BLOCK_G + g))
    total = tl.zeros([BLOCK_G], tl.float32)
    acc = tl.zeros([BLOCK_G, BLOCK_D], tl.float32)
    for sp in range(0, SPLITS):
        o = first + sp * BLOCK_G
        w = tl.exp(tl.load(m_in + o + g) - m)  # an empty split: exp(-inf) = 0
        total += w * tl.load(l_in + o + g)
        acc += w[:, None] * tl.load(acc_in + (o + g[:, None]) * BLOCK_D + d[None, :])
    res = acc / total[:, None]
    mask = (g[:, None] < G) & (d[None, :] < DH)
    tl.store(
        out + ((b * HKV + h) * G + g[:, None]) * DH + d[None, :], res.to(out.dtype.element_ty), mask=mask
    )


BLOCK_S = 32
TARGET_PROGRAMS = 256  # about two per SM on an H100/H200: enough splits to keep the memory system busy


def splits_for(B: int, n_kv: int, S: int) -> int:
    """How many column splits per (row, kv head): a power of two, at most one per BLOCK_S columns."""
    want = max(1, TARGET_PROGRAMS // max(1, B * n_kv))
    return min(next_pow2(want), max(1, S // BLOCK_S))


def attend(q, kc, vc, pos, S: int, scale: float) -> torch.Tensor:
    B, H, Dh = q.shape
    n_kv = kc.shape[1]
    G = H // n_kv
    splits = splits_for(B, n_kv, S)
    per_split = -(-S // splits)
    per_split = -(-per_split // BLOCK_S) * BLOCK_S
    BG, BD = max(16, next_pow2(G)), max(16, next_pow2(Dh))  # tensor-core tiles are at least 16 a side
    f32 = dict(device=q.device, dtype=torch.float32)
    m = torch.empty(B, n_kv, splits, BG, **f32)
    lsum = torch.empty(B, n_kv, splits, BG, **f32)
    acc = torch.empty(B, n_kv, splits, BG, BD, **f32)
    _attn_split_kernel[(B, n_kv, splits)](
        q,
        kc,
        vc,
        pos,
        m,
        lsum,
        acc,
        scale,
        n_kv,
        kc.shape[2],
        per_split,
        splits,
        G=G,
        BLOCK_G=BG,
        DH=Dh,
        BLOCK_D=BD,
        BLOCK_S=BLOCK_S,
        IEEE=q.dtype == torch.float32,
    )
    out = torch.empty(B, H, Dh, device=q.device, dtype=q.dtype)
    _attn_merge_kernel[(B, n_kv)](m, lsum, acc, out, n_kv, splits, G=G, BLOCK_G=BG, DH=Dh, BLOCK_D=BD)
    return out.view(B, H * Dh)
