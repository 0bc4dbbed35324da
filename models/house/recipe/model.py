# The house model's network: a Llama (RMSNorm, RoPE, SwiGLU, no biases) whose parameter names are those of
# Hugging Face's LlamaForCausalLM, so its state dict loads there unchanged. Imported by train.py; not run alone.
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Config:
    vocab_size: int = 8192  # byte-level BPE vocabulary, special tokens included
    d_model: int = 320  # D, residual width
    n_layers: int = 12
    n_heads: int = 10  # H; head dim D / H = 32
    d_ff: int = 864  # FFN intermediate width (rows of up_proj and gate_proj)
    context: int = 2048  # T, training window including the BOS at position 0
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rope_tables(cfg: Config, T: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    hd = cfg.d_model // cfg.n_heads
    inv = 1.0 / cfg.rope_theta ** (torch.arange(0, hd, 2, device=device).float() / hd)
    freqs = torch.outer(torch.arange(T, device=device).float(), inv)  # T, hd/2
    emb = torch.cat([freqs, freqs], dim=-1)  # T, hd (Hugging Face's rotate_half layout)
    return emb.cos(), emb.sin()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        D, self.H = cfg.d_model, cfg.n_heads
        self.q_proj, self.k_proj = nn.Linear(D, D, bias=False), nn.Linear(D, D, bias=False)
        self.v_proj, self.o_proj = nn.Linear(D, D, bias=False), nn.Linear(D, D, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        q, k, v = (
            p(x).view(B, T, self.H, D // self.H).transpose(1, 2)
            for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        q = q * cos[:T].to(q.dtype) + rotate_half(q) * sin[:T].to(q.dtype)  # B, H, T, hd
        k = k * cos[:T].to(k.dtype) + rotate_half(k) * sin[:T].to(k.dtype)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # inter: B, T, d_ff


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)


class Backbone(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)


class Llama(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2 style scaled init of the residual writers
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx):
        """idx: B, T token ids -> B, T, V logits. Training only: the analysis (massive activations, masks,
        attention) runs on the Hugging Face copy through the runner's functions (see probe.py)."""
        B, T = idx.shape
        cos, sin = rope_tables(self.cfg, T, idx.device)
        x = self.model.embed_tokens(idx)  # B, T, D
        for blk in self.model.layers:
            x = x + blk.self_attn(blk.input_layernorm(x), cos, sin)
            x = x + blk.mlp(blk.post_attention_layernorm(x))
        return self.lm_head(self.model.norm(x))
