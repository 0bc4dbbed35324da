"""Training checkpoints, safetensors only: the adapter, AdamW's moments and the RNG state as tensors; the
step, scheduler state and history as JSON. Data order and MacDrop masks are functions of (seed, step), so
these are all a resumed run needs to continue exactly where an uninterrupted one would be.

    OUT/checkpoints/step-000120/{adapter.safetensors, optimizer.safetensors, state.json}
"""

from __future__ import annotations

import json
import os

import torch
from safetensors.torch import load_file, save_file


def folder_for(out: str, step: int) -> str:
    return os.path.join(out, "checkpoints", f"step-{step:06d}")


def latest(out: str) -> str | None:
    root = os.path.join(out, "checkpoints")
    if not os.path.isdir(root):
        return None
    done = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "state.json")))
    return os.path.join(root, done[-1]) if done else None


def save(folder: str, adapter: dict[str, torch.Tensor], opt, sched, state: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in adapter.items()}, f"{folder}/adapter.safetensors")
    sd = opt.state_dict()
    tensors = {f"state.{i}.{name}": t.cpu() for i, s in sd["state"].items() for name, t in s.items()}
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    save_file({k: v.contiguous() for k, v in tensors.items()}, f"{folder}/optimizer.safetensors")
    meta = {**state, "param_groups": sd["param_groups"], "scheduler": sched.state_dict()}
    tmp = f"{folder}/state.json.tmp"
    with open(tmp, "w") as f:
        json.dump(meta, f)
    os.replace(
        tmp, f"{folder}/state.json"
    )  # state.json last and atomic: its presence marks a whole checkpoint


def load(folder: str, opt, sched) -> tuple[dict[str, torch.Tensor], dict]:
    """Restores the optimizer, scheduler and RNG in place; returns (adapter tensors, saved state)."""
    with open(f"{folder}/state.json") as f:
        meta = json.load(f)
    tensors = load_file(f"{folder}/optimizer.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        if key.startswith("state."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = t
    opt.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    sched.load_state_dict(meta.pop("scheduler"))
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return load_file(f"{folder}/adapter.safetensors"), meta
