"""On a GPU (bf16, CUDA): the same equivalences at bf16 tolerance. Skipped where there is no CUDA device."""

import pytest
import torch

from runner.config import RunnerConfig
from runner.service import Runner
from runner.wire import GenerateRequest, parse

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def gpu_runner(model_dir):
    r = Runner(RunnerConfig(model=model_dir("llama"), device="cuda"))
    yield r
    r.close()


def test_gpu_runner_loads_in_bf16_and_detects_the_planted_layer(gpu_runner):
    info = gpu_runner.health()["model"]
    assert info["dtype"] == "bfloat16" and info["device"].startswith("cuda")
    assert gpu_runner.detection["massive_layer"] == 1


def test_gpu_mixed_batch_equals_each_row_alone(gpu_runner):
    r = gpu_runner
    variants = ["base", "massive-zero", "massive-retain", "random-zero"]
    ids = r.tokens.encode("The cat sat on the mat.")
    mixed = r.engine.logprobs_of([ids] * 4, [r.registry.resolve(v) for v in variants])
    for v, lp in zip(variants, mixed):
        alone = r.engine.logprobs_of([ids], [r.registry.resolve(v)])[0]
        torch.testing.assert_close(lp, alone, atol=5e-2, rtol=5e-2)


def test_gpu_generation_runs_three_variants_in_one_batch(gpu_runner):
    rows = [
        {"variant": v, "prompt": "Hello", "max_tokens": 8} for v in ("base", "massive-zero", "random-zero")
    ]
    finals = gpu_runner.generate(parse(GenerateRequest, {"requests": rows})).results()
    assert all(f["finish_reason"] in ("length", "stop") for f in finals)
