"""Several processes through torchrun (runner/finetune.py's DDP path), on the CPU with gloo since no GPU
runs here: two ranks of 2 examples each train the same adapter as one process of 4, which holds only if
both ranks drew the same MacDrop mask at every step and split each step's examples between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from runner.finetune import TrainConfig, train
from runner.macdrop import MacDropConfig

WORDS = ["cat", "oak", "cow", "sun", "pen", "hat", "bee", "owl", "fig", "elk", "jar", "map", "ink", "yak"]
PORT = "8401"  # this suite's port range is 8400-8499


def test_two_processes_under_torchrun_train_the_adapter_one_process_trains(model_dir, tmp_path):
    data = tmp_path / "same-length.jsonl"  # equal answer lengths: the mean of rank means is the global mean
    data.write_text(
        "".join(json.dumps({"instruction": "Define.", "input": w, "output": f"A {w}."}) + "\n" for w in WORDS)
    )
    common = dict(
        model=model_dir("llama"), data=str(data), max_len=48, max_steps=4, lr=1e-2, val_fraction=0.125
    )
    one = tmp_path / "one"
    train(
        TrainConfig(
            out=str(one), micro_batch=4, device="cpu", progress=False, macdrop=MacDropConfig(k=3), **common
        )
    )
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", PORT]
    cmd += ["-m", "runner", "train", "--model", common["model"], "--data", str(data), "--max-len", "48"]
    cmd += ["--max-steps", "4", "--lr", "1e-2", "--val-fraction", "0.125", "--micro-batch", "2", "--macdrop"]
    cmd += ["--k", "3", "--device", "cpu", "--no-progress", "--out", str(two)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        cmd,
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    card = json.loads((two / "run_card.json").read_text())
    assert (
        card["world_size"] == 2 and card["steps"] == 4 and card["steps_per_epoch"] == 3
    )  # 12 examples, 4 a step
    a, b = load_file(one / "adapter_model.safetensors"), load_file(two / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
