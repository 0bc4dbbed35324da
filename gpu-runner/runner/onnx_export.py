"""Export the model as one ONNX graph with a KV cache and the massive layer's FFN keep-mask as an input, so one
graph serves `base`, `massive-zero`, `massive-retain` and `random-zero` (the demo page runs it in the visitor's
browser with onnxruntime-web). An adapter (`--adapter macdrop`) is merged into its own graph: the browser
would download a second model, so the page offers the mask variants of the base graph only.

    python -m runner export --format onnx --out build/assets/model [--adapter NAME] [--quantize int8]

The graph (exported by torch.onnx's dynamo exporter from the Hugging Face model itself, not a re-written copy):
  inputs   input_ids [B, T] int64; past [L, 2, B, H, P, Dh] float32 (keys, values; P = 0 at prefill);
           keep [B, F] float32, multiplied into the massive layer's down_proj input (variants.FfnMask.keep)
  outputs  logits [B, V] at the last position; present [L, 2, B, H, P + T, Dh]; hidden [L, B, T, D] (each
           layer's output) and inter [L, B, T, F] (each down_proj input), for the massive-activation chart.
Positions are P..P+T-1 for every row: rows are never padded (the page runs one prompt for every variant).

Weights go to external-data files of at most 20 MiB each (Workers static assets cap one file at 25 MiB),
and every file is named by its content hash, so it may be cached forever; manifest.json lists them with
their sha256 and Subresource Integrity string. Export is skipped when manifest.json already records the
same inputs (weights, tokenizer, this file, torch and onnx versions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile

import torch
from torch import nn

from . import massive
from .variants import _masker

CHUNK = 20 * 1024 * 1024  # bytes per external-data file, under the 25 MiB static-asset cap
FORMAT = 1  # manifest layout version; the page refuses others


class Graph(nn.Module):
    """The exported function: the Hugging Face model with an explicit KV cache, the keep-mask hook on the
    massive layer, an adapter active on every row when `adapter` is set, and the chart's captures."""

    def __init__(self, runner, layer: int, adapter: str | None = None):
        super().__init__()
        self.runner = runner
        self.model = runner.loaded.model
        self.layer = layer
        self.adapter = adapter

    def forward(self, input_ids, past, keep):
        from transformers import DynamicCache

        loaded, n = self.runner.loaded, len(self.runner.loaded.layers)
        B, T = input_ids.shape
        P = past.shape[4]
        cache = DynamicCache()
        for i in range(n):
            cache.update(past[i, 0], past[i, 1], i)
        pos = (torch.arange(T) + P)[None].expand(B, T)  # [B, T]
        hook = loaded.ffn(self.layer).down.register_forward_pre_hook(_masker(keep[:, None, :]))
        if self.adapter is not None:
            self.runner.adapters.active.groups = {self.adapter: torch.arange(B)}
        try:
            with massive.capture(loaded) as (hidden, inter):
                out = self.model(
                    input_ids=input_ids,
                    past_key_values=cache,
                    position_ids=pos,
                    use_cache=True,
                    logits_to_keep=1,
                )
        finally:
            hook.remove()
            self.runner.adapters.active.groups = {}
        c = out.past_key_values
        present = torch.stack([torch.stack([c.layers[i].keys, c.layers[i].values]) for i in range(n)])
        return (
            out.logits[:, -1],  # [B, V]
            present,  # [L, 2, B, H, P + T, Dh]
            torch.stack([hidden[i] for i in range(n)]),  # [L, B, T, D]
            torch.stack([inter[i] for i in range(n)]),  # [L, B, T, F]
        )


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sri(hexdigest: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(hexdigest)).decode()


def source_key(model_dir: str, adapter_dir: str | None, quantize: str | None) -> str:
    """What the export depends on: if this is unchanged, the files on disk are still right."""
    import onnx

    h = hashlib.sha256()
    for folder in [model_dir] + ([adapter_dir] if adapter_dir else []):
        for name in sorted(os.listdir(folder)):
            if name.endswith((".safetensors", ".json")):
                h.update(name.encode() + bytes.fromhex(sha256(os.path.join(folder, name))))
    h.update(bytes.fromhex(sha256(__file__)))
    h.update(f"{torch.__version__} {onnx.__version__} {quantize} {FORMAT}".encode())
    return h.hexdigest()


def up_to_date(out: str, key: str) -> bool:
    try:
        with open(os.path.join(out, "manifest.json")) as f:
            return json.load(f).get("source") == key
    except (OSError, ValueError):
        return False


def trace(runner, layer: int, adapter: str | None, path: str) -> None:
    """torch.onnx (dynamo) to `path` with its weights in one external file beside it."""
    cfg = runner.loaded.model.config
    n, H = len(runner.loaded.layers), cfg.num_key_value_heads
    Dh = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    d_ff = runner.loaded.ffn(layer).d_ff
    B, T, P = 2, 3, 4  # example sizes; all three are dynamic in the graph
    example = (torch.ones(B, T, dtype=torch.long), torch.zeros(n, 2, B, H, P, Dh), torch.ones(B, d_ff))
    batch, seq, past = torch.export.Dim("batch", max=64), torch.export.Dim("seq"), torch.export.Dim("past")
    with massive.eager(runner.loaded.model):  # eager attention traces to plain ops every backend runs
        torch.onnx.export(
            Graph(runner, layer, adapter).eval(),
            example,
            path,
            dynamo=True,
            input_names=["input_ids", "past", "keep"],
            output_names=["logits", "present", "hidden", "inter"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "past": {2: batch, 4: past}, "keep": {0: batch}},
            external_data=True,
            verbose=False,
        )


def split(src: str, out: str, stem: str) -> list[str]:
    """Rewrite the graph at `src` into `out`: weights in content-named chunks of <= CHUNK bytes, then the
    graph itself, named by its hash. Returns the file names, graph first."""
    import onnx
    from onnx.external_data_helper import set_external_data

    model = onnx.load(src, load_external_data=True)
    chunks: list[list] = [[]]
    size = 0
    for t in model.graph.initializer:
        n = len(t.raw_data)
        if n < 1024:
            continue  # small constants stay inside the graph
        if size + n > CHUNK and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += n
    names = []
    for tensors in chunks:
        blob = b"".join(t.raw_data for t in tensors)
        name = f"{stem}-{hashlib.sha256(blob).hexdigest()[:16]}.bin"
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
        offset = 0
        for t in tensors:
            n = len(t.raw_data)
            set_external_data(t, location=name, offset=offset, length=n)
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            offset += n
        names.append(name)
    graph = model.SerializeToString()
    name = f"{stem}-{hashlib.sha256(graph).hexdigest()[:16]}.onnx"
    with open(os.path.join(out, name), "wb") as f:
        f.write(graph)
    return [name] + names


def quantize_int8(src: str, dst: str) -> None:
    """Weight-only int8 for the MatMuls (onnxruntime's dynamic quantization): a quarter of the bytes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


def export_onnx(runner, out: str, adapter: str | None = None, quantize: str | None = None) -> dict:
    """Write the graph, its weights, the tokenizer and manifest.json into `out` (replaced when stale)."""
    det = runner.detection
    layer = det["massive_layer"]
    if layer is None:
        raise ValueError("this model has no massive layer: there is no keep-mask to export")
    if adapter is not None and adapter not in runner.adapters.meta:
        raise ValueError(f"unknown adapter {adapter!r}; loaded: {runner.adapters.names()}")
    adapter_dir = os.path.join(runner.cfg.adapters_dir, adapter) if adapter else None
    key = source_key(runner.cfg.model, adapter_dir, quantize)
    if up_to_date(out, key):
        with open(os.path.join(out, "manifest.json")) as f:
            return {"out": out, "skipped": "up to date", "source": key, "files": json.load(f)["files"]}
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    stem = runner.loaded.model_id + (f"-{adapter}" if adapter else "")
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "graph.onnx")
        trace(runner, layer, adapter, raw)
        if quantize == "int8":
            quantize_int8(raw, os.path.join(tmp, "q.onnx"))
            raw = os.path.join(tmp, "q.onnx")
        names = split(raw, out, stem)
    tok = runner.loaded.tokenizer
    tok_src = os.path.join(runner.cfg.model, "tokenizer.json")
    tok_name = f"tokenizer-{sha256(tok_src)[:16]}.json"
    shutil.copyfile(tok_src, os.path.join(out, tok_name))
    files = {}
    for name in names + [tok_name]:
        digest = sha256(os.path.join(out, name))
        files[name] = {
            "bytes": os.path.getsize(os.path.join(out, name)),
            "sha256": digest,
            "integrity": sri(digest),
        }
    cfg = runner.loaded.model.config
    manifest = {
        "format": FORMAT,
        "source": key,
        "model": runner.loaded.model_id,
        "adapter": adapter,
        "quantize": quantize,
        "graph": names[0],
        "external_data": names[1:],
        "tokenizer": tok_name,
        "config": {
            "layers": len(runner.loaded.layers),
            "kv_heads": cfg.num_key_value_heads,
            "head_dim": getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads,
            "d_model": cfg.hidden_size,
            "d_ff": runner.loaded.ffn(layer).d_ff,
            "vocab_size": cfg.vocab_size,
            "max_context": runner.max_context,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
        },
        "massive": {
            "layer": layer,
            "top_k": det["top_k"],
            "threshold": runner.cfg.threshold,
        },
        # the page builds each variant's keep row from its mask: ones, zeros at `indices` ("zero"), or
        # zeros with ones at `indices` ("retain"), as variants.FfnMask.keep does
        "variants": [
            {
                # in an adapter's graph every row runs the adapter: "macdrop", "macdrop+massive-zero", ...
                "name": (adapter if v.name == "base" else f"{adapter}+{v.name}") if adapter else v.name,
                "description": v.description,
                "mask": v.ffn_mask.to_json() if v.ffn_mask else None,
            }
            for v in runner.registry.variants.values()
            if v.adapter is None and (v.ffn_mask is None or v.ffn_mask.layer == layer)
        ],
        "files": files,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return {"out": out, "source": key, "files": files}


def add_arguments(p) -> None:
    """The `export` subcommand's ONNX options (runner/__main__.py owns the subcommand)."""
    p.add_argument("--adapter", help="--format onnx: merge this adapter into its own graph")
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="--format onnx: int8 MatMuls (changes the greedy text: bench/browser/quantize.json)",
    )


def run(args) -> int:
    from .__main__ import runner_from

    r = runner_from(args)
    try:
        print(json.dumps(export_onnx(r, args.out, args.adapter, args.quantize)))
    finally:
        r.close()
    return 0
