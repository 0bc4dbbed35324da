"""Shared fixtures: tiny models built deterministically into a temp folder, and runners over them."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

if (
    not torch.cuda.is_available()
):  # kernels.py's Triton kernels run in Triton's interpreter (numpy, on the CPU);
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when a kernel is decorated, so before any import

from runner.__main__ import quiet
from runner.config import RunnerConfig
from runner.service import Runner
from runner.tiny import build_tiny

quiet()
warnings.filterwarnings("ignore")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """Build (once) a tiny model: model_dir(family, plant) -> folder."""
    root = tmp_path_factory.mktemp("models")
    built = {}

    def get(family: str = "llama", plant: bool = True) -> str:
        key = (family, plant)
        if key not in built:
            built[key] = build_tiny(
                os.path.join(root, f"{family}-{'plant' if plant else 'plain'}"), family, plant
            )
        return built[key]

    return get


@pytest.fixture(scope="session")
def runner_for(model_dir):
    """Runner over a tiny model, cached per (family, plant); close at session end."""
    made = {}

    def get(family: str = "llama", plant: bool = True, **cfg) -> Runner:
        key = (family, plant, tuple(sorted(cfg.items())))
        if key not in made:
            cfg.setdefault("device", "cpu")  # fp32 references; tests/test_gpu.py covers CUDA
            made[key] = Runner(RunnerConfig(model=model_dir(family, plant), **cfg))
        return made[key]

    yield get
    for r in made.values():
        r.close()


def hf_logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0]
