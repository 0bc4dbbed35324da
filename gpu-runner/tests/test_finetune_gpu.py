"""MacDrop training on a GPU (bf16 base, CUDA): the base stays bit for bit the pre-trained one after every
step and gets no gradient, and the adapter serves in the runner. Skipped where there is no CUDA device."""

from __future__ import annotations

import json

import pytest
import torch

from runner.config import RunnerConfig
from runner.finetune import TrainConfig, finish, prepare, steps
from runner.macdrop import MacDropConfig
from runner.service import Runner

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_gpu_macdrop_training_in_bf16_restores_the_rows_bit_for_bit_and_serves(model_dir, tmp_path):
    data = tmp_path / "d.jsonl"
    words = ["cat", "oak", "ship", "lamp", "song", "road", "cake", "coin", "bell", "kite", "drum", "rope"]
    data.write_text(
        "".join(json.dumps({"instruction": "Define.", "input": w, "output": f"A {w}."}) + "\n" for w in words)
    )
    out = tmp_path / "adapters" / "dora-macdrop"
    cfg = TrainConfig(
        model=model_dir("llama", False),  # dense rows: the planted model has all-zero ones, NaN for DoRA
        data=str(data),
        out=str(out),
        method="dora",
        macdrop=MacDropConfig(k=3),
        layer=2,
        rows=(1, 2, 3),
        micro_batch=2,
        accum=2,
        max_steps=5,
        lr=1e-2,
        device="cuda",
        progress=False,
    )
    s = prepare(cfg)
    assert s.loaded.dtype == torch.bfloat16 and s.massive == {"layer": 2, "rows": [1, 2, 3]}
    base = {n: p.detach().clone() for n, p in s.peft_model.named_parameters() if not p.requires_grad}
    for _ in steps(s):
        for n, p in s.peft_model.named_parameters():
            if n in base:
                assert p.grad is None and torch.equal(p, base[n]), n
    card = finish(s)
    assert all(h["loss"] == h["loss"] for h in card["loss"]["train"])  # no NaN
    r = Runner(RunnerConfig(model=cfg.model, adapters_dir=str(out.parent), device="cuda", k=3))
    try:
        ids = r.tokens.encode("Define.\n\ncat")
        a, b = r.engine.logprobs_of([ids] * 2, [r.registry.resolve(v) for v in ("base", "dora-macdrop")])
        assert b.isfinite().all() and not torch.equal(a, b)
    finally:
        r.close()
