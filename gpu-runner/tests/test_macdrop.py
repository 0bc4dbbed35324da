"""MacDrop's schedules and its mask (runner/macdrop.py) on tiny models: the p(t) properties, and that one
step touches only the k massive rows of gate and up, with one shared mask, and restores them bit for bit."""

from __future__ import annotations

import pytest
import torch

from runner.load import load
from runner.macdrop import MacDrop, MacDropConfig, keep_mask


@pytest.mark.parametrize("schedule", ["linear", "step", "exp"])
@pytest.mark.parametrize("T", [2, 7, 100])
def test_p_is_p0_at_the_first_step_zero_at_the_last_and_never_increases(schedule, T):
    cfg = MacDropConfig(p0=0.8, schedule=schedule)
    ps = [cfg.p(t, T) for t in range(T)]
    assert ps[0] == pytest.approx(0.8)
    assert ps[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(b <= a + 1e-12 for a, b in zip(ps, ps[1:]))


def test_linear_is_the_papers_decay_and_constant_stays_at_p0():
    lin, const = MacDropConfig(p0=0.8), MacDropConfig(p0=0.8, schedule="constant")
    assert [lin.p(t, 5) for t in range(5)] == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.0])
    assert {const.p(t, 5) for t in range(5)} == {0.8}


def test_step_schedule_has_stages_equal_stairs():
    ps = [MacDropConfig(p0=0.9, schedule="step", stages=3).p(t, 9) for t in range(9)]
    assert ps == pytest.approx([0.9] * 3 + [0.45] * 3 + [0.0] * 3)


def test_bad_settings_are_refused_with_the_value():
    with pytest.raises(ValueError, match="p0 must be in"):
        MacDropConfig(p0=1.0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        MacDropConfig(schedule="cosine")


def test_keep_mask_keeps_with_probability_1_minus_p_and_repeats_for_the_same_seed_and_step():
    m = keep_mask(seed=3, step=10, p=0.3, k=64, d=4096)  # 262,144 Bernoulli draws: sd of the mean ~0.001
    assert set(m.unique().tolist()) == {0.0, 1.0}
    assert m.mean().item() == pytest.approx(0.7, abs=0.01)
    assert torch.equal(m, keep_mask(3, 10, 0.3, 64, 4096))
    assert not torch.equal(m, keep_mask(3, 11, 0.3, 64, 4096))
    state = torch.get_rng_state()
    keep_mask(0, 0, 0.5, 4, 4)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_one_step_changes_only_the_k_rows_of_gate_and_up_with_one_mask_then_restores_them_bit_for_bit(
    model_dir, family
):
    loaded = load(model_dir(family), "cpu")
    layer, rows = 1, [7, 19, 42]
    mac = MacDrop(loaded.ffn(layer).row_weights(rows), MacDropConfig(p0=0.5, k=3), seed=0, T=10)
    before = snapshot(loaded.model)
    d_ff = loaded.ffn(layer).d_ff
    with mac.dropped(0) as (p, mask):
        assert p == 0.5 and mask.shape == (3, loaded.model.config.hidden_size)
        assert 0 < mask.mean().item() < 1
        during = snapshot(loaded.model)
    prefix = f"model.layers.{layer}.mlp."
    if family == "phi3":
        touched = {prefix + "gate_up_proj.weight": rows + [d_ff + r for r in rows]}
    else:
        touched = {prefix + "gate_proj.weight": rows, prefix + "up_proj.weight": rows}
    for name, w in during.items():
        if name not in touched:
            assert torch.equal(w, before[name]), name
            continue
        idx = touched[name]
        others = [i for i in range(w.shape[0]) if i not in idx]
        assert torch.equal(w[others], before[name][others])
        expected = before[name][idx] * mask.repeat(len(idx) // 3, 1)  # the same mask on gate and on up
        assert torch.equal(w[idx], expected)
        assert not torch.equal(w[idx], before[name][idx])
    after = snapshot(loaded.model)
    assert all(torch.equal(after[n], before[n]) for n in before)


def test_rescale_divides_kept_elements_by_1_minus_p_and_p_zero_touches_nothing(model_dir):
    loaded = load(model_dir("llama"), "cpu")
    w = loaded.ffn(1).up.weight
    orig = w[[7]].clone()
    mac = MacDrop(loaded.ffn(1).row_weights([7]), MacDropConfig(p0=0.5, k=1, rescale=True), seed=1, T=3)
    with mac.dropped(0) as (p, mask):
        assert torch.allclose(w[[7]], orig * mask / (1 - p))
    assert torch.equal(w[[7]], orig)
    with mac.dropped(2) as (p, mask):  # the last step of the linear schedule: p = 0
        assert p == 0.0 and mask is None and torch.equal(w[[7]], orig)


def test_the_fused_gate_up_gets_the_same_mask_on_both_halves(model_dir):
    loaded = load(model_dir("phi3"), "cpu")
    ffn = loaded.ffn(1)
    w = ffn.gate_up.weight
    mac = MacDrop(ffn.row_weights([5, 9]), MacDropConfig(p0=0.7, k=2), seed=2, T=4)
    with mac.dropped(0):
        gate_zero = w[[5, 9]] == 0
        up_zero = w[[ffn.d_ff + 5, ffn.d_ff + 9]] == 0
        assert gate_zero.any() and torch.equal(gate_zero, up_zero)
