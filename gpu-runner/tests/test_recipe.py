"""The house model's recipe runs its analysis through the runner's functions: a tiny CPU training run
probes itself with the runner's detection, variants and perplexity, and exports a folder the runner loads."""

import json
import lzma
import os
import subprocess
import sys

import numpy as np

RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "models", "house", "recipe")


def test_a_tiny_training_run_probes_itself_with_the_runners_analysis(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("train", 40_000), ("val", 8_000)):
        toks = rng.integers(2, 300, size=n, dtype=np.uint16)  # a small alphabet: a few steps learn it
        (tmp_path / f"{name}.u16.xz").write_bytes(lzma.compress(toks.tobytes()))
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "train.py",
        "--data",
        str(tmp_path),
        "--out",
        str(out),
        "--tiny",
        "--max-steps",
        "20",
    ]
    cmd += ["--probes", "1", "--val-windows", "4", "--batch", "4", "--warmup", "5"]
    done = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((out / "metrics.json").read_text())
    final = meta["probes"][-1]
    assert final["step"] == 20
    assert set(final) >= {"massive_layer", "top_k", "sink_per_layer", "perplexity", "ppl_ratio"}
    assert final["perplexity"]["base"] < 8192 / 2  # it learned: uniform over the vocabulary is 8,192
    assert len(final["sink_per_layer"]) == 4
