"""The sweep: one row per (mode, k) plus base, whose zero/retain rows are exactly the built-in variants at
the same k, with a table and a plot written."""

import json
import os

import pytest

from runner.__main__ import main
from runner.evaluate import perplexity, windows

TEXT = "Summer is warm. Winter is cold. The cat sat on the mat, and the dog slept by the door. " * 6


def test_sweep_rows_equal_the_built_in_variants_at_the_same_k(model_dir, runner_for, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    out = tmp_path / "sweep"
    argv = ["sweep", "--model", model_dir("llama"), "--text", str(text), "--ks", "1,3,5", "--context", "64"]
    assert main(argv + ["--out", str(out)]) == 0
    res = json.load(open(out / "sweep.json"))
    assert [(r["mode"], r["k"]) for r in res["results"]] == [("base", 0)] + [
        (m, k) for k in (1, 3, 5) for m in ("zero", "retain", "random")
    ]
    assert all(os.path.getsize(out / f"sweep.{ext}") > 300 for ext in ("png", "svg", "md"))
    r = runner_for("llama", k=3)
    ids = r.tokens.encode(TEXT, add_bos=False)
    wins = windows(ids, r.tokens.bos_id, 64, None)
    at = {(x["mode"], x["k"]): x["ppl"] for x in res["results"]}
    for mode, variant in (("zero", "massive-zero"), ("retain", "massive-retain")):
        assert at[(mode, 3)] == pytest.approx(
            perplexity(r.engine, r.registry.resolve(variant), wins)["ppl"], rel=1e-6
        )
    # a random tiny model barely uses its planted rows, but zeroing them does change its predictions
    assert at[("zero", 3)] != at[("base", 0)]
    assert 0.0 <= res["results"][0]["sink"] <= 1.0
    assert "| 3 |" in capsys.readouterr().out


def test_sweep_refuses_a_model_without_a_massive_layer(model_dir, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    argv = ["sweep", "--model", model_dir("llama", False), "--text", str(text), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "no massive layer" in capsys.readouterr().err
