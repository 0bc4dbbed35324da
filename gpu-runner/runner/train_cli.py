"""Command line of training: `train`, `compare-training` and `build-instructions`, wired into
`python -m runner` by add_parser(sub). Heavy imports wait until a command runs.

    python -m runner train --data models/house/instructions/wordnet.jsonl --method lora --macdrop --out DIR
    python -m runner compare-training --data FILE --seeds 0,1,2 --out DIR
    python -m runner build-instructions --out FILE
"""

from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(REPO, "models", "house", "instructions", "wordnet.jsonl")


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def add_training_args(p) -> None:
    from .macdrop import SCHEDULES

    p.add_argument("--model", help="base model folder (default: the project's default model)")
    p.add_argument("--data", default=DEFAULT_DATA, help=".jsonl instruction records, or a text file")
    p.add_argument("--method", choices=["lora", "dora"], default="lora")
    p.add_argument("--device", help="cpu, cuda, cuda:N (torchrun picks cuda:LOCAL_RANK)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    g = p.add_argument_group("MacDrop")
    g.add_argument("--p0", type=float, default=0.8, help="drop probability at the first step")
    g.add_argument("--k", type=int, default=5, help="massive rows dropped")
    g.add_argument("--schedule", choices=SCHEDULES, default="linear")
    g.add_argument("--stages", type=int, default=4, help="stairs of the step schedule")
    g.add_argument("--rate", type=float, default=5.0, help="decay rate of the exp schedule")
    g.add_argument("--rescale", action="store_true", help="multiply kept elements by 1/(1-p)")
    g.add_argument("--layer", type=int, help="massive layer (default: the runner's detection)")
    g.add_argument("--rows", type=ints, help="comma-separated massive rows (with --layer)")
    h = p.add_argument_group("adapter and optimizer (the paper's defaults)")
    h.add_argument("--rank", type=int, default=16)
    h.add_argument("--alpha", type=float, default=16.0)
    h.add_argument("--lora-dropout", type=float, default=0.0)
    h.add_argument("--lr", type=float, default=1e-4)
    h.add_argument("--warmup", type=float, default=0.05, help="share of steps warming up")
    h.add_argument("--epochs", type=int, default=3)
    h.add_argument("--max-steps", type=int, help="cap on optimizer steps")
    h.add_argument("--val-fraction", type=float, default=0.05)
    h.add_argument("--micro-batch", type=int, default=16)
    h.add_argument("--accum", type=int, default=1, help="micro-batches per optimizer step")
    h.add_argument("--max-len", type=int, default=256)
    h.add_argument("--weight-decay", type=float, default=0.0)
    h.add_argument("--max-grad-norm", type=float, default=1.0, help="0 turns clipping off")
    h.add_argument("--eval-every", type=int, default=0)
    h.add_argument("--no-progress", action="store_true")


def config_from(args, out: str, macdrop: bool, seed: int, **over):
    from .__main__ import default_model
    from .finetune import TrainConfig
    from .macdrop import MacDropConfig

    mac = (
        MacDropConfig(args.p0, args.k, args.schedule, args.stages, args.rate, args.rescale)
        if macdrop
        else None
    )
    return TrainConfig(
        model=args.model or default_model(),
        data=args.data,
        out=out,
        method=args.method,
        macdrop=mac,
        layer=args.layer,
        rows=args.rows,
        rank=args.rank,
        alpha=args.alpha,
        lora_dropout=args.lora_dropout,
        lr=args.lr,
        warmup=args.warmup,
        epochs=args.epochs,
        max_steps=args.max_steps,
        val_fraction=args.val_fraction,
        micro_batch=args.micro_batch,
        accum=args.accum,
        max_len=args.max_len,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm or None,
        seed=seed,
        eval_every=args.eval_every,
        device=args.device,
        dtype=args.dtype,
        progress=not args.no_progress,
        card={"command": "python -m runner " + " ".join(sys.argv[1:])},
        **over,
    )


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a LoRA/DoRA adapter, with or without MacDrop")
    add_training_args(p)
    p.add_argument("--macdrop", action="store_true", help="drop the massive rows (MacDrop)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="adapter folder to write")
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("compare-training", help="plain vs MacDrop adapters over seeds: ppl, accuracy, attack")
    add_training_args(p)
    p.add_argument("--seeds", type=ints, default=(0, 1, 2))
    p.add_argument("--out", required=True, help="folder for the adapters and comparison.json")
    p.add_argument("--text", help="held-out text for perplexity (default: the model folder's heldout.txt)")
    p.add_argument("--eval-k", type=int, default=3, help="top-k zeroed by the robustness test")
    p.add_argument("--context", type=int, default=512, help="perplexity window")
    p.add_argument("--max-windows", type=int, default=40)
    p.add_argument("--choices", type=int, default=4, help="options per multiple-choice question")
    p.add_argument("--max-questions", type=int, default=300)
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("build-instructions", help="build the default instruction set from WordNet")
    p.add_argument("--out", default=DEFAULT_DATA)
    p.add_argument(
        "--wordnet", help="folder of WordNet's database files (default: fetch Debian's wordnet-base)"
    )
    p.add_argument("--cache", default=os.path.join(REPO, "build", "wordnet"))
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_build_instructions)


def cmd_train(args) -> int:
    from .finetune import train

    card = train(
        config_from(args, args.out, args.macdrop, args.seed, save_every=args.save_every, resume=args.resume)
    )
    t = card["time"]
    print(
        json.dumps(
            {
                "out": args.out,
                "steps": card["steps"],
                "final_val_loss": card["loss"]["val"][-1]["loss"] if card["loss"]["val"] else None,
                "seconds_per_step": t["seconds_per_step_median"],
                "wall_seconds": t["wall_seconds"],
                "massive": card["massive"],
            }
        )
    )
    return 0


def cmd_compare(args) -> int:
    from .compare_training import compare, table

    result = compare(args, lambda out, macdrop, seed: config_from(args, out, macdrop, seed))
    print(table(result))
    return 0


def cmd_build_instructions(args) -> int:
    from . import instructions

    wordnet = args.wordnet or instructions.fetch_wordnet(args.cache)
    records = instructions.build(wordnet, args.n, args.seed)
    instructions.write(records, args.out)
    print(json.dumps({"out": args.out, "records": len(records)}))
    return 0
