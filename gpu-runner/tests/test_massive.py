"""Massive-activation detection: finds planted rows, and says 'none' for a model without them."""

import os

import pytest

from runner import massive
from runner.tiny import PLANT_DIM, PLANT_LAYER, PLANT_ROWS


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "phi3"])
def test_detection_finds_the_planted_layer_rows_and_dim(runner_for, family):
    r = runner_for(family)
    det = r.detection
    assert det["massive_layer"] == PLANT_LAYER
    assert set(det["top_k"]["indices"][:3]) == set(PLANT_ROWS)
    assert [d["dim"] for d in det["massive_dims"]] == [PLANT_DIM]
    assert r.health()["variants"] == ["base", "massive-zero", "massive-retain", "random-zero"]


@pytest.mark.parametrize("family", ["llama", "phi3", "gemma2"])
def test_detection_reports_none_for_a_plain_random_model(runner_for, family):
    r = runner_for(family, plant=False)
    assert r.detection["massive_layer"] is None
    assert r.detection["massive_dims"] == []
    assert r.health()["variants"] == ["base"]


def profile(hidden, inter):
    return massive.Profile(hidden, inter, [1.0] * len(hidden), [1.0] * len(inter))


def test_rule_needs_an_exploding_intermediate_state_at_or_before_the_massive_hidden_state():
    import torch

    flat = torch.ones(8)
    spike = torch.ones(8)
    spike[2] = 500.0
    big = torch.ones(8)
    big[5] = 150.0
    # hidden massive from layer 1 but no FFN intermediate outlier: massive dims reported, no layer invented
    det = massive.detect(profile([flat, spike, spike], [flat, flat, flat]), k=2, threshold=100)
    assert det["massive_layer"] is None and [d["dim"] for d in det["massive_dims"]] == [2]
    # two layers cross the threshold: the one that explodes most wins; layers after L* do not count
    det = massive.detect(profile([flat, spike, spike], [big, spike, spike * 10]), k=2, threshold=100)
    assert det["massive_layer"] == 1 and det["top_k"]["indices"][0] == 2
    # ratios are against the reference median over all positions, not the BOS row's own median
    many = torch.full((8,), 50.0)
    p = massive.Profile([flat, many], [flat, many], [1.0, 0.4], [1.0, 0.4])
    assert massive.detect(p, k=2, threshold=100)["massive_layer"] == 1
    assert massive._ratio(many, many.abs().median().item()) == 1.0


def test_analysis_has_per_position_profiles_and_attention_on_first(runner_for):
    r = runner_for("llama")
    a = massive.analyse(r.loaded, r.tokens, 5, 100.0, "Hi. Yo.")
    n_tok = len(r.tokens.encode("Hi. Yo."))
    assert len(a["prompt"]["tokens"]) == n_tok
    for layer in a["prompt"]["layers"]:
        assert len(layer["positions"]) == n_tok
        assert 0.0 <= layer["attention_on_first"] <= 1.0
    bos = a["prompt"]["layers"][PLANT_LAYER]["positions"][0]["hidden"]
    assert bos["top"][0][0] == PLANT_DIM and bos["ratio"] > 100


def test_analyse_cli_prints_table_and_json(model_dir, capsys):
    from runner.__main__ import main

    assert main(["analyse", "--model", model_dir("llama")]) == 0
    out = capsys.readouterr().out
    assert f"massive layer: {PLANT_LAYER}" in out
    assert main(["analyse", "--model", model_dir("llama", False), "--json"]) == 0
    assert '"massive_layer": null' in capsys.readouterr().out


def test_loading_says_what_to_fix(tmp_path, capsys):
    import subprocess
    import sys

    from runner.__main__ import main

    # a hub id without a network: a subprocess, since the hub library reads HF_HUB_OFFLINE at import
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "runner", "analyse", "--model", "some-org/some-model"]
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__))
    )
    assert done.returncode == 2 and "could not fetch 'some-org/some-model'" in done.stderr
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    assert main(["analyse", "--model", str(tmp_path)]) == 2
    assert "only safetensors" in capsys.readouterr().err
    assert main(["analyse", "--model", str(tmp_path / "missing-folder")]) == 2
    assert "neither a folder nor a hub id" in capsys.readouterr().err
