"""GGUF, llama.cpp's format and the one most people download: read through transformers' GGUF reader
(the `gguf` package; weights dequantized to float), and written once as safetensors + tokenizer so later
starts are fast. A GGUF file holds tensors and metadata, no code, so the no-pickle rule holds.

    python -m runner convert --gguf FILE --out DIR [--dtype float32]
"""

from __future__ import annotations

import os
import time

import torch


def is_gguf(path: str) -> bool:
    return path.lower().endswith(".gguf") and os.path.isfile(path)


def read(path: str, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) from one .gguf file, dequantized to `dtype`, in eval mode."""
    try:
        import gguf  # noqa: F401  (transformers' reader needs it; say so plainly when it is missing)
    except ImportError as e:
        raise ValueError(
            "reading GGUF needs the `gguf` package: pip install 'house-runner[gguf]' (or gguf accelerate)"
        ) from e
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.split(os.path.abspath(path))
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=dtype, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    except (ValueError, KeyError, OSError, RuntimeError) as e:
        raise ValueError(f"could not read {path!r} as a GGUF model ({type(e).__name__}: {e})") from e
    model.hf_quantizer = None  # dequantized already; a quantizer left attached refuses save_pretrained
    if hasattr(model.config, "quantization_config"):  # nor should the saved folder claim to be quantized
        del model.config.quantization_config
    return model.eval(), tokenizer


def convert(path: str, out: str, dtype: str = "float32") -> dict:
    """Write `path` (a .gguf file) as a Hugging Face folder of safetensors, config and tokenizer."""
    if not is_gguf(path):
        raise ValueError(f"{path!r} is not a .gguf file")
    t0 = time.perf_counter()
    model, tokenizer = read(path, getattr(torch, dtype))
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {
        "gguf": path,
        "out": out,
        "model_type": model.config.model_type,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": dtype,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def add_parser(sub) -> None:
    p = sub.add_parser(
        "convert", help="write a .gguf file as safetensors + tokenizer (once; later starts are fast)"
    )
    p.add_argument("--gguf", required=True, help="path to a .gguf file")
    p.add_argument("--out", required=True, help="folder to write the Hugging Face layout into")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.set_defaults(run=cmd_convert)


def cmd_convert(args) -> int:
    import json

    print(json.dumps(convert(args.gguf, args.out, args.dtype)))
    return 0
