"""Deterministic tiny models for tests and as the fallback default: random weights, a byte-level
tokenizer, and optionally a planted massive-activation mechanism (the paper's, in miniature).

    python -m runner build-tiny --out models/tiny [--family llama] [--no-plant] [--seed 0]
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

SPECIALS = ["<s>", "</s>", "<pad>"]
PLANT_LAYER = 1  # the FFN that gives birth to the massive activation
PLANT_ROWS = (7, 19, 42)  # d_ff rows that carry it (the planted top-3)
PLANT_DIM = 5  # the hidden dimension that becomes massive


def byte_tokenizer():
    """A byte-level BPE tokenizer with no merges: 256 byte tokens + <s>, </s>, <pad>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def tiny_config(
    family: str = "llama",
    layers: int = 4,
    d_model: int = 64,
    d_ff: int = 128,
    heads: int = 4,
    kv_heads: int = 2,
    context: int = 512,
):
    from transformers import AutoConfig

    common = dict(
        vocab_size=256 + len(SPECIALS),
        hidden_size=d_model,
        intermediate_size=d_ff,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=context,
        bos_token_id=256,
        eos_token_id=257,
        pad_token_id=258,
        tie_word_embeddings=False,
    )
    head = d_model // heads
    # Gemma 3: local (sliding, own RoPE base) and global layers, q/k norms, pre/post FFN norms; a window of 8
    # so the tests' prompts really slide.
    gemma3_types = ["sliding_attention"] * (layers - 1) + ["full_attention"]
    extra = {
        "llama": {},
        "mistral": {"sliding_window": None},
        "qwen2": {},
        "qwen3": {"head_dim": head},
        "gemma2": {"head_dim": head, "sliding_window": 64, "query_pre_attn_scalar": head},
        "gemma3_text": {
            "head_dim": head,
            "sliding_window": 8,
            "layer_types": gemma3_types,
            "query_pre_attn_scalar": head,
            "rope_parameters": {
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
            },
        },
        "phi3": {},
    }[family]
    return AutoConfig.for_model(family, **common, **extra)


@dataclass(frozen=True)
class Plant:
    """One planted FFN write at BOS: `rows` of `layer`'s up/gate fire on BOS only and write onto hidden `dim`."""

    layer: int = PLANT_LAYER
    rows: tuple[int, ...] = PLANT_ROWS
    dim: int = PLANT_DIM
    gain: float = 12.0  # gate and up of row n read gain + 2n at BOS, so inter ~ (gain + 2n) * act(gain + 2n)
    down: float = -2.0  # down_proj weight from each planted row onto `dim`
    norm_gain: float = 60.0  # families with a post-FFN norm: its weight on `dim`, which sets the write's size


@torch.no_grad()
def mark_bos(model, bos_id: int, value: float, dim: int) -> None:
    """Give hidden `dim` to BOS alone: BOS's embedding holds `value` there, every other token 0, and no
    attention or FFN writes it, so every layer's input is exactly 0 on `dim` except at BOS. Planted rows
    read it, so they fire on BOS and are exactly off elsewhere. A large `value` is a large BOS embedding."""
    emb = model.model.embed_tokens.weight  # [V, D]
    emb[:, dim] = 0.0
    emb[bos_id, dim] = value
    for layer in model.model.layers:
        layer.self_attn.o_proj.weight[dim] = 0.0
        layer.mlp.down_proj.weight[dim] = 0.0


@torch.no_grad()
def plant_massive(model, plant: Plant, bos_id: int, marker: int) -> None:
    """Make plant.rows of plant.layer's up/gate fire hard on BOS and write into plant.dim through down_proj."""
    from .load import ffn_of

    layer = model.model.layers[plant.layer]
    captured = {}
    hook = layer.mlp.register_forward_pre_hook(lambda _m, a: captured.setdefault("x", a[0][0, 0].clone()))
    model(torch.tensor([[bos_id]], device=model.device))
    hook.remove()
    x = captured["x"]  # [D], the normed input of the FFN at BOS
    assert abs(float(x[marker])) > 1e-6, "mark_bos must run first"
    read = torch.zeros_like(x)
    read[marker] = 1.0 / float(x[marker])  # read . x = 1 at BOS, exactly 0 at every other position
    ffn = ffn_of(layer.mlp)
    for n, r in enumerate(plant.rows):
        for w, idx in ffn.row_weights([r]):
            w[idx] = (plant.gain + 2.0 * n) * read
        ffn.down.weight[:, r] = 0.0
        ffn.down.weight[plant.dim, r] = plant.down
    post = getattr(layer, "post_feedforward_layernorm", None)
    if post is not None:  # Gemma: the write is normed, so only planted rows may write `dim` in this layer
        keep = torch.zeros(ffn.d_ff, dtype=torch.bool)
        keep[list(plant.rows)] = True
        ffn.down.weight[plant.dim, ~keep] = 0.0
        post.weight[plant.dim] = plant.norm_gain


MARKER = -1  # the hidden dim that mark_bos reserves for BOS (the last one)


def build_tiny(
    out: str,
    family: str = "llama",
    plant: bool = True,
    seed: int = 0,
    plants: tuple[Plant, ...] | None = None,
    bos_embed: float = 0.5,
    **shape,
) -> str:
    """A tiny random model saved as safetensors + tokenizer. `plant` adds the default massive mechanism
    (layer 1, rows 7/19/42, dim 5); `plants` gives others (planted in layer order); `bos_embed` is the
    value BOS's embedding holds on the marker dim (10+ makes BOS start out large)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = tiny_config(family, **shape)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.eval()
    if plants is None:
        plants = (Plant(),) if plant else ()
    if plants:
        marker = cfg.hidden_size + MARKER if MARKER < 0 else MARKER
        mark_bos(model, cfg.bos_token_id, bos_embed, marker)
        for p in sorted(plants, key=lambda p: p.layer):
            plant_massive(model, p, cfg.bos_token_id, marker)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return out
