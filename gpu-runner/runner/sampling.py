"""Choosing the next token for each row: greedy, or seeded temperature / top-p sampling per row."""

from __future__ import annotations

import torch


def make_generator(seed: int | None) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(seed if seed is not None else torch.seed() % (1 << 63))
    return g


# Temperatures below this are greedy (vLLM's rule too): dividing logits by 1e-300 overflows to inf and the
# softmax to NaN, and the limit of sampling as the temperature goes to 0 is the argmax anyway.
GREEDY_BELOW = 1e-5


def sample(
    logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator, best: int | None = None
) -> int:
    """logits [V] (one row) -> a token id. The row's own generator makes it batch-independent. `best` is
    the row's argmax when the caller took it for the whole batch at once (one device sync, not one a row)."""
    if temperature < GREEDY_BELOW:
        return int(logits.argmax()) if best is None else best
    # float64, +inf as the largest float and NaN as never: (z - max) / t is then finite or -inf, so the
    # softmax holds no NaN however large the logits or small the temperature.
    big = torch.finfo(torch.float64).max
    z = torch.nan_to_num(logits.double().cpu(), nan=-torch.inf, posinf=big, neginf=-torch.inf)
    probs = torch.softmax((z - z.max()) / temperature, dim=-1)  # [V]
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
