"""Variants: a masked row equals a copy of the model whose rows are really zeroed; composition rules."""

import copy

import pytest
import torch

from conftest import hf_logits
from runner.errors import ApiError
from runner.export import mask_rows

PROMPT = "The cat sat on the mat."


def zeroed_copy(r, variant):
    """A deep copy of the base model with the variant's up/gate rows really set to zero."""
    model = copy.deepcopy(r.loaded.model)
    v = r.registry.variants[variant]
    m = v.ffn_mask
    with torch.no_grad():
        for path, rows in mask_rows(r.loaded, m.layer, list(m.indices), m.mode).items():
            model.get_submodule(path).weight[rows] = 0.0
    return model


def run(r, ids, variant):
    plan = r.registry.resolve(variant)
    return r.engine.logprobs_of([ids], [plan])[0]  # [T-1, V] log-softmax


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3"])
@pytest.mark.parametrize("variant", ["massive-zero", "massive-retain", "random-zero"])
def test_masked_variant_equals_a_copy_with_rows_really_zeroed(runner_for, family, variant):
    r = runner_for(family)
    ids = r.tokens.encode(PROMPT)
    ours = run(r, ids, variant)
    ref = torch.log_softmax(hf_logits(zeroed_copy(r, variant), ids)[:-1], -1)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_massive_zero_really_changes_the_output_and_random_zero_barely(runner_for):
    r = runner_for("llama")
    ids = r.tokens.encode(PROMPT)
    base, mz, rz = (run(r, ids, v) for v in ("base", "massive-zero", "random-zero"))
    assert (base - mz).abs().max() > 10 * (base - rz).abs().max()


def test_random_zero_is_seeded_and_avoids_the_massive_rows(runner_for):
    r = runner_for("llama")
    again = runner_for("llama", seed=0, k=5, threshold=100.0)
    rz = r.registry.variants["random-zero"].ffn_mask
    assert rz.indices == again.registry.variants["random-zero"].ffn_mask.indices
    assert not set(rz.indices) & set(r.registry.variants["massive-zero"].ffn_mask.indices)
    assert len(rz.indices) == 5


def test_composition_multiplies_masks(runner_for):
    r = runner_for("llama")
    ids = r.tokens.encode(PROMPT)
    both = run(r, ids, "massive-zero+random-zero")
    model = zeroed_copy(r, "massive-zero")
    with torch.no_grad():
        for path, rows in mask_rows(
            r.loaded, 1, list(r.registry.variants["random-zero"].ffn_mask.indices), "zero"
        ).items():
            model.get_submodule(path).weight[rows] = 0.0
    torch.testing.assert_close(both, torch.log_softmax(hf_logits(model, ids)[:-1], -1), atol=1e-4, rtol=1e-4)


def test_unknown_variant_is_404_listing_the_known_ones(runner_for):
    r = runner_for("llama")
    with pytest.raises(ApiError) as e:
        r.registry.resolve("macdrop+massive-zero")
    assert e.value.status == 404 and "massive-retain" in e.value.message and "macdrop" in e.value.message


def test_bad_masks_are_refused_with_the_field_named(runner_for):
    from runner.variants import FfnMask, Variant

    r = runner_for("llama")
    for mask, param in [
        (FfnMask(99, (1,), "zero"), "ffn_mask.layer"),
        (FfnMask(1, (1, 1), "zero"), "ffn_mask.indices"),
        (FfnMask(1, (10_000,), "zero"), "ffn_mask.indices"),
        (FfnMask(1, (1,), "flip"), "ffn_mask.mode"),
    ]:
        with pytest.raises(ApiError) as e:
            r.registry.add(Variant("bad-mask", ffn_mask=mask))
        assert e.value.status == 422 and e.value.param == param
    assert "bad-mask" not in r.registry.variants
