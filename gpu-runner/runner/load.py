"""Loading one base model (Hugging Face layout, safetensors only) and naming its FFN parts per family."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass

import torch
from torch import nn

# model_type in config.json -> family; Phi-3 fuses gate and up into one gate_up_proj.
FAMILIES = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma2": "gemma2",
    "gemma3_text": "gemma3",
    "phi3": "phi3",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class FFN:
    """One decoder layer's FFN: inter = act(gate(x)) * up(x) is the input of `down`."""

    down: nn.Linear
    gate: nn.Linear | None  # None for fused families
    up: nn.Linear | None
    gate_up: nn.Linear | None  # Phi-3: rows [0, d_ff) are gate, [d_ff, 2 d_ff) are up
    d_ff: int

    def row_paths(self, prefix: str, rows: list[int]) -> dict[str, list[int]]:
        """Intermediate dims `rows` as weight rows per module: {prefix + module name: row indices}. The one
        place that knows a fused gate_up_proj holds gate rows at r and up rows at d_ff + r."""
        if self.gate_up is not None:
            return {prefix + "gate_up_proj": list(rows) + [self.d_ff + r for r in rows]}
        return {prefix + "gate_proj": list(rows), prefix + "up_proj": list(rows)}

    def row_weights(self, rows: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight [out, D], row index tensor) for every matrix whose rows feed intermediate dims `rows`:
        gate and up, or both halves of a fused gate_up. Zeroing/masking these rows = zeroing those dims."""
        mods = {"gate_up_proj": self.gate_up, "gate_proj": self.gate, "up_proj": self.up}
        out = []
        for name, idx in self.row_paths("", rows).items():
            w = mods[name].weight
            out.append((w, torch.tensor(idx, dtype=torch.long, device=w.device)))
        return out


def ffn_of(mlp: nn.Module) -> FFN:
    """The FFN parts of one decoder layer's `mlp` module, whatever the family."""
    if hasattr(mlp, "gate_up_proj"):
        return FFN(mlp.down_proj, None, None, mlp.gate_up_proj, mlp.down_proj.in_features)
    return FFN(mlp.down_proj, mlp.gate_proj, mlp.up_proj, None, mlp.down_proj.in_features)


@dataclass
class Loaded:
    model: nn.Module
    tokenizer: object
    model_id: str
    family: str
    architecture: str
    device: torch.device
    dtype: torch.dtype

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.model.layers

    def ffn(self, layer: int) -> FFN:
        return ffn_of(self.layers[layer].mlp)

    def info(self) -> dict:
        cfg = self.model.config
        return {
            "id": self.model_id,
            "architecture": self.architecture,
            "family": self.family,
            "layers": len(self.layers),
            "d_model": cfg.hidden_size,
            "d_ff": self.ffn(0).d_ff,
            "vocab_size": cfg.vocab_size,
            "max_context": max_context(cfg),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }


def max_context(cfg) -> int:
    return int(getattr(cfg, "max_position_embeddings", 2048) or 2048)


def pick_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    if dtype:
        return getattr(torch, dtype)
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def read_config(model: str) -> dict:
    """The checkpoint's own config.json, read explicitly (no sniffing of folder names)."""
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        raise ValueError(f"{model!r} has no config.json: pass a Hugging Face model folder")
    with open(path) as f:
        return json.load(f)


def load(model: str, device: str | None = None, dtype: str | None = None) -> Loaded:
    """Load `model` in eval mode: a local Hugging Face folder (safetensors only), a .gguf file (dequantized),
    a catalog name such as gemma3-270m (built once into a cache, see catalog.py), or a hub id where a
    network exists."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from . import catalog, gguf

    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    if catalog.is_named(model):
        model = catalog.ensure(model, log=lambda m: print(m, file=sys.stderr))
    local = os.path.isdir(model)
    is_gguf = gguf.is_gguf(model)
    if is_gguf:
        hf, tok = gguf.read(model, dt)
        cfg = hf.config.to_dict()
    elif local:
        cfg = read_config(model)
        has_st = any(n.endswith(".safetensors") for n in os.listdir(model))
        if not has_st:
            raise ValueError(
                f"{model!r} holds no .safetensors weights; only safetensors are loaded (no pickle)"
            )
    elif _HUB_ID.match(model):
        cfg = None
    else:
        raise ValueError(
            f"{model!r} is neither a folder, a .gguf file, a named model ({', '.join(catalog.CATALOG)}) "
            "nor a hub id of the form owner/name"
        )
    try:
        if not is_gguf:
            hf = AutoModelForCausalLM.from_pretrained(
                model, dtype=dt, use_safetensors=True, local_files_only=local
            )
            tok = AutoTokenizer.from_pretrained(model, local_files_only=local)
    except OSError as e:
        if local:
            raise
        raise ValueError(
            f"could not fetch {model!r} from the model hub ({type(e).__name__}); without a network, "
            "download it elsewhere and pass the local folder"
        ) from e
    cfg = cfg or hf.config.to_dict()
    model_type = cfg.get("model_type", "")
    if model_type not in FAMILIES:
        raise ValueError(f"model_type {model_type!r} is not supported; supported: {sorted(FAMILIES)}")
    hf.to(dev).eval()
    hf.requires_grad_(False)
    arch = (cfg.get("architectures") or [type(hf).__name__])[0]
    name = os.path.basename(os.path.normpath(model)) if local or is_gguf else model
    return Loaded(hf, tok, name, FAMILIES[model_type], arch, dev, dt)
