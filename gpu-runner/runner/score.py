"""Scoring: lm-evaluation-harness `loglikelihood` and `loglikelihood_rolling`, and legacy `echo` logprobs.

Each scorer is a generator that yields after every chunk of CHUNK rows (or rolling windows) and returns its
results: the scheduler runs one chunk between two decode steps, so a large scoring call never stalls the
generations running beside it (`drain` runs one to its end, off the scheduler).
"""

from __future__ import annotations

from collections.abc import Generator

from .engine import Engine
from .sampling import top_logprobs
from .tokens import Tokens
from .variants import Plan


def split_context(
    tok: Tokens, context: str, continuation: str, specials: bool = False
) -> tuple[list[int], list[int]]:
    """As lm-eval does: trailing spaces move from context to continuation, and the continuation's tokens
    are those of encode(context + continuation) past the context's (so merges across the seam count)."""
    n = len(context) - len(context.rstrip(" "))
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    whole = tok.encode(context + continuation, add_bos=True, specials=specials)
    ctx = tok.encode(context, add_bos=True, specials=specials)
    if whole[: len(ctx)] != ctx:  # the seam merged into one token: fall back to separate encodings
        return ctx, tok.encode(continuation, add_bos=False, specials=specials)
    return ctx, whole[len(ctx) :]


CHUNK = 8  # rows whose [T, V] log-softmaxes are alive at once; each chunk is reduced before the next


def chunks(items: list, n: int = CHUNK):
    for i in range(0, len(items), n):
        yield items[i : i + n]


Steps = Generator[None, None, list[dict]]


def drain(steps: Steps) -> list[dict]:
    """A scorer's results, run to its end at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def loglikelihood(engine: Engine, items: list[tuple[Plan, list[int], list[int]]]) -> Steps:
    out = []
    for part in chunks(items):
        lps = engine.logprobs_of([ctx + cont for _, ctx, cont in part], [p for p, _, _ in part])
        for (_, ctx, cont), lp in zip(part, lps):
            tail = lp[len(ctx) - 1 :]  # [len(cont), V]: predictions of the continuation tokens
            picked = [float(tail[i, t]) for i, t in enumerate(cont)]
            greedy = all(int(tail[i].argmax()) == t for i, t in enumerate(cont))
            out.append({"logprob": sum(picked), "is_greedy": greedy, "tokens": len(cont)})
        yield
    return out


def rolling_windows(ids: list[int], max_len: int) -> list[tuple[list[int], int]]:
    """Split a BOS-prefixed sequence into windows of at most max_len tokens; each window is (tokens,
    n_scored): it scores its last n_scored tokens, conditioned on as much preceding text as fits."""
    windows, start = [], 1  # ids[0] is BOS: never predicted
    while start < len(ids):
        end = min(start + max_len - 1, len(ids))
        lo = max(0, end - max_len)
        windows.append((ids[lo:end], end - start))
        start = end
    return windows


def rolling(engine: Engine, items: list[tuple[Plan, list[int]]], max_len: int) -> Steps:
    flat = [
        (k, plan, win, n) for k, (plan, ids) in enumerate(items) for win, n in rolling_windows(ids, max_len)
    ]
    totals = [0.0] * len(items)
    for part in chunks(flat):
        lps = engine.logprobs_of([w for _, _, w, _ in part], [p for _, p, _, _ in part])
        for (k, _, win, n), lp in zip(part, lps):
            targets = win[1:][-n:]
            rows = lp[-n:]
            totals[k] += sum(float(rows[i, t]) for i, t in enumerate(targets))
        yield
    return [{"logprob": totals[k], "tokens": len(ids) - 1} for k, (_, ids) in enumerate(items)]


def echo(
    engine: Engine, tok: Tokens, items: list[tuple[Plan, list[int], int]], added_bos: list[bool] | None = None
) -> Steps:
    """Each prompt token's log-probability (the first's is null). `added_bos[k]`: row k starts with a BOS the
    runner added, which conditions the row but is left out of its answer (its tokens are the prompt's own)."""
    out, added_bos = [], added_bos or [False] * len(items)
    rows = [(plan, ids, n_top, skip) for (plan, ids, n_top), skip in zip(items, added_bos)]
    for part in chunks(rows):
        lps = engine.logprobs_of([ids for _, ids, _, _ in part], [p for p, _, _, _ in part])
        out += [_echo_row(tok, ids, n_top, lp, int(skip)) for (_, ids, n_top, skip), lp in zip(part, lps)]
        yield
    return out


def _echo_row(tok: Tokens, ids: list[int], n_top: int, lp, skip: int = 0) -> dict:
    strs = [tok.piece(t) for t in ids]
    offsets, pos = [], 0
    for s in strs[skip:]:  # offsets into the prompt's own text, from 0
        offsets.append(pos)
        pos += len(s)
    token_lps = [None] + [round(float(lp[i, t]), 6) for i, t in enumerate(ids[1:])]
    tops = [None] + [
        {tok.piece(j): round(v, 6) for j, v in top_logprobs(lp[i], n_top)} if n_top else None
        for i in range(len(ids) - 1)
    ]
    # OpenAI's shape: the first echoed token has no log-probability, whatever conditioned it.
    return {
        "tokens": ids[skip:],
        "token_strs": strs[skip:],
        "token_logprobs": [None] + token_lps[skip + 1 :] if len(ids) > skip else [],
        "top_logprobs": [None] + tops[skip + 1 :] if len(ids) > skip else [],
        "text_offset": offsets,
    }
