"""Training data for adapters: instruction records (JSONL) or plain text, as token ids with labels.

- JSONL: one object per line, {"instruction": str, "input": str (optional), "output": str}. The prompt
  is rendered as the runner renders chat messages (Tokens.render_messages: the model's chat template
  when it has one, "user: ...\\nassistant:" otherwise), so an adapter learns the format it is served
  with; the loss covers the answer (and EOS) only. Every bad line is reported with its line number.
- Any other file: plain UTF-8 text, cut into BOS-prefixed windows, language-model loss on every token.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import torch

from .tokens import Tokens

IGNORE = -100  # label of tokens that carry no loss (prompt, padding): PyTorch cross-entropy's ignore_index
MAX_REPORTED = 10  # bad lines named in one error


@dataclass
class Example:
    ids: list[int]
    labels: list[int]  # IGNORE where no loss
    record: dict | None = None  # the instruction record it came from (multiple-choice evaluation uses it)


def read_records(path: str) -> list[dict]:
    """Parse and check every line; raise one ValueError naming the bad lines (at most MAX_REPORTED)."""
    records, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                bad.append(f"line {n}: not JSON ({e.msg})")
                continue
            problem = record_problem(r)
            if problem:
                bad.append(f"line {n}: {problem}")
            else:
                records.append(r)
    if bad:
        more = f" (and {len(bad) - MAX_REPORTED} more)" if len(bad) > MAX_REPORTED else ""
        raise ValueError(f"{path}: {len(bad)} bad line(s){more}: " + "; ".join(bad[:MAX_REPORTED]))
    if not records:
        raise ValueError(f"{path} holds no instruction records")
    return records


def record_problem(r) -> str | None:
    if not isinstance(r, dict):
        return "a record must be a JSON object with instruction, input (optional) and output"
    for key in ("instruction", "output"):
        if not isinstance(r.get(key), str) or not r[key].strip():
            return f"'{key}' must be a non-empty string"
    if not isinstance(r.get("input", ""), str):
        return "'input' must be a string when present"
    return None


def prompt_text(tokens: Tokens, r: dict) -> tuple[str, bool]:
    """The rendered prompt of a record and whether BOS must still be added."""
    user = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
    return tokens.render_messages([{"role": "user", "content": user}])


def answer_text(tokens: Tokens, r: dict) -> str:
    # the plain template ends in "assistant:"; a chat template ends with its own turn marker
    return r["output"] if tokens.has_chat_template else " " + r["output"]


def instruction_examples(tokens: Tokens, records: list[dict], max_len: int) -> tuple[list[Example], int]:
    """(examples, how many records were dropped because their prompt alone fills max_len)."""
    out, dropped = [], 0
    eos = [tokens.eos_id] if tokens.eos_id is not None else []
    for r in records:
        text, add_bos = prompt_text(tokens, r)
        prompt = tokens.encode(text, add_bos=add_bos)
        answer = tokens.encode(answer_text(tokens, r), add_bos=False) + eos
        ids = (prompt + answer)[:max_len]
        if len(ids) <= len(prompt):
            dropped += 1
            continue
        labels = [IGNORE] * len(prompt) + ids[len(prompt) :]
        out.append(Example(ids, labels, r))
    return out, dropped


def text_examples(tokens: Tokens, text: str, max_len: int) -> list[Example]:
    ids = tokens.encode(text, add_bos=False)
    step = max_len - 1
    wins = [[tokens.bos_id] + ids[i : i + step] for i in range(0, len(ids), step)]
    return [Example(w, list(w)) for w in wins if len(w) > 1]


def load_examples(path: str, tokens: Tokens, max_len: int) -> tuple[list[Example], dict]:
    """Examples of a file and what happened to it: {"format", "records" or "windows", "dropped"}."""
    if path.endswith(".jsonl"):
        records = read_records(path)
        examples, dropped = instruction_examples(tokens, records, max_len)
        info = {"format": "instructions", "records": len(records), "dropped_too_long": dropped}
    else:
        with open(path, encoding="utf-8") as f:
            examples = text_examples(tokens, f.read(), max_len)
        info = {"format": "text", "windows": len(examples)}
    if len(examples) < 2:
        raise ValueError(f"{path} gives {len(examples)} training example(s); need at least 2")
    return examples, info


def split(examples: list[Example], fraction: float, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, validation): a fixed shuffle by `seed`, independent of the training seed, so runs with
    different seeds are validated on the same examples."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(fraction * len(examples))) if fraction > 0 else 0
    val = [examples[i] for i in order[:n_val]]
    return [examples[i] for i in order[n_val:]], val


def collate(batch: list[Example], pad_id: int, device) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels, [B, T] each."""
    T = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), T), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), T), dtype=torch.long)
    for b, e in enumerate(batch):
        n = len(e.ids)
        ids[b, :n] = torch.tensor(e.ids)
        labels[b, :n] = torch.tensor(e.labels)
        mask[b, :n] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
