"""Deterministic tiny models for tests and as the fallback default: random weights, a byte-level
tokenizer, and optionally a planted massive-activation mechanism (the paper's, in miniature).

    python -m runner build-tiny --out models/tiny [--family llama] [--no-plant] [--seed 0]
"""

from __future__ import annotations

import os

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


def tiny_config(family: str = "llama", layers: int = 4, d_model: int = 64, d_ff: int = 128):
    from transformers import AutoConfig

    common = dict(
        vocab_size=256 + len(SPECIALS),
        hidden_size=d_model,
        intermediate_size=d_ff,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=256,
        eos_token_id=257,
        pad_token_id=258,
        tie_word_embeddings=False,
    )
    extra = {
        "llama": {},
        "mistral": {"sliding_window": None},
        "qwen2": {},
        "gemma2": {"head_dim": d_model // 4, "sliding_window": 64, "query_pre_attn_scalar": d_model // 4},
        "phi3": {},
    }[family]
    return AutoConfig.for_model(family, **common, **extra)


@torch.no_grad()
def plant_massive(model, layer: int = PLANT_LAYER, rows=PLANT_ROWS, dim: int = PLANT_DIM, bos_id: int = 256):
    """Make `rows` of layer's up/gate fire hard on BOS and write into hidden `dim` through down_proj."""
    mlp = model.model.layers[layer].mlp
    captured = {}
    hook = mlp.register_forward_pre_hook(lambda _m, args: captured.setdefault("x", args[0][0, 0].clone()))
    model(torch.tensor([[bos_id]]))
    hook.remove()
    x = captured["x"]  # [D], the normed input of the FFN at BOS
    u = x / x.norm().pow(2)  # u . x = 1
    d_ff = mlp.down_proj.in_features
    for n, r in enumerate(rows):
        gain = 12.0 + 2.0 * n
        if hasattr(mlp, "gate_up_proj"):
            mlp.gate_up_proj.weight[r] = gain * u
            mlp.gate_up_proj.weight[d_ff + r] = gain * u
        else:
            mlp.gate_proj.weight[r] = gain * u
            mlp.up_proj.weight[r] = gain * u
        mlp.down_proj.weight[:, r] = 0.0
        mlp.down_proj.weight[dim, r] = -2.0  # inter ~ gain^2 at BOS -> hidden[dim] ~ -300..-600


def build_tiny(out: str, family: str = "llama", plant: bool = True, seed: int = 0, **shape) -> str:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = tiny_config(family, **shape)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.eval()
    if plant:
        plant_massive(model, bos_id=cfg.bos_token_id)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return out
