"""Training LoRA / DoRA adapters through PEFT, with or without MacDrop (runner/macdrop.py).

    python -m runner train --data FILE --method lora|dora [--macdrop] --out DIR      (one process)
    torchrun --nproc_per_node 8 -m runner train ...                                  (one process per GPU)

The paper's recipe is the default (rank 16, alpha 16, every linear layer but the embeddings and lm_head,
AdamW lr 1e-4, 5% linear warm-up then linear decay, 3 epochs, 5% validation split); MacDrop's layer and
rows come from the runner's own detection unless given. Writes a PEFT adapter folder (safetensors) and
run_card.json; checkpoints go to DIR/checkpoints and `--resume` continues from the latest one.

Order of one optimizer step t: draw the mask for (seed, t) and drop the massive rows, run every
micro-batch's forward and backward under that one mask, clip, step, then restore the rows bit for bit.
Which examples make step t is a function of (seed, t) as well: a resumed run repeats exactly.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch

from . import checkpoint, data, massive
from .load import load
from .macdrop import MacDrop, MacDropConfig
from .tokens import Tokens

METHODS = ("lora", "dora")
# fields that do not change what is trained: a resume may differ in them
RUN_ONLY = ("out", "resume", "progress", "device", "save_every")


@dataclass(frozen=True)
class TrainConfig:
    model: str  # base model folder (or hub id), loaded by runner.load
    data: str  # .jsonl instruction records, or any other file as plain text
    out: str  # adapter folder to write (adapter_config.json, adapter_model.safetensors, run_card.json)
    method: str = "lora"  # lora or dora (PEFT's use_dora)
    macdrop: MacDropConfig | None = None  # None trains without MacDrop
    layer: int | None = None  # massive layer for MacDrop; None: the runner's detection
    rows: tuple[int, ...] | None = None  # its k massive rows; None: the runner's detection
    threshold: float = 100.0  # detection's max/median ratio
    rank: int = 16  # lora r
    alpha: float = 16.0  # lora_alpha (scaling = alpha / r)
    lora_dropout: float = 0.0  # PEFT's dropout on the adapter's input
    lr: float = 1e-4  # AdamW peak learning rate
    warmup: float = 0.05  # share of the optimizer steps spent warming up linearly
    epochs: int = 3
    max_steps: int | None = None  # cap on optimizer steps (CPU budgets); the schedules span the capped run
    val_fraction: float = 0.05  # held-out share of the examples, a fixed split (seed 0)
    micro_batch: int = 16  # examples per forward pass (per process); DoRA's commonsense recipe uses 16
    accum: int = 1  # micro-batches per optimizer step (all under the same MacDrop mask)
    max_len: int = 256  # tokens per example; longer ones are cut, prompt-only ones dropped
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0  # None: no clipping
    seed: int = 0  # adapter init, data order, MacDrop masks
    eval_every: int = 0  # validation every N steps besides each epoch's end (0: epoch ends only)
    save_every: int = 0  # checkpoint every N steps (0: none)
    resume: bool = False  # continue from the latest checkpoint in out/checkpoints
    device: str | None = None
    dtype: str | None = None  # default: bf16 on GPU, fp32 on CPU
    progress: bool = True  # tqdm bar with loss and p
    card: dict = field(default_factory=dict)  # extra entries for the run card (e.g. the command line)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("rank", "epochs", "micro_batch", "accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_len < 8:
            raise ValueError(f"max_len must be >= 8, got {self.max_len}")
        if not 0 <= self.val_fraction < 0.5 or not 0 <= self.warmup < 1:
            raise ValueError("val_fraction must be in [0, 0.5) and warmup in [0, 1)")
        if self.lr <= 0 or (self.max_steps is not None and self.max_steps < 1):
            raise ValueError("lr must be > 0 and max_steps >= 1")
        if not os.path.isfile(self.data):
            raise ValueError(
                f"--data {self.data!r} is not a file: give a .jsonl of instruction records or a text file"
            )
        if (self.layer is None) != (self.rows is None):
            raise ValueError("give both layer and rows, or neither (then the runner's detection picks them)")

    def trained(self) -> dict:
        """The fields that decide what is trained (a resumed run must match them)."""
        d = asdict(self)
        for k in RUN_ONLY + ("card",):
            d.pop(k)
        return d


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) for one process."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def massive_rows(loaded, tokens: Tokens, cfg: TrainConfig) -> tuple[int, list[int]]:
    if cfg.rows is not None:
        if len(cfg.rows) != cfg.macdrop.k:
            raise ValueError(f"--rows lists {len(cfg.rows)} rows but k is {cfg.macdrop.k}")
        n = len(loaded.layers)
        if not 0 <= cfg.layer < n:
            raise ValueError(f"--layer must be in 0..{n - 1}, got {cfg.layer}")
        d_ff = loaded.ffn(cfg.layer).d_ff
        if any(not 0 <= r < d_ff for r in cfg.rows) or len(set(cfg.rows)) != len(cfg.rows):
            raise ValueError(f"--rows must be distinct integers in 0..{d_ff - 1}, got {list(cfg.rows)}")
        return cfg.layer, list(cfg.rows)
    det = massive.locate(loaded, tokens, cfg.macdrop.k, cfg.threshold)  # the rule serving uses
    if det["massive_layer"] is None:
        raise ValueError(
            "the runner's detection finds no massive layer in this model: pass --layer and --rows"
        )
    return det["massive_layer"], det["top_k"]["indices"]


def step_batches(n: int, t: int, cfg: TrainConfig, rank: int, size: int) -> list[list[int]]:
    """Example indices of each micro-batch this process runs at optimizer step t."""
    per_step = cfg.micro_batch * cfg.accum * size
    spe = steps_per_epoch(n, cfg, size)
    epoch, j = divmod(t, spe)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 7919 + epoch)).tolist()
    chunk = order[j * per_step : (j + 1) * per_step]
    micro = [chunk[(a * size + rank) * cfg.micro_batch :][: cfg.micro_batch] for a in range(cfg.accum)]
    return [m for m in micro if m]


def steps_per_epoch(n: int, cfg: TrainConfig, size: int) -> int:
    per_step = cfg.micro_batch * cfg.accum * size
    # one process keeps a short last step; several drop it, so every rank runs every micro-batch
    return max(1, math.ceil(n / per_step) if size == 1 else n // per_step)


@torch.no_grad()
def val_loss(model, val: list[data.Example], cfg: TrainConfig, pad_id: int, device) -> float:
    was = model.training
    model.eval()
    nll, n = 0.0, 0
    for i in range(0, len(val), cfg.micro_batch):
        batch = data.collate(val[i : i + cfg.micro_batch], pad_id, device)
        tokens = int((batch["labels"][:, 1:] != data.IGNORE).sum())
        nll += float(model(**batch).loss) * tokens
        n += tokens
    model.train(was)
    return nll / max(n, 1)


@dataclass
class Session:
    """Everything one training run holds between its steps."""

    cfg: TrainConfig
    loaded: object
    tokens: Tokens
    peft_model: object  # the PeftModel (what is saved)
    model: object  # what runs forward: the PeftModel, or DDP around it
    opt: torch.optim.Optimizer
    sched: object
    mac: MacDrop | None
    massive: dict | None  # {"layer", "rows"} that MacDrop drops; None without MacDrop
    train_set: list
    val_set: list
    T: int  # optimizer steps of the whole run
    spe: int  # optimizer steps per epoch
    start: int  # first step to run (> 0 after --resume)
    hist: dict
    data_info: dict
    rank: int
    size: int
    t_start: float


def prepare(cfg: TrainConfig) -> Session:
    """Load the model and data, find the massive rows, wrap in PEFT, build AdamW + schedule, resume."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from transformers import get_linear_schedule_with_warmup

    t_start = time.perf_counter()
    rank, size, local = world()
    device = cfg.device
    gpus = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    if size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if gpus else "gloo")  # gloo: several CPU processes
        if gpus:
            device = f"cuda:{local}"
            torch.cuda.set_device(local)
    loaded = load(cfg.model, device, cfg.dtype)
    tokens = Tokens(loaded.tokenizer, loaded.model.config.vocab_size)
    examples, data_info = data.load_examples(cfg.data, tokens, cfg.max_len)
    train_set, val_set = data.split(examples, cfg.val_fraction)
    spe = steps_per_epoch(len(train_set), cfg, size)
    T = min(cfg.epochs * spe, cfg.max_steps or cfg.epochs * spe)

    mac, where = None, None
    if cfg.macdrop is not None:
        layer, rows = massive_rows(loaded, tokens, cfg)
        where = {"layer": layer, "rows": rows}
        # the weight tensors, taken before PEFT wraps their modules (they stay the same objects)
        mac = MacDrop(loaded.ffn(layer).row_weights(rows), cfg.macdrop, cfg.seed, T)

    torch.manual_seed(cfg.seed)  # PEFT draws lora_A from the global RNG
    lcfg = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",  # PEFT's "all-linear" leaves out the output layer; embeddings are not Linear
        use_dora=cfg.method == "dora",
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(loaded.model, lcfg)
    peft_model.train()
    model = peft_model
    if size > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(peft_model, device_ids=[local] if gpus else None)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(cfg.warmup * T), T)

    start, hist = 0, {"train": [], "val": [], "step_seconds": []}
    if cfg.resume:
        folder = checkpoint.latest(cfg.out)
        if folder is None:
            raise ValueError(f"--resume: no checkpoint in {cfg.out}/checkpoints")
        adapter, state = checkpoint.load(folder, opt, sched)
        if state["config"] != json.loads(json.dumps(cfg.trained())):
            diff = sorted(
                k for k, v in json.loads(json.dumps(cfg.trained())).items() if state["config"].get(k) != v
            )
            raise ValueError(f"--resume: {folder} was trained with other settings ({', '.join(diff)})")
        set_peft_model_state_dict(peft_model, adapter)
        start, hist = state["step"], state["history"]
    return Session(
        cfg,
        loaded,
        tokens,
        peft_model,
        model,
        opt,
        sched,
        mac,
        where,
        train_set,
        val_set,
        T,
        spe,
        start,
        hist,
        data_info,
        rank,
        size,
        t_start,
    )


def steps(s: Session):
    """Run the optimizer steps s.start .. s.T-1, yielding {"t", "p", "loss"} after each one (the massive
    rows restored, the checkpoint written)."""
    from peft import get_peft_model_state_dict
    from tqdm.auto import tqdm

    cfg, dev, pad = s.cfg, s.loaded.device, s.tokens.pad_id
    params = [p for p in s.peft_model.parameters() if p.requires_grad]
    bar = tqdm(
        total=s.T, initial=s.start, disable=not cfg.progress or s.rank != 0, desc=os.path.basename(cfg.out)
    )
    try:
        for t in range(s.start, s.T):
            t0 = time.perf_counter()
            micro = step_batches(len(s.train_set), t, cfg, s.rank, s.size)
            loss_sum = 0.0
            with s.mac.dropped(t) if s.mac else nullcontext((0.0, None)) as (p, _mask):
                for a, idx in enumerate(micro):
                    batch = data.collate([s.train_set[i] for i in idx], pad, dev)
                    sync = a == len(micro) - 1 or s.size == 1
                    with nullcontext() if sync else s.model.no_sync():
                        loss = s.model(**batch).loss / len(micro)
                        loss.backward()
                    loss_sum += float(loss.detach())
                if cfg.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                s.opt.step()
                s.sched.step()
                s.opt.zero_grad(set_to_none=True)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            s.hist["step_seconds"].append(time.perf_counter() - t0)
            s.hist["train"].append({"step": t, "loss": loss_sum, "p": p, "lr": s.sched.get_last_lr()[0]})
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum:.4f}", p=f"{p:.3f}")
            done = t + 1
            if s.val_set and (
                done % s.spe == 0 or done == s.T or (cfg.eval_every and done % cfg.eval_every == 0)
            ):
                s.hist["val"].append({"step": t, "loss": val_loss(s.model, s.val_set, cfg, pad, dev)})
            if cfg.save_every and done % cfg.save_every == 0 and done < s.T and s.rank == 0:
                state = {"step": done, "history": s.hist, "config": cfg.trained()}
                adapter = get_peft_model_state_dict(s.peft_model)
                checkpoint.save(checkpoint.folder_for(cfg.out, done), adapter, s.opt, s.sched, state)
            yield {"t": t, "p": p, "loss": loss_sum}
    finally:
        bar.close()


def finish(s: Session) -> dict:
    """Write the adapter folder and its run card; returns the card."""
    cfg = s.cfg
    card = {
        "method": cfg.method,
        "macdrop": asdict(cfg.macdrop) if cfg.macdrop else None,
        "massive": s.massive,
        "config": cfg.trained(),
        "data": {**s.data_info, "train_examples": len(s.train_set), "val_examples": len(s.val_set)},
        "steps": s.T,
        "steps_per_epoch": s.spe,
        "world_size": s.size,
        "seed": cfg.seed,
        "p_trace": [h["p"] for h in s.hist["train"]],
        "loss": {"train": s.hist["train"], "val": s.hist["val"]},
        "time": timing(s.hist["step_seconds"], time.perf_counter() - s.t_start, resumed_at=s.start),
        "device": str(s.loaded.device),
        "dtype": str(s.loaded.dtype).removeprefix("torch."),
        **cfg.card,
    }
    if s.rank == 0:
        s.peft_model.save_pretrained(cfg.out, safe_serialization=True)
        with open(os.path.join(cfg.out, "run_card.json"), "w") as f:
            json.dump(card, f, indent=1)
    if s.size > 1:
        torch.distributed.barrier()
    return card


def train(cfg: TrainConfig) -> dict:
    """Train one adapter; returns its run card (also written to cfg.out/run_card.json)."""
    s = prepare(cfg)
    for _ in steps(s):
        pass
    return finish(s)


def timing(step_seconds: list[float], wall: float, resumed_at: int) -> dict:
    warm = step_seconds[3:] or step_seconds  # the first steps pay for allocation and kernel selection
    return {
        "wall_seconds": round(wall, 3),
        "steps_timed": len(step_seconds),
        "resumed_at_step": resumed_at,
        "seconds_per_step_median": round(statistics.median(warm), 6) if warm else None,
        "seconds_per_step_mean": round(statistics.fmean(warm), 6) if warm else None,
        "step_seconds": [round(x, 6) for x in step_seconds],
    }
