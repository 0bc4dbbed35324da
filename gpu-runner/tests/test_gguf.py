"""GGUF in: a .gguf file serves exactly what its source folder serves, quantized tensors are dequantized,
`convert` writes a safetensors folder once, and a catalog model is built once, atomically, into the cache."""

import json
import os
import sys
import types

import pytest
import torch

from runner import catalog
from runner.__main__ import main
from runner.config import RunnerConfig
from runner.service import Runner
from runner.tiny import PLANT_LAYER

sys.path.insert(0, os.path.dirname(__file__))
from gguf_file import q8_roundtrip, write_llama_gguf  # noqa: E402

pytest.importorskip("gguf")
TEXT = "Summer is warm. Winter is cold."


@pytest.fixture(scope="module")
def files(model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf")
    src = model_dir("llama")
    return {
        "src": src,
        "f32": write_llama_gguf(src, str(root / "tiny-f32.gguf")),
        "q8": write_llama_gguf(src, str(root / "tiny-q8.gguf"), q8_ffn=True),
    }


def logprobs(r: Runner, variant: str = "base"):
    return r.engine.logprobs_of([r.tokens.encode(TEXT)], [r.registry.resolve(variant)])[0]


def test_a_gguf_file_serves_what_its_source_folder_serves(runner_for, files):
    ref = runner_for("llama")
    r = Runner(RunnerConfig(model=files["f32"], device="cpu"))
    try:
        assert r.tokens.encode(TEXT) == ref.tokens.encode(TEXT)
        assert r.detection["massive_layer"] == PLANT_LAYER
        assert r.detection["top_k"] == ref.detection["top_k"]
        for v in ("base", "massive-zero"):
            torch.testing.assert_close(logprobs(r, v), logprobs(ref, v), atol=1e-5, rtol=1e-5)
    finally:
        r.close()


def test_quantized_tensors_are_dequantized_to_what_the_file_stores(runner_for, files):
    from runner.load import load

    src = runner_for("llama").loaded
    q8 = load(files["q8"], "cpu")
    for name in ("gate_proj", "up_proj", "down_proj"):
        ours = getattr(q8.model.model.layers[1].mlp, name).weight
        theirs = getattr(src.model.model.layers[1].mlp, name).weight
        torch.testing.assert_close(ours, q8_roundtrip(theirs), atol=0, rtol=0)
        assert not torch.equal(ours, theirs)  # Q8_0 really quantized them


def test_convert_writes_a_safetensors_folder_that_serves_the_same(runner_for, files, tmp_path, capsys):
    out = str(tmp_path / "converted")
    assert main(["convert", "--gguf", files["f32"], "--out", out]) == 0
    assert json.loads(capsys.readouterr().out)["model_type"] == "llama"
    assert sorted(f for f in os.listdir(out) if f.endswith(".safetensors")) == ["model.safetensors"]
    assert "quantization_config" not in json.load(open(os.path.join(out, "config.json")))
    r = Runner(RunnerConfig(model=out, device="cpu"))
    try:
        torch.testing.assert_close(logprobs(r), logprobs(runner_for("llama")), atol=1e-5, rtol=1e-5)
    finally:
        r.close()


def test_a_broken_gguf_file_says_what_is_wrong(tmp_path, capsys):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    assert main(["analyse", "--model", str(bad)]) == 2
    assert "could not read" in capsys.readouterr().err


def test_a_catalog_model_is_built_once_into_the_cache(files, tmp_path, monkeypatch):
    """The real build path (assemble, convert, notices, atomic rename) with a local stand-in package in place
    of the PyPI one, which is 253 MB: it 'assembles' the tiny GGUF file."""
    data = tmp_path / "pkg" / "data"
    data.mkdir(parents=True)
    (data / "NOTICE.md").write_text("terms apply")
    calls = []

    def assemble(output_path):
        calls.append(output_path)
        with open(files["f32"], "rb") as f, open(output_path, "wb") as g:
            g.write(f.read())
        return output_path

    mod = types.ModuleType("standin_weights")
    mod.__file__ = str(tmp_path / "pkg" / "__init__.py")
    mod.assemble = assemble
    monkeypatch.setitem(sys.modules, "standin_weights", mod)
    entry = catalog.Named(("standin-weights==1",), "standin_weights", "Stand-in terms.", ("NOTICE.md",))
    monkeypatch.setitem(catalog.CATALOG, "tiny-standin", entry)
    monkeypatch.setenv("HOUSE_MODEL_CACHE", str(tmp_path / "cache"))
    logs = []
    out = catalog.ensure("tiny-standin", log=logs.append)
    assert out == str(tmp_path / "cache" / "tiny-standin")
    assert sorted(os.listdir(out)) == sorted(
        [".complete", "NOTICE.md", "config.json", "generation_config.json", "model.safetensors"]
        + ["tokenizer.json", "tokenizer_config.json"]
    )  # the GGUF is gone once converted; nothing half-written is left beside it
    assert not os.path.exists(out + ".partial") and "Stand-in terms." in logs[-1]
    assert catalog.ensure("tiny-standin", log=logs.append) == out and len(calls) == 1  # built once
    r = Runner(RunnerConfig(model="tiny-standin", device="cpu"))
    try:
        assert r.detection["massive_layer"] == PLANT_LAYER
    finally:
        r.close()
