"""Choosing the next token for each row: greedy, or seeded temperature / top-p sampling per row."""

from __future__ import annotations

import torch


def make_generator(seed: int | None) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(seed if seed is not None else torch.seed() % (1 << 63))
    return g


def sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator) -> int:
    """logits [V] (one row) -> a token id. The row's own generator makes it batch-independent."""
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float().cpu() / temperature, dim=-1)  # [V]
    if top_p < 1.0:
        sorted_p, order = probs.sort(descending=True)
        cum = sorted_p.cumsum(0)
        cut = cum - sorted_p > top_p  # drop tokens once the mass before them already exceeds top_p
        sorted_p[cut] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1, generator=gen))


def top_logprobs(logprobs: torch.Tensor, n: int) -> list[tuple[int, float]]:
    """The n most likely (token, logprob) pairs of one row's log-softmax [V]."""
    if n <= 0:
        return []
    vals, idx = logprobs.topk(n)
    return list(zip(idx.tolist(), vals.tolist()))
