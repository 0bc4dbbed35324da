"""Training through PEFT with and without MacDrop (runner/finetune.py) on the tiny planted model: the base
never changes and never gets a gradient, every micro-batch of a step sees the one mask, p0 = 0 is plain
training, a resumed run equals an uninterrupted one, and the adapters load in peft and in the runner."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from runner import wire
from runner.config import RunnerConfig
from runner.finetune import TrainConfig, prepare, step_batches, steps, train
from runner.macdrop import MacDropConfig, keep_mask
from runner.service import Runner
from runner.variants import FfnMask, Variant

RECORDS = [
    {"instruction": "Define the word.", "input": w, "output": f"A kind of {w} that people {v}."}
    for w, v in [
        ("cat", "keep"),
        ("oak", "plant"),
        ("ship", "sail"),
        ("lamp", "light"),
        ("song", "sing"),
        ("road", "walk"),
        ("cake", "bake"),
        ("coin", "spend"),
        ("bell", "ring"),
        ("kite", "fly"),
        ("drum", "beat"),
        ("rope", "tie"),
    ]
] + [
    {"instruction": "Give a synonym of the word.", "input": a, "output": b} for a, b in [("big", "large")] * 4
]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return str(path)


def config(model_dir, data_file, out, **over) -> TrainConfig:
    kw = dict(
        model=model_dir("llama"),
        data=data_file,
        out=str(out),
        micro_batch=2,
        max_len=48,
        max_steps=6,
        lr=1e-2,  # large enough that a handful of steps moves the adapter visibly
        val_fraction=0.125,
        device="cpu",
        progress=False,
    )
    kw.update(over)
    return TrainConfig(**kw)


def adapter(out) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(out, "adapter_model.safetensors"))


def test_base_gets_no_gradient_and_all_micro_batches_of_a_step_see_one_mask_then_the_exact_rows(
    model_dir, data_file, tmp_path
):
    cfg = config(model_dir, data_file, tmp_path / "a", accum=3, macdrop=MacDropConfig(p0=0.8, k=3))
    s = prepare(cfg)
    base = {n: p.detach().clone() for n, p in s.peft_model.named_parameters() if not p.requires_grad}
    ffn = s.loaded.ffn(s.massive["layer"])
    gate, up = ffn.gate.weight, ffn.up.weight  # the base Linear weights under PEFT's wrappers
    rows = torch.tensor(s.massive["rows"])
    gate_rows, up_rows = gate[rows].clone(), up[rows].clone()
    seen = []  # (step, gate rows, up rows) at every training forward of the massive layer's FFN

    def look(mlp, _args):
        if mlp.training:  # validation passes run between steps, with the rows restored
            seen.append((len(done), gate[rows].clone(), up[rows].clone()))

    hook = s.loaded.layers[s.massive["layer"]].mlp.register_forward_pre_hook(look)
    done = []
    for step in steps(s):
        done.append(step)
        for n, p in s.peft_model.named_parameters():
            if n in base:
                assert p.grad is None, n
                assert torch.equal(p, base[n]), n  # restored bit for bit after every step
    hook.remove()
    assert s.massive["rows"] == [42, 19, 7]  # the runner's detection finds the planted rows
    for t in range(len(done) - 1):  # the last step has p = 0: no mask
        views = [(g, u) for step, g, u in seen if step == t]
        assert len(views) == len(step_batches(len(s.train_set), t, cfg, 0, 1))  # one per micro-batch
        mask = keep_mask(cfg.seed, t, s.mac.p(t), 3, gate.shape[1])  # the one mask of step t
        assert all(torch.equal(g, gate_rows * mask) and torch.equal(u, up_rows * mask) for g, u in views)
    changed = [t for t, g, _ in seen if not torch.equal(g, gate_rows)]
    assert changed  # the mask did drop pre-trained values (so the checks above could fail)
    assert max(len(step_batches(len(s.train_set), t, cfg, 0, 1)) for t in range(len(done))) == 3


def test_p0_zero_equals_plain_training_under_the_same_seed_and_p0_08_does_not(model_dir, data_file, tmp_path):
    train(config(model_dir, data_file, tmp_path / "plain"))
    train(config(model_dir, data_file, tmp_path / "zero", macdrop=MacDropConfig(p0=0.0, k=3)))
    train(config(model_dir, data_file, tmp_path / "mac", macdrop=MacDropConfig(p0=0.8, k=3)))
    plain, zero, mac = adapter(tmp_path / "plain"), adapter(tmp_path / "zero"), adapter(tmp_path / "mac")
    assert plain.keys() == zero.keys()
    assert all(torch.equal(plain[k], zero[k]) for k in plain)
    assert not all(torch.equal(plain[k], mac[k]) for k in plain)


# DoRA divides by each row's norm, and the planted tiny model has all-zero rows (its down_proj's marker row;
# its planted gate/up rows hold one non-zero each, which MacDrop can drop): PEFT's DoRA gives NaN there. Real
# rows are dense, and so are the unplanted tiny model's: DoRA tests run on it and drop 3 rows of layer 2.
def dense(model_dir) -> dict:
    return dict(model=model_dir("llama", False), layer=2, rows=(1, 2, 3))


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(model_dir, data_file, tmp_path):
    mac = MacDropConfig(p0=0.8, k=3)
    whole = train(
        config(model_dir, data_file, tmp_path / "whole", method="dora", macdrop=mac, **dense(model_dir))
    )
    cut = config(
        model_dir, data_file, tmp_path / "cut", method="dora", macdrop=mac, save_every=3, **dense(model_dir)
    )
    s = prepare(cut)
    for step in steps(s):  # stop after the checkpoint of step 3, as a killed job would
        if step["t"] == 2:
            break
    resumed = train(
        config(
            model_dir,
            data_file,
            tmp_path / "cut",
            method="dora",
            macdrop=mac,
            resume=True,
            **dense(model_dir),
        )
    )
    a, b = adapter(tmp_path / "whole"), adapter(tmp_path / "cut")
    assert all(a[k].isfinite().all() and torch.equal(a[k], b[k]) for k in a)
    assert resumed["time"]["resumed_at_step"] == 3
    assert [h["loss"] for h in resumed["loss"]["train"]] == [h["loss"] for h in whole["loss"]["train"]]
    assert resumed["p_trace"] == whole["p_trace"]


def test_resume_with_other_settings_is_refused_by_name(model_dir, data_file, tmp_path):
    s = prepare(config(model_dir, data_file, tmp_path, save_every=2))
    for step in steps(s):
        if step["t"] == 1:
            break
    with pytest.raises(ValueError, match=r"other settings \(lr\)"):
        prepare(config(model_dir, data_file, tmp_path, lr=5e-3, resume=True))


def test_the_run_card_holds_config_rows_p_trace_losses_seed_and_times(model_dir, data_file, tmp_path):
    card = train(config(model_dir, data_file, tmp_path, seed=4, macdrop=MacDropConfig(p0=0.6, k=3)))
    on_disk = json.loads((tmp_path / "run_card.json").read_text())
    assert on_disk == json.loads(json.dumps(card))
    assert card["massive"] == {"layer": 1, "rows": [42, 19, 7]} and card["seed"] == 4
    assert card["p_trace"] == pytest.approx([0.6 * (1 - t / 5) for t in range(6)])
    assert len(card["loss"]["train"]) == 6 and card["loss"]["val"]
    assert card["config"]["rank"] == 16 and card["config"]["alpha"] == 16.0 and card["config"]["lr"] == 1e-2
    assert card["time"]["wall_seconds"] > 0 and len(card["time"]["step_seconds"]) == 6
    cfg = json.loads((tmp_path / "adapter_config.json").read_text())
    assert sorted(cfg["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )  # every Linear but lm_head


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_a_trained_adapter_loads_in_peft_and_gives_the_runners_logits_alone_and_under_an_attack(
    model_dir, data_file, tmp_path, method
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapters = tmp_path / "adapters"
    mac = MacDropConfig(k=3)
    over = dense(model_dir) if method == "dora" else {}
    train(config(model_dir, data_file, adapters / "macdrop", method=method, macdrop=mac, **over))
    model = over.get("model", model_dir("llama"))
    runner = Runner(RunnerConfig(model=model, adapters_dir=str(adapters), device="cpu", k=3))
    try:
        assert "macdrop" in runner.registry.names()
        if method == "lora":  # the planted model: the built-in attack on its detected rows
            attack, rows = "massive-zero", runner.detection["top_k"]["indices"]
        else:  # no massive layer: the same attack as a registered mask
            attack, rows = "zero3", [1, 2, 3]
            runner.registry.add(Variant("zero3", None, FfnMask(1, (1, 2, 3), "zero")))
        ids = runner.tokens.encode("Define the word.\n\ncat")
        hf = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
        peft = PeftModel.from_pretrained(hf, str(adapters / "macdrop")).eval()
        with torch.no_grad():
            ref = torch.log_softmax(peft(input_ids=torch.tensor([ids])).logits[0, :-1], -1)
            ours = runner.engine.logprobs_of([ids], [runner.registry.resolve("macdrop")])[0]
            assert ref.isfinite().all() and torch.allclose(ours, ref, atol=1e-4)
            merged = peft.merge_and_unload()  # the paper's attack on a fine-tuned model: zero the merged rows
            mlp = merged.model.layers[1].mlp
            for w in (mlp.gate_proj.weight, mlp.up_proj.weight):
                w[rows] = 0.0
            ref_z = torch.log_softmax(merged(input_ids=torch.tensor([ids])).logits[0, :-1], -1)
            ours_z = runner.engine.logprobs_of([ids], [runner.registry.resolve(f"macdrop+{attack}")])[0]
        assert torch.allclose(ours_z, ref_z, atol=1e-4)
        assert not torch.allclose(ref_z, ref, atol=1e-3)  # the attack does change the answer
    finally:
        runner.close()


def test_an_adapter_trained_after_start_up_is_served_once_registered(model_dir, data_file, tmp_path):
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    runner = Runner(RunnerConfig(model=model_dir("llama"), adapters_dir=str(adapters), device="cpu", k=3))
    try:
        assert "dora-macdrop" not in runner.registry.names()
        out = adapters / "dora-macdrop"
        train(config(model_dir, data_file, out, method="lora", macdrop=MacDropConfig(k=3)))
        # what POST /v1/variants runs (server.py only translates HTTP to this call)
        runner.register(wire.VariantSpec(name="dora-macdrop", adapter="dora-macdrop")).result(timeout=60)
        ids = runner.tokens.encode("Define the word.\n\noak")
        plans = [runner.registry.resolve(v) for v in ("base", "dora-macdrop", "dora-macdrop+massive-zero")]
        base, adapted, attacked = runner.engine.logprobs_of([ids] * 3, plans)
        assert not torch.allclose(base, adapted, atol=1e-3) and not torch.allclose(
            adapted, attacked, atol=1e-3
        )
    finally:
        runner.close()
