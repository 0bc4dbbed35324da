"""The decode step's glue between its matrix products (slots.py), written once in PyTorch.

A decode step of a Llama-shaped layer is four matrix products over packed weights (packed.py: q|k|v,
o, gate|up, down, each followed by the stacked lora_A rows of the loaded adapters) and, between them, the
glue written here: the adapters' expansion and the bias, rotary, the KV-cache write, attention over each
row's slot, the residual add with the next RMSNorm, and SwiGLU with each row's FFN keep-mask. On CPU these
functions are the step (the tests prove the step equal to Hugging Face's modules and to the growing
cache); on CUDA, kernels.py computes the same functions with one Triton kernel each (two for attention),
so a layer launches ten kernels instead of the ~40 small ones this code launches op by op.

Shapes: B rows; a projection's output y [B, N + R]: N outputs, then R stacked lora_A products h. A row's
adapter (index [B], 0 = base) keeps only its own ranks of h (owner [R]: each rank's adapter number); the
expansion Bt [R, N] has lora_B times its scaling in those rows (transposed: each rank's outputs contiguous); DoRA multiplies a row's outputs by its
adapter's magnitude scale (M [adapters + 1, N], ones for base and plain LoRA).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Lora(NamedTuple):
    """One packed projection's adapters (packed.Group.lora()); R = sum of their ranks."""

    Bt: torch.Tensor  # [R, N] (lora_B x scaling)^T, block by block
    owner: torch.Tensor  # [R] adapter number of each stacked rank
    M: torch.Tensor | None  # [adapters + 1, N] DoRA magnitude scales, or None when no adapter is DoRA
    spans: tuple[tuple[int, int], ...] = ()  # per member (q, k, v; gate, up; o; down): (first rank, count)
    # of the ranks that reach its columns (packed.py stacks member by member); () = every rank, every column


def project(y: torch.Tensor, n: int, bias, lora: Lora | None, index) -> torch.Tensor:
    """A packed product's outputs [B, n]: y[:, :n], plus each row's own adapter's expansion of y[:, n:],
    rescaled by DoRA's magnitude, plus the bias (which DoRA does not scale: PEFT's rule)."""
    out = y[:, :n]
    if lora is not None:
        h = y[:, n:] * (index[:, None] == lora.owner[None, :]).to(y.dtype)  # [B, R]: a row's own ranks
        out = out + h @ lora.Bt
        if lora.M is not None:
            out = out * lora.M.index_select(0, index)
    return out if bias is None else out + bias


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's LlamaRMSNorm (Mistral's and Qwen's too): normalise in fp32, cast back, then scale."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def qkv_rope_cache(y, n_heads, n_kv, bias, lora, index, cos, sin, kc, vc, pos, q_norm=None, k_norm=None):
    """From the packed q|k|v product y [B, (H + 2 Hkv) Dh + R]: q and k (per-head RMSNorm first where the
    family has one: `q_norm`/`k_norm` are (weight, eps)) rotated by cos/sin [B, Dh]; row b's k and v written
    into column pos[b] of slot b of the caches kc, vc [N, Hkv, S_max, Dh]. Returns q [B, H, Dh]."""
    B, Dh = y.shape[0], kc.shape[-1]
    z = project(y, (n_heads + 2 * n_kv) * Dh, bias, lora, index)
    q, k, v = z.split([n_heads * Dh, n_kv * Dh, n_kv * Dh], dim=-1)
    q, k, v = q.view(B, n_heads, Dh), k.view(B, n_kv, Dh), v.view(B, n_kv, Dh)
    if q_norm is not None:
        q, k = rms_norm(q, *q_norm), rms_norm(k, *k_norm)
    cos, sin = cos[:, None], sin[:, None]
    q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
    rows = torch.arange(B, device=y.device)
    kc[rows, :, pos] = k  # each row writes its own column
    vc[rows, :, pos] = v
    return q


def attend(q, kc, vc, pos, S: int, scale: float) -> torch.Tensor:
    """Attention of q [B, H, Dh] over columns [0, pos[b]] of slot b (first S columns of the caches):
    [B, H Dh]. Grouped-query without copying K/V: a kv head's G query heads act as G query positions."""
    B, H, Dh = q.shape
    n_kv = kc.shape[1]
    keys, values = kc[:B, :, :S], vc[:B, :, :S]  # [B, Hkv, S, Dh]
    visible = torch.arange(S, device=q.device) <= pos[:, None]  # [B, S]
    bias = torch.zeros(B, 1, 1, S, device=q.device, dtype=q.dtype)
    bias.masked_fill_(~visible[:, None, None, :], float("-inf"))
    o = F.scaled_dot_product_attention(
        q.view(B, n_kv, H // n_kv, Dh), keys, values, attn_mask=bias, scale=scale
    )
    return o.reshape(B, H * Dh)


def add_rms_norm(x, y, bias, lora, index, weight, eps: float):
    """The residual add of a packed product's outputs and the next norm: (x + out, rms_norm(x + out)),
    x [B, D] in the model's dtype."""
    x = x + project(y, x.shape[-1], bias, lora, index)
    return x, rms_norm(x, weight, eps)


def swiglu(y, d_ff: int, bias, lora, index, keep) -> torch.Tensor:
    """silu(gate) * up from the packed gate|up product: the input of down_proj [B, d_ff], times each row's
    FFN keep-mask keep [B, d_ff] where a variant masks this layer (act(0) = 0, so this is the variant's
    row zeroing: variants.py)."""
    gate, up = project(y, 2 * d_ff, bias, lora, index).split(d_ff, dim=-1)
    inter = F.silu(gate) * up
    return inter if keep is None else inter * keep
