# Pretrains the house model on the tokenized corpus (one GPU; a tiny CPU run for smoke tests) and measures,
# at checkpoints, what the project is about: the BOS massive activation, the attention sink and the top-5
# weight attacks. Writes bf16 weight shards (<= 15 MiB each) and metrics.json to --out.
# Run: python train.py --data .carry/house --out /tmp/house-run --seed 0 --time-budget 480
import argparse
import json
import lzma
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from model import Config, Llama
from safetensors.torch import save_file

BOS_ID = 0


def load_tokens(path: Path, device) -> torch.Tensor:
    arr = np.frombuffer(lzma.decompress(path.read_bytes()), dtype=np.uint16)
    return torch.from_numpy(arr.astype(np.int32)).to(device)


def windows(tokens: torch.Tensor, starts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """BOS followed by T-1 tokens from each start as input; the T tokens after BOS as targets."""
    pos = starts[:, None] + torch.arange(T, device=tokens.device)  # B, T
    y = tokens[pos].long()
    x = torch.cat([torch.full_like(y[:, :1], BOS_ID), y[:, :-1]], dim=1)
    return x, y


@torch.no_grad()
def probe_run(model, vx) -> dict:
    """The paper's analysis on a copy of the model in Hugging Face form, through the runner (probe.py)."""
    from export import hf_config
    from probe import loaded_from, probe
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_config(hf_config(model.cfg)).to(vx.device).float().eval()
    hf.load_state_dict({k: v.float() for k, v in model.state_dict().items()}, strict=True)
    return probe(loaded_from(hf), vx)  # every window starts with BOS


def save_shards(model, out: Path, max_bytes: int = 15 * 2**20) -> list[str]:
    shards, cur, size = [], {}, 0
    for name, p in model.state_dict().items():
        t = p.detach().to(torch.bfloat16).cpu().contiguous()
        if cur and size + t.numel() * 2 > max_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[name], size = t, size + t.numel() * 2
    shards.append(cur)
    names = []
    for i, sd in enumerate(shards):
        names.append(f"weights-{i:02d}.safetensors")
        save_file(sd, str(out / names[-1]))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="folder with train.u16.xz and val.u16.xz")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-budget", type=float, default=480.0, help="seconds of training; sets the schedule")
    ap.add_argument("--max-steps", type=int, default=0, help="if set, the schedule runs on steps instead")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--probes", type=int, default=8, help="measurements spread over training")
    ap.add_argument("--val-windows", type=int, default=64)
    ap.add_argument("--tiny", action="store_true", help="a minute-long CPU smoke test")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--n-heads", type=int, default=Config.n_heads)
    ap.add_argument("--rope-theta", type=float, default=Config.rope_theta)
    ap.add_argument("--hard-limit", type=float, default=0, help="stop training this many seconds after start")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg = (
        Config(d_model=64, n_layers=4, n_heads=4, d_ff=128, context=128)
        if args.tiny
        else Config(n_heads=args.n_heads, rope_theta=args.rope_theta)
    )
    train, val = load_tokens(args.data / "train.u16.xz", dev), load_tokens(args.data / "val.u16.xz", dev)
    T = cfg.context
    vstarts = torch.linspace(0, len(val) - T - 1, args.val_windows, device=dev).long()
    vx, _ = windows(val, vstarts, T)
    model = Llama(cfg).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"params {n_params:,}  train tokens {len(train):,}  val tokens {len(val):,}  device {dev}", flush=True
    )
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
        fused=dev.type == "cuda",
    )
    step_fn = torch.compile(model) if dev.type == "cuda" and not args.no_compile else model
    started = time.time()
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    log, t0, step, tokens, next_probe = [], None, 0, 0, 1
    while True:
        if t0 is None and step == 2:  # start the clock after compilation
            t0 = time.time()
        elapsed = time.time() - t0 if t0 else 0.0
        progress = step / args.max_steps if args.max_steps else elapsed / args.time_budget
        if progress >= 1.0 or (args.hard_limit and time.time() - started > args.hard_limit):
            break
        lr_scale = min(1.0, (step + 1) / args.warmup)
        lr_scale *= args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress))
        for g in opt.param_groups:
            g["lr"] = args.lr * lr_scale
        starts = torch.randint(0, len(train) - T - 1, (args.batch,), device=dev, generator=gen)
        x, y = windows(train, starts, T)
        with torch.autocast(dev.type, torch.bfloat16, enabled=dev.type == "cuda"):
            logits = step_fn(x)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step, tokens = step + 1, tokens + x.numel()
        if step % 100 == 0:
            rate = tokens / (time.time() - t0) if t0 else 0
            print(
                f"step {step} loss {loss.item():.3f} lr {args.lr * lr_scale:.2e} tok/s {rate:,.0f}",
                flush=True,
            )
        if progress >= next_probe / args.probes:
            next_probe += 1
            model.eval()
            p = {"step": step, "tokens": tokens, "train_loss": round(loss.item(), 4), **probe_run(model, vx)}
            model.train()
            log.append(p)
            print(json.dumps(p), flush=True)
    model.eval()
    final = {"step": step, "tokens": tokens, "train_loss": round(loss.item(), 4), **probe_run(model, vx)}
    log.append(final)
    print(json.dumps(final), flush=True)
    shards = save_shards(model, args.out)
    meta = {"config": asdict(cfg), "args": {k: str(v) for k, v in vars(args).items()}, "params": n_params}
    meta |= {"shards": shards, "train_seconds": time.time() - t0, "probes": log}
    (args.out / "metrics.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
