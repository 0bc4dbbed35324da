"""The decode step's elementwise glue (slots.py), written once and fused by torch.compile on CUDA.

Between its matrix products a Llama-shaped layer launches some 40 small elementwise kernels (an RMSNorm
alone is eight: cast, square, mean, add, rsqrt, multiply, cast, scale). On the H200, a batch-1 step of the
8B shape launched 1,592 kernels for 6.6 ms of kernel time against 3.5 ms of weight reads
(bench/gpu/README.md). Each function here becomes one or two Triton kernels once compiled, with dynamic
shapes so one compile serves every batch bucket; the matrix products stay cuBLAS calls in the model's own
(possibly adapter-wrapped) Linear modules. On CPU the functions run as written, which is how the tests
prove the static step equal to Hugging Face's modules.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's LlamaRMSNorm (Mistral's and Qwen's too): normalise in fp32, cast back, then scale."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def add_rms_norm(x: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float):
    """The residual add and the next norm in one pass: (x + delta, rms_norm(x + delta))."""
    x = x + delta
    return x, rms_norm(x, weight, eps)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotary position embedding of q [B, H, 1, Dh] and k [B, Hkv, 1, Dh] (cos, sin [B, 1, 1, Dh])."""
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def swiglu(gate: torch.Tensor, up: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """silu(gate) * up, the input of down_proj, times each row's FFN keep mask [B, 1, d_ff] where a
    variant masks this layer (act(0) = 0, so this is the variant's row zeroing: variants.py)."""
    inter = F.silu(gate) * up
    return inter if keep is None else inter * keep


FUNCTIONS = {"rms_norm": rms_norm, "add_rms_norm": add_rms_norm, "rope": rope, "swiglu": swiglu}


def functions(compiled: bool) -> SimpleNamespace:
    """The functions above, each torch.compile'd (dynamic shapes) when `compiled`. Not fullgraph: a
    process holding several models (the tests) can pass dynamo's recompile limit for one function (dtype x
    batch 1 or more x masked or not), and then that function runs op by op instead of failing."""
    if not compiled:
        return SimpleNamespace(**FUNCTIONS)
    return SimpleNamespace(**{name: torch.compile(fn, dynamic=True) for name, fn in FUNCTIONS.items()})
