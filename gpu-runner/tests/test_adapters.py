"""Adapters: PEFT LoRA/DoRA served per row over one copy of the base weights, equal to PEFT's own model."""

import copy
import os

import pytest
import torch

from runner.config import RunnerConfig
from runner.errors import ApiError
from runner.service import Runner
from runner.wire import VariantSpec, parse

PROMPTS = ["The cat sat on the mat.", "Winter is cold", "A"]


def make_adapter(
    base_dir, out, *, dora=False, zero=False, seed=1, targets=("q_proj", "v_proj", "up_proj", "down_proj")
):
    """Save a PEFT adapter for the model in base_dir; returns the PEFT model (the reference)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=list(targets), use_dora=dora, init_lora_weights=zero)
    peft_model = get_peft_model(base, cfg)
    if not zero:  # make B (and the magnitude) non-trivial so the test can fail
        with torch.no_grad():
            for n, p in peft_model.named_parameters():
                if "lora_B" in n or "lora_magnitude" in n:
                    p.add_(torch.randn_like(p) * 0.05)
    peft_model.save_pretrained(out)
    return peft_model.eval()


@pytest.fixture(scope="module")
def setup(model_dir, tmp_path_factory):
    base = model_dir("llama")
    root = tmp_path_factory.mktemp("adapters")
    refs = {
        "lora": make_adapter(base, os.path.join(root, "lora")),
        "dora": make_adapter(base, os.path.join(root, "dora"), dora=True, seed=2),
        "zero-lora": make_adapter(base, os.path.join(root, "zero-lora"), zero=True, seed=3),
    }
    runner = Runner(RunnerConfig(model=base, adapters_dir=str(root), device="cpu"))
    yield runner, refs, root
    runner.close()


def ours(r, ids, variant):
    return r.engine.logprobs_of([ids], [r.registry.resolve(variant)])[0]


def ref_lp(model, ids):
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, :-1], -1)


def test_adapters_folder_is_served_as_variants(setup):
    r, _, _ = setup
    assert {"lora", "dora", "zero-lora"} <= set(r.registry.names())
    assert r.adapters.meta["dora"]["dora"] is True


@pytest.mark.parametrize("name", ["lora", "dora"])
def test_adapter_logits_equal_peft(setup, name):
    r, refs, _ = setup
    ids = r.tokens.encode(PROMPTS[0])
    torch.testing.assert_close(ours(r, ids, name), ref_lp(refs[name], ids), atol=1e-4, rtol=1e-4)


def test_zero_init_lora_equals_base(setup):
    r, _, _ = setup
    ids = r.tokens.encode(PROMPTS[0])
    torch.testing.assert_close(ours(r, ids, "zero-lora"), ours(r, ids, "base"), atol=1e-6, rtol=1e-6)
    assert (ours(r, ids, "lora") - ours(r, ids, "base")).abs().max() > 1e-3


def test_mixed_batch_equals_each_row_alone(setup):
    r, _, _ = setup
    variants = ["base", "massive-zero", "lora", "dora", "dora+massive-zero", "massive-retain"]
    seqs = [r.tokens.encode(PROMPTS[i % len(PROMPTS)]) for i in range(len(variants))]
    mixed = r.engine.logprobs_of(seqs, [r.registry.resolve(v) for v in variants])
    for ids, v, lp in zip(seqs, variants, mixed):
        torch.testing.assert_close(lp, ours(r, ids, v), atol=1e-4, rtol=1e-4)


def test_adapter_plus_mask_equals_merged_model_with_rows_zeroed(setup):
    r, refs, _ = setup
    ids = r.tokens.encode(PROMPTS[0])
    merged = copy.deepcopy(refs["dora"]).merge_and_unload()
    m = r.registry.variants["massive-zero"].ffn_mask
    with torch.no_grad():
        for proj in ("gate_proj", "up_proj"):
            getattr(merged.model.layers[m.layer].mlp, proj).weight[list(m.indices)] = 0.0
    torch.testing.assert_close(ours(r, ids, "dora+massive-zero"), ref_lp(merged, ids), atol=1e-4, rtol=1e-4)


def test_two_adapters_do_not_compose(setup):
    r, _, _ = setup
    with pytest.raises(ApiError) as e:
        r.registry.resolve("lora+dora")
    assert e.value.status == 422 and "at most one" in e.value.message


def test_register_adapter_by_name_rejects_paths_and_bad_files(setup, tmp_path):
    r, _, root = setup
    for name, status in [("../etc", 422), ("nope", 404), ("Lora", 422)]:
        with pytest.raises(ApiError) as e:
            r.register(
                parse(VariantSpec, {"name": "x-" + name.strip("./").lower(), "adapter": name})
            ).result()
        assert e.value.status == status, name
    bad = os.path.join(root, "broken")
    os.makedirs(bad)
    with open(os.path.join(bad, "adapter_config.json"), "w") as f:
        f.write('{"peft_type": "LORA", "r": 4, "fan_in_fan_out": true}')
    with open(os.path.join(bad, "adapter_model.safetensors"), "wb") as f:
        f.write(b"not safetensors")
    with pytest.raises(ApiError) as e:
        r.register(parse(VariantSpec, {"name": "broken", "adapter": "broken"})).result()
    assert e.value.status == 422 and "fan_in_fan_out" in e.value.message
    assert "broken" not in r.registry.names() and "broken" not in r.adapters.meta


def test_adapter_with_wrong_shapes_is_refused_whole(setup, model_dir, tmp_path):
    r, _, root = setup
    make_adapter(model_dir("llama", plant=False), os.path.join(root, "other"), targets=("q_proj",))
    # same architecture, so shapes fit; now corrupt one tensor's shape
    from safetensors.torch import load_file, save_file

    path = os.path.join(root, "other", "adapter_model.safetensors")
    t = load_file(path)
    key = sorted(t)[-1]
    t[key] = torch.zeros(3, 3)
    save_file(t, path)
    with pytest.raises(ApiError) as e:
        r.register(parse(VariantSpec, {"name": "other", "adapter": "other"})).result()
    assert e.value.status == 422 and "do not fit" in e.value.message
    assert "other" not in r.adapters.meta
    assert not any("other" in m.loras for m in r.loaded.model.modules() if hasattr(m, "loras")), (
        "a refused adapter must leave no half-installed weights"
    )
