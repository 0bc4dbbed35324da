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


@pytest.fixture(scope="module")
def fp32_pair(model_dir):
    """The same tiny model twice on CUDA in fp32: static slots with CUDA graphs, and the growing cache."""
    made = [
        Runner(RunnerConfig(model=model_dir("llama"), device="cuda", dtype="float32", decode=d))
        for d in ("static", "dynamic")
    ]
    yield made
    for r in made:
        r.close()


def test_gpu_static_slots_capture_every_bucket_at_start(fp32_pair):
    static, dynamic = fp32_pair
    assert dynamic.slots is None and static.slots.graphs_on
    assert len(static.slots.graphs) == 6 * 4  # B 1..32, S 64..512 (max_prompt 2048 + 512 > context 512)


def test_gpu_graph_replay_equals_the_eager_static_step(fp32_pair):
    """The captured step computes what the same step computes launched op by op."""
    from runner.slots import SlotDecoder

    r = fp32_pair[0]
    plans = [r.registry.resolve(v) for v in ("base", "massive-zero", "random-zero")]
    prompts = [r.tokens.encode(p) for p in ("Hello there", "Hi", "The cat sat")]

    def run(graphs: bool) -> list[torch.Tensor]:
        def go():
            slots = SlotDecoder(r.engine, slots=4, max_len=128, graphs=graphs)
            batch, logits = r.engine.prefill(prompts, plans)
            slots.join(batch)
            out, tokens = [], logits.argmax(-1).tolist()
            for _ in range(5):
                out.append(slots.step(tokens))
                tokens = out[-1].argmax(-1).tolist()
            return out

        return r.scheduler.call(go).result()

    for eager, graph in zip(run(False), run(True)):
        torch.testing.assert_close(graph, eager, atol=1e-4, rtol=1e-4)  # compiled glue: fp32 rounding


def test_gpu_static_greedy_tokens_equal_the_growing_caches_for_mixed_rows(fp32_pair):
    static, dynamic = fp32_pair
    specs = [
        {"prompt": p, "variant": v, "max_tokens": 16, "ignore_eos": True}
        for p, v in zip(
            ("Once upon a time", "Hi", "The quick brown fox", "A"),
            ("base", "massive-zero", "massive-retain", "random-zero"),
        )
    ]
    together = static.generate(parse(GenerateRequest, {"requests": specs})).results()
    alone = [dynamic.generate(parse(GenerateRequest, {"requests": [s]})).results()[0] for s in specs]
    assert [t["tokens"] for t in together] == [a["tokens"] for a in alone]


def test_gpu_a_variant_on_a_new_layer_recaptures_and_keeps_the_tokens(fp32_pair):
    """Registering a variant that masks a layer no graph has a buffer for drops the graphs and their pool;
    the next steps capture new ones (a pool whose graphs are all gone cannot take new captures)."""
    from runner.variants import FfnMask, Variant

    for r in fp32_pair:
        r.registry.add(Variant("late-gpu", None, FfnMask(2, (3, 4, 5), "zero")))
    specs = [
        {"prompt": "Hello", "variant": v, "max_tokens": 12} for v in ("late-gpu", "base", "massive-zero")
    ]
    static, dynamic = (r.generate(parse(GenerateRequest, {"requests": specs})).results() for r in fp32_pair)
    assert [s["tokens"] for s in static] == [d["tokens"] for d in dynamic]
    assert fp32_pair[0].slots.graphs, "the steps captured new graphs"


def test_gpu_adapter_rows_in_captured_graphs_equal_the_growing_cache(model_dir, tmp_path):
    """LoRA and DoRA rows beside base and masked rows, decoded by the captured graphs (the adapters' deltas
    computed on the second stream beside the packed products, added by the Triton kernels), give the
    greedy tokens of the growing cache, in fp32."""
    import os

    from test_adapters import make_adapter

    base = model_dir("llama")
    make_adapter(base, os.path.join(tmp_path, "lora"))
    make_adapter(base, os.path.join(tmp_path, "dora"), dora=True, seed=2)
    made = [
        Runner(RunnerConfig(model=base, adapters_dir=str(tmp_path), device="cuda", dtype="float32", decode=d))
        for d in ("static", "dynamic")
    ]
    try:
        assert made[0].slots.graphs_on and any(lora for _, _, lora in made[0].slots.graphs)
        variants = ["base", "lora", "dora", "lora+massive-zero", "massive-retain", "dora"]
        specs = [
            {"prompt": p, "variant": v, "max_tokens": 12, "ignore_eos": True}
            for p, v in zip(("Once upon", "Hi", "The quick brown fox", "A", "Hello", "Why"), variants)
        ]
        together = made[0].generate(parse(GenerateRequest, {"requests": specs})).results()
        alone = [made[1].generate(parse(GenerateRequest, {"requests": [s]})).results()[0] for s in specs]
        assert [t["tokens"] for t in together] == [a["tokens"] for a in alone]
    finally:
        for r in made:
            r.close()
