"""The static slot cache (slots.py) computes what the growing cache computes: the same next-token logits
step by step, the same greedy tokens for every Llama-shaped family, for mixed variants and adapters in one
batch, and for rows that join and leave (slots freed and reused). On CPU, without CUDA graphs; the graphs
themselves are checked in test_gpu.py."""

import os

import pytest
import torch
from test_adapters import make_adapter
from test_engine import generate

from runner.config import RunnerConfig
from runner.engine import Engine
from runner.service import Runner
from runner.slots import SlotDecoder, bucket, supports
from runner.wire import GenerateRequest, parse

FAMILIES = ["llama", "mistral", "qwen2", "qwen3"]
PROMPTS = ["Once upon a time", "Hi", "The quick brown fox jumps", "A"]


def test_buckets_are_powers_of_two_with_a_floor():
    assert [bucket(n) for n in (1, 2, 3, 5, 64, 65)] == [1, 2, 4, 8, 64, 128]
    assert bucket(3, 64) == 64 and bucket(200, 64) == 256


@pytest.mark.parametrize("family", FAMILIES)
def test_static_decode_step_logits_equal_the_growing_caches(runner_for, family):
    """Prefill three rows of different lengths (left padding), then decode 6 steps on both caches: the
    logits agree at fp32 precision every step, with a row leaving half-way."""
    r = runner_for(family)
    eng: Engine = r.engine
    assert supports(r.loaded)
    plans = [r.registry.resolve(v) for v in ("base", "massive-zero", "massive-retain")]
    prompts = [r.tokens.encode(p) for p in PROMPTS[:3]]
    batch, logits = eng.prefill(prompts, plans)
    slots = SlotDecoder(eng, slots=4, max_len=64)
    slots.join(eng.prefill(prompts, plans)[0])
    tokens = logits.argmax(-1).tolist()
    for step in range(6):
        if step == 3:  # the middle row leaves
            batch, tokens = Engine.select(batch, [0, 2]), [tokens[0], tokens[2]]
            slots.keep_rows([0, 2])
        want = eng.decode(batch, tokens)
        got = slots.step(tokens)
        torch.testing.assert_close(got, want, atol=2e-5, rtol=2e-5)
        tokens = want.argmax(-1).tolist()


@pytest.mark.parametrize("family", FAMILIES)
def test_static_greedy_tokens_equal_dynamic_for_mixed_variants(runner_for, family):
    static, dynamic = runner_for(family, decode="static"), runner_for(family)
    assert static.slots is not None and dynamic.slots is None
    specs = [
        {"prompt": p, "variant": v, "max_tokens": 12}
        for p, v in zip(PROMPTS, ("base", "massive-zero", "massive-retain", "random-zero"))
    ]
    together = static.generate(parse(GenerateRequest, {"requests": specs})).results()
    alone = [dynamic.generate(parse(GenerateRequest, {"requests": [s]})).results()[0] for s in specs]
    assert [t["tokens"] for t in together] == [a["tokens"] for a in alone]
    assert [t["text"] for t in together] == [a["text"] for a in alone]


def test_rows_ending_on_stop_strings_eos_and_length_beside_others_equal_dynamic(runner_for):
    """The static decoder launches each step before the host has streamed the last one (one step ahead):
    rows that end on a stop string (known only once decoded), on EOS, or at max_tokens, at different
    steps beside rows that go on, give exactly the dynamic path's text, tokens and finish reasons."""
    static, dynamic = runner_for("llama", decode="static"), runner_for("llama")
    probe = [
        dynamic.generate(parse(GenerateRequest, {"requests": [{"prompt": p, "max_tokens": 16}]})).results()[0]
        for p in PROMPTS
    ]
    specs = [
        {"prompt": PROMPTS[0], "max_tokens": 16, "stop": [probe[0]["text"][4:6]]},  # ends early on a stop
        {"prompt": PROMPTS[1], "max_tokens": 3},  # ends at max_tokens
        {"prompt": PROMPTS[2], "max_tokens": 16, "stop": [probe[2]["text"][9:11]]},
        {"prompt": PROMPTS[3], "max_tokens": 16, "ignore_eos": True},  # goes on to the end
    ]
    together = static.generate(parse(GenerateRequest, {"requests": specs})).results()
    alone = [dynamic.generate(parse(GenerateRequest, {"requests": [s]})).results()[0] for s in specs]
    for t, a in zip(together, alone):
        assert (t["text"], t["tokens"], t["finish_reason"]) == (a["text"], a["tokens"], a["finish_reason"])
    assert {t["finish_reason"] for t in together} >= {"stop", "length"}
    assert len(static.slots) == 0 and static.scheduler.flight is None


def test_rows_joining_and_leaving_reuse_slots_and_keep_their_tokens(runner_for):
    """Eight staggered rows of different lengths through four slots: rows wait, join mid-flight, leave at
    different steps and hand their slots on; each row's tokens are those it gets alone on the growing cache."""
    static = runner_for("llama", plant=True, decode="static", max_batch_rows=4)
    dynamic = runner_for("llama", plant=True)
    variants = ("base", "massive-zero", "massive-retain", "random-zero")
    specs = [
        {"prompt": PROMPTS[i % 4] * (1 + i % 3), "variant": variants[i % 4], "max_tokens": 4 + 5 * (i % 3)}
        for i in range(8)
    ]
    staggered = generate(static, specs, stagger=0.01)
    alone = [generate(dynamic, [s])[0] for s in specs]
    assert [s["tokens"] for s in staggered] == [a["tokens"] for a in alone]
    assert [s["streamed"] for s in staggered] == [a["text"] for a in alone]
    assert sorted(static.slots.free) == [0, 1, 2, 3] and len(static.slots) == 0


@pytest.fixture(scope="module")
def adapted(model_dir, tmp_path_factory):
    base = model_dir("llama")
    root = tmp_path_factory.mktemp("slot-adapters")
    make_adapter(base, os.path.join(root, "lora"))
    make_adapter(base, os.path.join(root, "dora"), dora=True, seed=2)
    made = [
        Runner(RunnerConfig(model=base, adapters_dir=str(root), device="cpu", decode=d))
        for d in ("static", "dynamic")
    ]
    yield made
    for r in made:
        r.close()


def test_adapters_and_masks_in_one_static_batch_equal_each_row_alone(adapted):
    """LoRA, DoRA and an adapter composed with a mask run as one stacked product masked per row; each
    row's greedy tokens equal the grouped path's, row alone."""
    static, dynamic = adapted
    variants = ["base", "lora", "dora", "lora+massive-zero", "massive-retain", "dora"]
    specs = [{"prompt": PROMPTS[i % 4], "variant": v, "max_tokens": 10} for i, v in enumerate(variants)]
    together = static.generate(parse(GenerateRequest, {"requests": specs})).results()
    alone = [dynamic.generate(parse(GenerateRequest, {"requests": [s]})).results()[0] for s in specs]
    assert [t["tokens"] for t in together] == [a["tokens"] for a in alone]
    assert together[0]["tokens"] != together[1]["tokens"], "the adapter should change this model's output"


def test_a_family_the_step_does_not_compute_is_refused_for_static_decode(model_dir):
    with pytest.raises(ValueError, match="decode=static serves"):
        Runner(RunnerConfig(model=model_dir("gemma2"), device="cpu", decode="static"))


def test_a_variant_masking_a_new_layer_gets_its_buffer_and_the_same_tokens(model_dir):
    """A variant registered while serving that masks a layer no built-in masks: the static decoder adds
    that layer's buffer (dropping graphs captured without it) and still equals the growing cache."""
    from runner.variants import FfnMask, Variant

    made = [
        Runner(RunnerConfig(model=model_dir("llama"), device="cpu", decode=d)) for d in ("static", "dynamic")
    ]
    try:
        for r in made:
            r.registry.add(Variant("late", None, FfnMask(2, (3, 4, 5), "zero")))
        assert 2 not in made[0].slots.keep
        specs = [
            {"prompt": p, "variant": v, "max_tokens": 10}
            for p, v in zip(PROMPTS, ("late", "base", "late+massive-zero"))
        ]
        static, dynamic = (r.generate(parse(GenerateRequest, {"requests": specs})).results() for r in made)
        assert 2 in made[0].slots.keep
        assert [s["tokens"] for s in static] == [d["tokens"] for d in dynamic]
    finally:
        for r in made:
            r.close()


def test_the_fused_glue_equals_hugging_faces_modules(runner_for):
    """fused.py's norm and gated FFN over the packed gate|up matrix compute what the model's own RMSNorm
    and MLP compute."""
    from runner import fused
    from runner.packed import Group

    block = runner_for("llama").loaded.layers[0]
    x = torch.randn(3, block.input_layernorm.weight.shape[0])
    norm = block.input_layernorm
    torch.testing.assert_close(fused.rms_norm(x, norm.weight, norm.variance_epsilon), norm(x))
    mlp = block.mlp
    gate_up = Group(mlp, ("gate_proj", "up_proj"))
    inter = fused.swiglu(x @ gate_up.weight().T, gate_up.sizes[0], None, None, None, None)
    torch.testing.assert_close(mlp.down_proj(inter), mlp(x))


def test_packed_matrices_hold_the_one_copy_of_the_weights(model_dir, tmp_path):
    """Packing moves each layer's q|k|v and gate|up rows into one matrix and makes the model's Linear
    weights views of it: the model's logits do not change and no weight is held twice. A loaded adapter
    (q and v here, not k) is stacked beside the matrix: its lora_A rows [R, K], its lora_B spread over its
    members' columns (zero over k's), and stacking again never moves the weights."""
    from runner.packed import Packed

    base = model_dir("llama")
    make_adapter(base, os.path.join(tmp_path, "lora"), targets=("q_proj", "v_proj"))
    r = Runner(RunnerConfig(model=base, adapters_dir=str(tmp_path), device="cpu"))
    try:
        model = r.loaded.model
        ids = torch.tensor([r.tokens.encode("The quick brown fox")])
        before = model(ids).logits
        bytes_before = sum(p.numel() * p.element_size() for p in model.parameters())
        packed = Packed(r.loaded.layers)
        torch.testing.assert_close(model(ids).logits, before, atol=0, rtol=0)
        storages = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
        assert sum(storages.values()) == bytes_before, "every weight is held once"
        qkv, o = packed.layers[0][0], packed.layers[0][1]
        attn = r.loaded.layers[0].self_attn
        for name in ("q_proj", "k_proj", "v_proj"):
            w = getattr(attn, name).weight
            assert w.untyped_storage().data_ptr() == qkv.W.untyped_storage().data_ptr()
        assert qkv.weight().shape[0] == qkv.n == sum(qkv.sizes)
        lora = qkv.lora(True)
        assert lora.A.shape == (8, qkv.W.shape[1]) and lora.Bt.shape == (8, qkv.n)  # rank 4 on q and on v
        q, k, _ = qkv.sizes
        assert lora.Bt[:, q : q + k].abs().sum() == 0 and lora.Bt[:, :q].abs().sum() > 0
        assert qkv.lora(False) is None and o.lora(True) is None  # o_proj has no adapter
        ptr = qkv.W.data_ptr()
        packed.stack()
        assert qkv.W.data_ptr() == ptr and attn.q_proj.weight.data_ptr() == ptr
    finally:
        r.close()


def test_the_static_step_on_the_triton_kernels_equals_the_growing_cache(model_dir, tmp_path):
    """The decode step with kernels.py's Triton kernels (on CPU: Triton's interpreter) gives the greedy
    tokens of the growing cache, for base, masked and adapter rows in one batch: the whole GPU step's
    math, checked where there is no GPU. Skipped without Triton."""
    pytest.importorskip("triton")  # without a GPU, conftest.py has it interpret
    from runner import kernels

    base = model_dir("llama")
    make_adapter(base, os.path.join(tmp_path, "lora"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    r = Runner(RunnerConfig(model=base, adapters_dir=str(tmp_path), device=device, dtype="float32"))
    try:
        eng = r.engine
        plans = [r.registry.resolve(v) for v in ("base", "massive-zero", "lora", "lora+massive-retain")]
        prompts = [r.tokens.encode(p) for p in PROMPTS]
        batch, logits = eng.prefill(prompts, plans)
        slots = SlotDecoder(eng, slots=4, max_len=64, graphs=False, functions=kernels)
        slots.join(eng.prefill(prompts, plans)[0])
        tokens = logits.argmax(-1).tolist()
        for _ in range(5):
            want = eng.decode(batch, tokens)
            got = slots.step(tokens)
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
            tokens = want.argmax(-1).tolist()
    finally:
        r.close()
