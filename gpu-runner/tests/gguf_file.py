"""Writes a small GGUF file from a tiny Hugging Face Llama folder, the way llama.cpp's converter lays one out
(tensor names, q/k rotary permutation, metadata, a byte-level BPE tokenizer), so the GGUF tests need no
download. Q8_0 quantizes the FFN matrices, to test dequantization."""

from __future__ import annotations

import json
import os

import numpy as np
import torch
from safetensors.torch import load_file


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary layout for q/k rows (transformers' GGUF reader undoes it)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(folder: str, out: str, q8_ffn: bool = False) -> str:
    import gguf

    cfg = json.load(open(os.path.join(folder, "config.json")))
    sd = {k: v.float().numpy() for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    tok = json.load(open(os.path.join(folder, "tokenizer.json")))
    w = gguf.GGUFWriter(out, "llama")
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_rope_dimension_count(cfg["hidden_size"] // H)
    w.add_head_count(H)
    w.add_head_count_kv(Hkv)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg.get("rope_parameters", {}).get("rope_theta", 10000.0))
    w.add_vocab_size(cfg["vocab_size"])
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    specials = {t["content"] for t in tok["added_tokens"]}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([3 if t in specials else 1 for t, _ in vocab])
    w.add_token_merges([])
    w.add_token_scores([0.0] * len(vocab))
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_pad_token_id(cfg["pad_token_id"])
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v"}
    names |= {"self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up"}
    names |= {
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }

    def add(name: str, t: np.ndarray, quant: bool = False):
        if quant:
            q = gguf.quants.quantize(t, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, t.astype(np.float32))

    add("token_embd.weight", sd["model.embed_tokens.weight"])
    add("output_norm.weight", sd["model.norm.weight"])
    add("output.weight", sd["lm_head.weight"])
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in names.items():
            t = sd[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = _permute(t, H)
            elif gg == "attn_k":
                t = _permute(t, Hkv)
            add(f"blk.{i}.{gg}.weight", t, quant=q8_ffn and gg.startswith("ffn_") and gg != "ffn_norm")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def q8_roundtrip(t: torch.Tensor) -> torch.Tensor:
    """What a Q8_0 tensor dequantizes to."""
    import gguf

    q = gguf.quants.quantize(t.float().numpy(), gguf.GGMLQuantizationType.Q8_0)
    return torch.from_numpy(gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0).copy()).reshape(t.shape)
