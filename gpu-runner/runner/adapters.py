"""LoRA and DoRA adapters in the PEFT format, many at once over one copy of the base weights.

Each targeted nn.Linear is swapped (once) for a MultiLoraLinear that keeps the base layer and a dict of
adapters keyed by name. Which rows of the batch use which adapter is read from a shared ActiveRows that
variants.apply_plans() fills for the duration of one forward pass; outside it every row is base. The
static decoder (slots.py) instead sets `ActiveRows.index`, each row's adapter number on the device: every
adapter of a layer then runs as one stacked low-rank product whose columns are masked per row (S-LoRA's
and Punica's idea), so the step has fixed shapes and no per-group indexing, and can be a CUDA graph.
"""

from __future__ import annotations

import json
import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from safetensors import safe_open
from torch import nn

from .errors import ApiError

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEY = re.compile(
    r"^base_model\.model\.(?P<module>.+)\.(?P<part>lora_A\.weight|lora_B\.weight|lora_magnitude_vector)$"
)
_UNSUPPORTED = {  # adapter_config.json fields we refuse rather than silently ignore
    "fan_in_fan_out": False,
    "bias": "none",
    "modules_to_save": None,
    "layer_replication": None,
    "use_qalora": False,
    "lora_bias": False,
}


@dataclass
class ActiveRows:
    groups: dict[str, torch.Tensor] = field(default_factory=dict)  # adapter name -> row indices [n]
    index: torch.Tensor | None = None  # [B] each row's adapter number (0 = base): set by indexed()
    selections: dict = field(default_factory=dict)  # owner key -> [B, 1, R] row masks, made once a step

    @contextmanager
    def indexed(self, index: torch.Tensor | None):
        """Rows run their own adapters (index [B], 0 = base; None: no adapter row) for one forward pass:
        the stacked path, with row masks made afresh for this batch."""
        self.index, self.selections = index, {}
        try:
            yield
        finally:
            self.index, self.selections = None, {}


@dataclass
class Lora:
    A: torch.Tensor  # lora_A [r, in]
    B: torch.Tensor  # lora_B [out, r]
    scaling: float
    mag_norm_scale: torch.Tensor | None  # DoRA: m / ||W + s B A||_row, [out]; None for plain LoRA
    number: int = 0  # the adapter's number in ActiveRows.index


class MultiLoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, active: ActiveRows):
        super().__init__()
        self.base = base
        self.active = active
        self.loras: dict[str, Lora] = {}
        self.stacked: tuple | None = None  # built from self.loras on first use by the stacked path

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def add(self, name: str, lora: Lora) -> None:
        self.loras[name] = lora
        self.stacked = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, in]
        out = self.base(x)  # [B, T, out]
        if self.active.index is not None:
            return self._stacked(x, out, self.active.index)
        for name, rows in self.active.groups.items():
            lora = self.loras.get(name)
            if lora is None:
                continue
            xr = x.index_select(0, rows)
            delta = (xr @ lora.A.T) @ lora.B.T * lora.scaling  # [n, T, out]
            if lora.mag_norm_scale is not None:
                base_r = out.index_select(0, rows)
                if self.base.bias is not None:
                    base_r = base_r - self.base.bias
                delta = (lora.mag_norm_scale - 1) * base_r + lora.mag_norm_scale * delta
            out = out.index_add(0, rows, delta.to(out.dtype))
        return out

    def _stack(self) -> tuple:
        """A_cat [R, in], B_cat [out, R] (scaling folded in), owner [R] (adapter number of each of the R
        stacked ranks) and its key (modules with the same adapters share one row mask a step), M [n+1,
        out] DoRA scales by adapter number (1 elsewhere) or None."""
        loras = list(self.loras.values())
        A = torch.cat([lo.A for lo in loras])
        B = torch.cat([lo.B * lo.scaling for lo in loras], dim=1)
        owner = torch.cat([torch.full((lo.A.shape[0],), lo.number, device=A.device) for lo in loras])
        M = None
        if any(lo.mag_norm_scale is not None for lo in loras):
            M = torch.ones(max(lo.number for lo in loras) + 1, B.shape[0], device=A.device, dtype=A.dtype)
            for lo in loras:
                if lo.mag_norm_scale is not None:
                    M[lo.number] = lo.mag_norm_scale
        key = tuple((lo.number, lo.A.shape[0]) for lo in loras)
        return A, B, owner, key, M

    def stacks(self) -> tuple:
        """_stack()'s tuple, built once per set of adapters (packed.py reads it too)."""
        if self.stacked is None:
            self.stacked = self._stack()
        return self.stacked

    def _stacked(self, x: torch.Tensor, out: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if not self.loras:
            return out
        A, B, owner, key, M = self.stacks()
        sel = self.active.selections.get(key)
        if sel is None:  # a row keeps its own adapter's ranks
            sel = self.active.selections[key] = (index[:, None] == owner).to(x.dtype)[:, None, :]  # [B, 1, R]
        h = (x @ A.T) * sel  # [B, T, R]
        if M is None:  # out += h @ B.T in the product's epilogue: one kernel, not two
            return out.view(-1, out.shape[-1]).addmm_(h.view(-1, h.shape[-1]), B.T).view(out.shape)
        delta = h @ B.T  # [B, T, out]
        m = M.index_select(0, index)[:, None, :]  # [B, 1, out]
        base = out - self.base.bias if self.base.bias is not None else out
        return out + (m - 1) * base + m * delta


def read_peft(folder: str) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """adapter_config.json + adapter_model.safetensors -> (config, {module path: {part: tensor}})."""
    cfg_path = os.path.join(folder, "adapter_config.json")
    st_path = os.path.join(folder, "adapter_model.safetensors")
    if not os.path.isfile(cfg_path) or not os.path.isfile(st_path):
        raise ApiError(
            422,
            f"adapter folder {os.path.basename(folder)!r} needs adapter_config.json and adapter_model.safetensors",
        )
    with open(cfg_path) as f:
        try:
            cfg = json.load(f)
        except json.JSONDecodeError as e:
            raise ApiError(422, f"adapter_config.json is not valid JSON: {e}") from e
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ApiError(422, f"only LoRA/DoRA adapters are served, got peft_type {cfg.get('peft_type')!r}")
    for key, ok in _UNSUPPORTED.items():
        if cfg.get(key, ok) not in (ok, [], {}):
            raise ApiError(
                422, f"adapter_config.json sets {key}={cfg[key]!r}, which this runner does not serve"
            )
    modules: dict[str, dict[str, torch.Tensor]] = {}
    with safe_open(st_path, framework="pt") as f:
        for key in f.keys():
            m = _KEY.match(key)
            if not m:
                raise ApiError(422, f"unexpected tensor {key!r} in adapter_model.safetensors")
            modules.setdefault(m["module"], {})[m["part"]] = f.get_tensor(key)
    return cfg, modules


class Adapters:
    """The adapters loaded into one model, by name."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.active = ActiveRows()
        self.meta: dict[str, dict] = {}
        self.numbers: dict[str, int] = {}  # adapter name -> its number in ActiveRows.index (base is 0)

    def names(self) -> list[str]:
        return sorted(self.meta)

    def index_of(self, name: str | None) -> int:
        return 0 if name is None else self.numbers[name]

    def load(self, name: str, folder: str) -> dict:
        if not NAME.match(name):
            raise ApiError(422, f"adapter name {name!r} must match {NAME.pattern}", "adapter")
        if name in self.meta:
            raise ApiError(422, f"adapter {name!r} is already loaded", "adapter")
        cfg, modules = read_peft(folder)
        r = int(cfg["r"])
        alpha = float(cfg.get("lora_alpha", r))
        staged: list[tuple[str, Lora]] = []
        for path, parts in sorted(modules.items()):
            if "lora_A.weight" not in parts or "lora_B.weight" not in parts:
                raise ApiError(422, f"adapter module {path!r} lacks lora_A or lora_B")
            base = self._base_linear(path)
            A, B = parts["lora_A.weight"], parts["lora_B.weight"]  # [r, in], [out, r]
            rank = A.shape[0]
            if A.shape[1] != base.in_features or B.shape != (base.out_features, rank):
                raise ApiError(
                    422,
                    f"adapter shapes for {path!r} (A {tuple(A.shape)}, B {tuple(B.shape)}) do not fit the base layer "
                    f"({base.out_features}x{base.in_features})",
                )
            a = _pattern_value(cfg.get("alpha_pattern") or {}, path, alpha)
            rr = _pattern_value(cfg.get("rank_pattern") or {}, path, r)
            scaling = a / math.sqrt(rr) if cfg.get("use_rslora") else a / rr
            dev, dt = base.weight.device, base.weight.dtype
            A, B = A.to(dev, dt), B.to(dev, dt)
            mns = None
            if cfg.get("use_dora"):
                if "lora_magnitude_vector" not in parts:
                    raise ApiError(422, f"DoRA adapter module {path!r} lacks lora_magnitude_vector")
                w = base.weight.float() + scaling * (B.float() @ A.float())
                mns = (parts["lora_magnitude_vector"].float().to(dev) / w.norm(dim=1)).to(dt)
            staged.append((path, Lora(A, B, scaling, mns, len(self.numbers) + 1)))
        for path, lora in staged:  # install only once every module validated: no half-loaded adapter
            self._wrap(path).add(name, lora)
        self.numbers[name] = len(self.numbers) + 1
        self.meta[name] = {
            "r": r,
            "lora_alpha": alpha,
            "dora": bool(cfg.get("use_dora")),
            "modules": len(staged),
        }
        return self.meta[name]

    def _base_linear(self, path: str) -> nn.Linear:
        try:
            mod = self.model.get_submodule(path)
        except AttributeError as e:
            raise ApiError(422, f"adapter targets {path!r}, which this model does not have") from e
        if isinstance(mod, MultiLoraLinear):
            return mod.base
        if not isinstance(mod, nn.Linear):
            raise ApiError(
                422, f"adapter targets {path!r}, a {type(mod).__name__}; only Linear layers are served"
            )
        return mod

    def _wrap(self, path: str) -> MultiLoraLinear:
        mod = self.model.get_submodule(path)
        if isinstance(mod, MultiLoraLinear):
            return mod
        parent_path, _, child = path.rpartition(".")
        wrapped = MultiLoraLinear(mod, self.active)
        setattr(self.model.get_submodule(parent_path), child, wrapped)
        return wrapped


def _pattern_value(patterns: dict, path: str, default):
    for pat, value in patterns.items():
        if re.search(rf"(^|\.){pat}$", path):
            return value
    return default


def unwrap(module: nn.Module) -> nn.Module:
    """The base nn.Linear under a MultiLoraLinear (or the module itself)."""
    return module.base if isinstance(module, MultiLoraLinear) else module
