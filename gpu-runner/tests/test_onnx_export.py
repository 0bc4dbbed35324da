"""The ONNX export (runner/onnx_export.py) computes what the runner computes: for every mask variant, onnxruntime
on the CPU gives the PyTorch engine's logits at prefill and at each cached decode step, all variants in one
batch told apart only by their keep rows, as the demo page runs them. On a tiny model with a planted massive
mechanism (so massive-zero / massive-retain / random-zero exist); the house model goes through the same code
in the browser test (test/e2e/browser.test.ts)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import torch

from runner import massive
from runner.onnx_export import CHUNK, export_onnx

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(runner_for, tmp_path_factory):
    r = runner_for("llama", plant=True)
    out = str(tmp_path_factory.mktemp("onnx"))
    export_onnx(r, out)
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    sess = ort.InferenceSession(os.path.join(out, manifest["graph"]), providers=["CPUExecutionProvider"])
    return r, out, manifest, sess


def keep_row(mask: dict | None, d_ff: int) -> np.ndarray:
    """What the page builds from the manifest (the same rule as variants.FfnMask.keep)."""
    if mask is None:
        return np.ones(d_ff, np.float32)
    row = np.zeros(d_ff, np.float32) if mask["mode"] == "retain" else np.ones(d_ff, np.float32)
    row[mask["indices"]] = 1.0 if mask["mode"] == "retain" else 0.0
    return row


def test_onnx_logits_equal_pytorchs_for_every_variant_at_prefill_and_decode(exported):
    r, _, manifest, sess = exported
    names = [v["name"] for v in manifest["variants"]]
    assert names == ["base", "massive-zero", "massive-retain", "random-zero"]
    c = manifest["config"]
    keep = np.stack([keep_row(v["mask"], c["d_ff"]) for v in manifest["variants"]])  # [B, F]
    ids = r.tokens.encode("the cat sat on the mat", add_bos=True)
    B = len(names)
    plans = [r.registry.resolve(n) for n in names]
    batch, want = r.engine.prefill([ids] * B, plans)  # [B, V]
    past = np.zeros((c["layers"], 2, B, c["kv_heads"], 0, c["head_dim"]), np.float32)
    step = np.array([ids] * B, np.int64)
    for t in range(4):
        logits, past, _, _ = sess.run(None, {"input_ids": step, "past": past, "keep": keep})
        np.testing.assert_allclose(logits, want.numpy(), atol=2e-4, rtol=1e-4, err_msg=f"step {t}")
        nxt = want.argmax(-1).tolist()  # greedy, as the page decodes
        want = r.engine.decode(batch, nxt)
        step = np.array(nxt, np.int64)[:, None]
    # the variants really differ: massive-zero moves the logits away from base
    assert not torch.allclose(want[0], want[1], atol=1e-3)


def test_hidden_and_inter_outputs_are_the_massive_analysis_capture(exported):
    r, _, manifest, sess = exported
    ids = r.tokens.encode(massive.DEFAULT_PROMPT, add_bos=True)
    c = manifest["config"]
    past = np.zeros((c["layers"], 2, 1, c["kv_heads"], 0, c["head_dim"]), np.float32)
    _, _, hidden, inter = sess.run(
        None, {"input_ids": np.array([ids]), "past": past, "keep": np.ones((1, c["d_ff"]), np.float32)}
    )
    p = massive.bos_profile(r.loaded, r.tokens)
    for i in range(c["layers"]):
        np.testing.assert_allclose(hidden[i, 0, 0], p.hidden[i].numpy(), atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(inter[i, 0, 0], p.inter[i].numpy(), atol=1e-4, rtol=1e-4)
        a = np.sort(np.abs(hidden[i, 0]).ravel())
        assert a[(a.size - 1) // 2] == pytest.approx(p.hidden_median[i], rel=1e-4)  # torch's lower median
    assert manifest["massive"]["layer"] == r.detection["massive_layer"]


def test_every_file_is_under_the_asset_cap_and_matches_its_manifest_hash(exported):
    _, out, manifest, _ = exported
    assert set(manifest["files"]) == {manifest["graph"], manifest["tokenizer"], *manifest["external_data"]}
    for name, meta in manifest["files"].items():
        data = open(os.path.join(out, name), "rb").read()
        assert len(data) == meta["bytes"] <= CHUNK + 1024 * 1024
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert meta["sha256"].startswith(name.rsplit("-", 1)[1].split(".")[0])  # named by content


def test_export_is_skipped_when_its_inputs_are_unchanged(exported):
    r, out, manifest, _ = exported
    again = export_onnx(r, out)
    assert again["skipped"] == "up to date"
    assert again["files"] == manifest["files"]


def test_an_adapter_merged_into_its_own_graph_equals_the_runners_adapter_variants(model_dir, tmp_path):
    from test_adapters import make_adapter

    from runner.config import RunnerConfig
    from runner.service import Runner

    base = model_dir("llama")
    make_adapter(base, str(tmp_path / "adapters" / "dora"), dora=True, seed=2)
    r = Runner(RunnerConfig(model=base, adapters_dir=str(tmp_path / "adapters"), device="cpu"))
    try:
        out = str(tmp_path / "onnx")
        export_onnx(r, out, adapter="dora")
        manifest = json.load(open(os.path.join(out, "manifest.json")))
        names = [v["name"] for v in manifest["variants"]]
        assert names == ["dora", "dora+massive-zero", "dora+massive-retain", "dora+random-zero"]
        sess = ort.InferenceSession(os.path.join(out, manifest["graph"]), providers=["CPUExecutionProvider"])
        c = manifest["config"]
        keep = np.stack([keep_row(v["mask"], c["d_ff"]) for v in manifest["variants"]])
        ids = r.tokens.encode("winter is cold", add_bos=True)
        _, want = r.engine.prefill([ids] * len(names), [r.registry.resolve(n) for n in names])
        past = np.zeros((c["layers"], 2, len(names), c["kv_heads"], 0, c["head_dim"]), np.float32)
        logits = sess.run(None, {"input_ids": np.array([ids] * len(names)), "past": past, "keep": keep})[0]
        np.testing.assert_allclose(logits, want.numpy(), atol=2e-4, rtol=1e-4)
        _, base_logits = r.engine.prefill([ids], [r.registry.resolve("base")])
        assert not np.allclose(logits[0], base_logits[0].numpy(), atol=1e-3)  # the adapter is in the graph
    finally:
        r.close()
