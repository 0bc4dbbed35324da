"""The decode step's glue between its matrix products (slots.py), written once in PyTorch.

A decode step of a Llama-shaped layer is four matrix products over packed weights (packed.py: q|k|v,
o, gate|up, down) and, between them, the glue written here: the adapters' delta and the bias, rotary, the
KV-cache write, attention over each row's slot, the residual add with the next RMSNorm, and SwiGLU with
each row's FFN keep-mask. On CPU these functions are the step (the tests prove the step equal to Hugging
Face's modules and to the growing cache); on CUDA, kernels.py computes the same functions with one Triton
kernel each (two for attention), so a layer launches ten kernels instead of the ~40 small ones this code
launches op by op.

Adapters (LoRA, DoRA) ride beside the products, not inside them: a projection's input x gives each row
its own adapter's delta = ((x A^T) masked to the row's ranks) Bt, which the step computes while the base
product runs (on CUDA on a second stream, slots.py), and the glue adds it: out = (x W^T + delta) * M +
bias. (adapters.MultiLoraLinear applies the same formula in the model's own modules, for prefill.)
Shapes: B rows; N a projection's outputs; R the loaded adapters' ranks stacked; a row's adapter index [B]
(0 = base) keeps only its own ranks (owner [R]: each rank's adapter number); A [R, K] their lora_A; Bt
[R, N] lora_B times its scaling, transposed (each rank's outputs contiguous); DoRA multiplies a row's
outputs by its adapter's magnitude scale (M [adapters + 1, N], ones for base and plain LoRA).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Lora(NamedTuple):
    """One packed projection's adapters (packed.Group.lora())."""

    A: torch.Tensor  # [R, K] lora_A of every adapter, stacked
    Bt: torch.Tensor  # [R, N] (lora_B x scaling)^T, block by block
    owner: torch.Tensor  # [R] adapter number of each stacked rank
    M: torch.Tensor | None  # [adapters + 1, N] DoRA magnitude scales, or None when no adapter is DoRA


class Adapted(NamedTuple):
    """What a glue function needs of the adapters for one projection of one step."""

    delta: torch.Tensor  # [B, N] fp32: each row's own adapter's output added to the base product's
    M: torch.Tensor | None  # Lora.M


def lora_delta(x: torch.Tensor, lora: Lora, index: torch.Tensor, out: torch.Tensor | None = None) -> Adapted:
    """Each row's adapter delta for a projection of x [B, K] (0 for base rows), in fp32, into `out` if
    given."""
    h = F.linear(x, lora.A).float() * (index[:, None] == lora.owner[None, :])  # [B, R]: a row's own ranks
    d = h @ lora.Bt.float()
    if out is not None:
        d = out.copy_(d)
    return Adapted(d, lora.M)


def project(y: torch.Tensor, bias, adapted: Adapted | None, index) -> torch.Tensor:
    """A product's outputs y [B, N] plus each row's adapter delta, rescaled by DoRA's magnitude, plus the
    bias (which DoRA does not scale: PEFT's rule)."""
    out = y
    if adapted is not None:
        out = out + adapted.delta.to(y.dtype)
        if adapted.M is not None:
            out = out * adapted.M.index_select(0, index)
    return out if bias is None else out + bias


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's LlamaRMSNorm (Mistral's and Qwen's too): normalise in fp32, cast back, then scale."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def qkv_rope_cache(y, n_heads, n_kv, bias, adapted, index, cos, sin, kc, vc, pos, q_norm=None, k_norm=None):
    """From the packed q|k|v product y [B, (H + 2 Hkv) Dh] (and its adapters: `adapted`): q and k (per-head
    RMSNorm first where the family has one: `q_norm`/`k_norm` are (weight, eps)) rotated by cos/sin [B, Dh];
    row b's k and v written into column pos[b] of slot b of the caches kc, vc [N, Hkv, S_max, Dh]. Returns
    q [B, H, Dh]."""
    B, Dh = y.shape[0], kc.shape[-1]
    z = project(y, bias, adapted, index)
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


def add_rms_norm(x, y, bias, adapted, index, weight, eps: float):
    """The residual add of a packed product's outputs and the next norm: (x + out, rms_norm(x + out)),
    x [B, D] in the model's dtype."""
    x = x + project(y, bias, adapted, index)
    return x, rms_norm(x, weight, eps)


def swiglu(y, d_ff: int, bias, adapted, index, keep) -> torch.Tensor:
    """silu(gate) * up from the packed gate|up product: the input of down_proj [B, d_ff], times each row's
    FFN keep-mask keep [B, d_ff] where a variant masks this layer (act(0) = 0, so this is the variant's
    row zeroing: variants.py)."""
    gate, up = project(y, bias, adapted, index).split(d_ff, dim=-1)
    inter = F.silu(gate) * up
    return inter if keep is None else inter * keep
