"""The benchmark's model: an 8B Llama-3-shaped model with random weights and a planted massive layer, built
on the device, and a rank-16 PEFT LoRA on every projection of it (bench.py measures them)."""

from __future__ import annotations

import json
import os

import torch


def llama3_8b_config(quick: bool):
    from runner.tiny import tiny_config

    if quick:
        cfg = tiny_config("llama", layers=4, d_model=128, d_ff=256, heads=8, kv_heads=2, context=1024)
    else:
        cfg = tiny_config("llama", layers=32, d_model=4096, d_ff=14336, heads=32, kv_heads=8, context=8192)
        cfg.vocab_size = 128256
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": 500000.0}
    return cfg


def build(quick: bool, device: str):
    """Random weights made on the device (seconds, not minutes on the CPU), then tiny.py's planting: BOS
    gets a marker dim, and three rows of layer 1's FFN fire on it and write a massive value."""
    from transformers import AutoModelForCausalLM

    from runner.load import Loaded
    from runner.tiny import MARKER, Plant, byte_tokenizer, mark_bos, plant_massive

    torch.manual_seed(0)
    cfg = llama3_8b_config(quick)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.eval().requires_grad_(False)
    with torch.no_grad():
        mark_bos(model, cfg.bos_token_id, 0.5, cfg.hidden_size + MARKER)
        plant_massive(model, Plant(), cfg.bos_token_id, cfg.hidden_size + MARKER)
    return Loaded(
        model, byte_tokenizer(), "llama3-8b-shape", "llama", "LlamaForCausalLM", model.device, dtype
    )


ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def write_lora(folder: str, cfg, rank: int = 16, targets: tuple[str, ...] = ALL_TARGETS) -> None:
    """A rank-16 PEFT LoRA on the `targets` projections (all seven by default; PEFT's own default for
    Llama is q_proj and v_proj) of every layer, random A and B."""
    from safetensors.torch import save_file

    D, F, Dh = cfg.hidden_size, cfg.intermediate_size, cfg.hidden_size // cfg.num_attention_heads
    Dkv = cfg.num_key_value_heads * Dh
    every = {
        "self_attn.q_proj": (D, D),
        "self_attn.k_proj": (Dkv, D),
        "self_attn.v_proj": (Dkv, D),
        "self_attn.o_proj": (D, D),
        "mlp.gate_proj": (F, D),
        "mlp.up_proj": (F, D),
        "mlp.down_proj": (D, F),
    }
    shapes = {mod: shape for mod, shape in every.items() if mod.split(".")[-1] in targets}
    g = torch.Generator().manual_seed(1)
    tensors = {}
    for i in range(cfg.num_hidden_layers):
        for mod, (out, inp) in shapes.items():
            key = f"base_model.model.model.layers.{i}.{mod}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, inp, generator=g) / inp**0.5
            tensors[f"{key}.lora_B.weight"] = torch.randn(out, rank, generator=g) * 0.01
    os.makedirs(folder, exist_ok=True)
    save_file(
        {k: v.to(torch.bfloat16).contiguous() for k, v in tensors.items()},
        f"{folder}/adapter_model.safetensors",
    )
    modules = sorted({m.split(".")[-1] for m in shapes})
    with open(f"{folder}/adapter_config.json", "w") as f:
        json.dump({"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": modules}, f)


def weight_bytes_per_token(model) -> int:
    """Every weight is read once per decode step except the embedding table (one row of it)."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    return total - model.model.embed_tokens.weight.numel() * model.model.embed_tokens.weight.element_size()
