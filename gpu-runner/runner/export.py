"""Export an FFN-mask variant as a standard PEFT LoRA adapter, so a stock multi-LoRA engine (vLLM, TGI,
PEFT itself) can serve the ablation: zeroing rows idx of W is W + B A with A = W[idx, :] and B = -E_idx
(rank k, scaling 1). For Phi-3's fused gate_up_proj the rows are idx and d_ff + idx (rank 2k).

    python -m runner export --model DIR --variant massive-zero --format peft --out DIR
"""

from __future__ import annotations

import json
import os

import torch
from safetensors.torch import save_file

from .adapters import unwrap
from .errors import ApiError
from .load import Loaded


def mask_rows(loaded: Loaded, layer: int, indices: list[int], mode: str) -> dict[str, list[int]]:
    """The rows each weight matrix loses: {module path: rows}."""
    ffn = loaded.ffn(layer)
    dropped = sorted(indices) if mode == "zero" else sorted(set(range(ffn.d_ff)) - set(indices))
    return ffn.row_paths(f"model.layers.{layer}.mlp.", dropped)


def export_peft(loaded: Loaded, plan, out: str) -> dict:
    """Write `plan` (FFN masks only; no adapter) as adapter_config.json + adapter_model.safetensors."""
    if plan.adapter is not None:
        raise ApiError(422, f"{plan.name!r} carries an adapter; only FFN-mask variants export as a LoRA")
    if not plan.masks:
        raise ApiError(422, f"{plan.name!r} changes nothing; there is nothing to export")
    keep: dict[int, torch.Tensor] = {}
    for m in plan.masks:
        d_ff = loaded.ffn(m.layer).d_ff
        keep[m.layer] = keep.get(m.layer, torch.ones(d_ff)) * m.keep(d_ff)
    tensors, targets, rank = {}, [], 0
    for layer, k in sorted(keep.items()):
        dropped = (k == 0).nonzero().flatten().tolist()
        for path, rows in mask_rows(loaded, layer, dropped, "zero").items():
            W = unwrap(loaded.model.get_submodule(path)).weight.detach().float().cpu()  # [out, in]
            A = W[rows].clone()  # [r, in]
            B = torch.zeros(W.shape[0], len(rows))  # [out, r]
            B[rows, torch.arange(len(rows))] = -1.0
            tensors[f"base_model.model.{path}.lora_A.weight"] = A.contiguous()
            tensors[f"base_model.model.{path}.lora_B.weight"] = B.contiguous()
            targets.append(path)
            rank = max(rank, len(rows))
    # PEFT uses one r for all targets unless rank_pattern says otherwise; pad smaller ranks with zero rows.
    for path in targets:
        a, b = f"base_model.model.{path}.lora_A.weight", f"base_model.model.{path}.lora_B.weight"
        r = tensors[a].shape[0]
        if r < rank:
            tensors[a] = torch.cat([tensors[a], torch.zeros(rank - r, tensors[a].shape[1])])
            tensors[b] = torch.cat([tensors[b], torch.zeros(tensors[b].shape[0], rank - r)], dim=1)
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": loaded.model_id,
        "r": rank,
        "lora_alpha": rank,  # scaling = alpha / r = 1
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "target_modules": targets,
        "use_dora": False,
        "use_rslora": False,
        "inference_mode": True,
        "modules_to_save": None,
    }
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return {"out": out, "r": rank, "target_modules": targets, "variant": plan.name}
