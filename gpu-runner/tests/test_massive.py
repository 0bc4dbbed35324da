"""Massive-activation detection: finds planted rows, and says 'none' for a model without them."""

import os

import pytest

from runner import massive
from runner.tiny import PLANT_DIM, PLANT_LAYER, PLANT_ROWS


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3"])
def test_detection_finds_the_planted_layer_rows_and_dim(runner_for, family):
    r = runner_for(family)
    det = r.detection
    assert det["massive_layer"] == PLANT_LAYER
    assert set(det["top_k"]["indices"][:3]) == set(PLANT_ROWS)
    assert [d["dim"] for d in det["massive_dims"]] == [PLANT_DIM]
    assert r.health()["variants"] == ["base", "massive-zero", "massive-retain", "random-zero"]


@pytest.mark.parametrize("family", ["llama", "phi3", "gemma2", "gemma3_text", "qwen3"])
def test_detection_reports_none_for_a_plain_random_model(runner_for, family):
    r = runner_for(family, plant=False)
    assert r.detection["massive_layer"] is None
    assert r.detection["massive_dims"] == []
    assert r.health()["variants"] == ["base"]


def profile(hidden, inter, write, median=None):
    median = median or [1.0] * len(hidden)
    return massive.Profile(hidden, inter, median, [1.0] * len(inter), write)


def vec(**dims):
    import torch

    v = torch.ones(8)
    for d, x in dims.items():
        v[int(d[1:])] = x
    return v


def test_rule_takes_the_layer_whose_ffn_creates_the_largest_massive_dim():
    flat, none = vec(), vec() * 0
    inter = [vec(d3=50.0), vec(d6=400.0), vec(d1=9000.0), vec()]
    # d2 is written by layer 1's FFN (300 of a 500 peak) and grows after; layer 2 explodes most but creates nothing
    hidden = [flat, vec(d2=301.0), vec(d2=500.0), vec(d2=499.0)]
    write = [none, vec(d2=300.0), vec(d2=199.0), none]
    det = massive.detect(profile(hidden, inter, write), k=2, threshold=100)
    assert det["massive_layer"] == 1 and det["top_k"]["indices"][0] == 6
    assert det["massive_dims"][0] | {"value": 0} == {
        "dim": 2,
        "value": 0,
        "layer": 2,
        "ratio": 500.0,
        "created_by": 1,
    }
    # a write below `share` of the peak does not create: the first layer that writes >= 5% does
    write = [none, vec(d2=20.0), vec(d2=479.0), none]
    assert massive.detect(profile(hidden, inter, write), k=2, threshold=100)["massive_layer"] == 2
    # a write of the wrong sign (one that cancels) creates nothing
    write = [none, vec(d2=-300.0), none, none]
    assert massive.detect(profile(hidden, inter, write), k=2, threshold=100)["massive_layer"] is None


def test_rule_invents_no_layer_and_uses_the_reference_median():
    import torch

    flat, none = vec(), vec() * 0
    # massive from layer 0 (a large BOS embedding) that no FFN writes: dims reported, no layer, no rows
    hidden = [vec(d4=300.0)] * 3
    det = massive.detect(profile(hidden, [flat] * 3, [none] * 3), k=2, threshold=100)
    assert det["massive_layer"] is None and det["top_k"]["indices"] == []
    assert [d["dim"] for d in det["massive_dims"]] == [4]
    # below the threshold nothing is massive
    assert (
        massive.detect(profile([vec(d4=99.0)] * 3, [flat] * 3, [vec(d4=99.0)] * 3), 2, 100)["massive_dims"]
        == []
    )
    # ratios are against the reference median over all positions, not the BOS row's own median
    many = torch.full((8,), 50.0)
    det = massive.detect(profile([flat, many], [flat, many], [none, many], [1.0, 0.4]), k=2, threshold=100)
    assert det["massive_layer"] == 1


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
    assert "neither a folder" in capsys.readouterr().err
