"""Does quantization keep the greedy text? The browser graph (fp32) against the same graph quantized two ways,
on onnxruntime CPU: greedy text of 48 tokens for every mask variant on held-out prompts, and the size of each.
  int8: onnx_export.quantize_int8 (onnxruntime's dynamic quantization: int8 weights AND int8 activations,
        one scale per tensor, which a massive activation at BOS, hundreds of times the median, plausibly
        spoils);
  w8:   weight-only 8-bit MatMulNBits (blocks of 32 along the input; activations stay fp32).

    .venv/bin/python bench/browser/quantize.py build/assets/browser/model   (writes bench/browser/quantize.json)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "gpu-runner"))
from tokenizers import Tokenizer  # noqa: E402

from runner.onnx_export import quantize_int8  # noqa: E402

PROMPTS = 24
STEPS = 48


def keep_row(mask, d_ff):
    row = np.zeros(d_ff, np.float32) if mask and mask["mode"] == "retain" else np.ones(d_ff, np.float32)
    if mask:
        row[mask["indices"]] = 1.0 if mask["mode"] == "retain" else 0.0
    return row


def greedy(sess, m, ids, keep):
    c, B = m["config"], keep.shape[0]
    past = np.zeros((c["layers"], 2, B, c["kv_heads"], 0, c["head_dim"]), np.float32)
    step, out = np.array([ids] * B, np.int64), [[] for _ in range(B)]
    done = [False] * B
    for _ in range(STEPS):
        logits, past, _, _ = sess.run(None, {"input_ids": step, "past": past, "keep": keep})
        nxt = logits.argmax(-1)
        for b, t in enumerate(nxt.tolist()):
            done[b] = done[b] or t == c["eos_token_id"]
            if not done[b]:
                out[b].append(t)
        step = nxt[:, None].astype(np.int64)
    return out


def weight_only_8bit(src: str, dst: str) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(src), bits=8, block_size=32, is_symmetric=True)
    q.process()
    q.model.save_model_to_file(dst, use_external_data_format=True)


def main(folder: str) -> None:
    m = json.load(open(os.path.join(folder, "manifest.json")))
    tok = Tokenizer.from_file(os.path.join(folder, m["tokenizer"]))
    keep = np.stack([keep_row(v["mask"], m["config"]["d_ff"]) for v in m["variants"]])
    here = os.path.dirname(os.path.abspath(__file__))
    lines = [ln.strip() for ln in open(os.path.join(here, "..", "..", "models", "house", "heldout.txt"))]
    lines = [ln for ln in lines if len(ln.split()) >= 6][::40][:PROMPTS]
    prompts = [" ".join(ln.split()[:8]) for ln in lines]
    fp32 = ort.InferenceSession(os.path.join(folder, m["graph"]), providers=["CPUExecutionProvider"])
    fp32_bytes = sum(f["bytes"] for n, f in m["files"].items() if n != m["tokenizer"])
    result = {"prompts": len(prompts), "tokens": STEPS, "fp32_bytes": fp32_bytes}
    for name, make in (("int8", quantize_int8), ("w8", weight_only_8bit)):
        with tempfile.TemporaryDirectory() as tmp:
            q = os.path.join(tmp, "q.onnx")
            make(os.path.join(folder, m["graph"]), q)
            size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
            sess = ort.InferenceSession(q, providers=["CPUExecutionProvider"])
            same = {v["name"]: 0 for v in m["variants"]}
            for p in prompts:
                ids = [m["config"]["bos_token_id"]] + tok.encode(p, add_special_tokens=False).ids
                a, b = greedy(fp32, m, ids, keep), greedy(sess, m, ids, keep)
                for v, x, y in zip(m["variants"], a, b):
                    same[v["name"]] += x == y
        result[name] = {"bytes": size, "greedy_text_equal_to_fp32": same}
    print(json.dumps(result, indent=1))
    with open(os.path.join(here, "quantize.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
