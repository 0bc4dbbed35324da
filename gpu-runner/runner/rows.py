"""One generation row's bookkeeping (tokens in, text deltas out, stop strings, finish reasons, timing), and
`Generation`: the rows of one call, whose events its callers iterate (`for` in a thread, `async for` in the
server) as the scheduler thread produces them. Events are dicts:
  {"index", "delta", "tokens", "logprobs"?}             a piece of text (may be "" while held back)
  {"index", "finish_reason", "usage", "timing_ms", ...}  once, last
  {"index", "error"}                                     instead of the last, when generation failed
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import torch

from .errors import ApiError
from .sampling import make_generator, top_logprobs
from .tokens import Tokens
from .variants import Plan


@dataclass
class GenRow:
    index: int
    plan: Plan
    prompt_ids: list[int]
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: int | None = None  # None: no logprobs; 0: the chosen token's; n: and n alternatives
    ignore_eos: bool = False  # EOS is then a token like any other: the row ends at max_tokens or a stop
    out: Callable[[dict], None] | None = field(default=None, repr=False)  # set by Generation
    gen: torch.Generator = field(default=None, repr=False)
    out_ids: list[int] = field(default_factory=list)
    text: str = ""
    settled: str = ""  # decode(out_ids[:read]), which later tokens no longer change
    read: int = 0  # out_ids[:read] are in `settled`
    prefix: int = 0  # decoding starts here, one step before `read`: context for tokenizers whose pieces
    # depend on what precedes them (SentencePiece's leading space), as vLLM's incremental detokenizer does
    emitted: int = 0  # characters of `text` already sent
    lp: dict = field(default_factory=lambda: {"tokens": [], "token_logprobs": [], "top_logprobs": []})
    finish: str | None = None
    cancelled: bool = False
    last: int | None = None  # the token to feed at the next decode step
    t_submit: float = field(default_factory=time.perf_counter)
    t_admit: float | None = None
    t_first: float | None = None
    prefill_ms: float = 0.0

    def __post_init__(self):
        if self.gen is None:
            self.gen = make_generator(self.seed)

    @property
    def done(self) -> bool:
        return self.finish is not None or self.cancelled

    def ends_on(self, token: int, eos_id: int) -> bool:
        """Whether `token` ends the row as its EOS (EOS is an ordinary token with ignore_eos)."""
        return token == eos_id and not self.ignore_eos

    def full_at(self, n_out: int, max_context: int) -> bool:
        """Whether n_out generated tokens end the row for length (max_tokens, or the model's context)."""
        return n_out >= self.max_tokens or len(self.prompt_ids) + n_out >= max_context

    def push(self, token: int, logprobs: torch.Tensor | None, tok: Tokens, max_context: int) -> None:
        """Take one sampled token; `logprobs` is the row's log-softmax [V] when logprobs were asked."""
        self.t_first = self.t_first or time.perf_counter()
        new_lp = None
        eos = self.ends_on(token, tok.eos_id)
        if eos:
            self.finish = "stop"
        else:
            self.out_ids.append(token)
            self.last = token
            self.text = self._detokenize(tok)
            if self.logprobs is not None and logprobs is not None:
                piece = tok.piece(token)
                top = {tok.piece(i): round(v, 5) for i, v in top_logprobs(logprobs, self.logprobs)}
                new_lp = {
                    "tokens": [piece],
                    "token_logprobs": [round(float(logprobs[token]), 5)],
                    "top_logprobs": [top],
                }
                for key in self.lp:
                    self.lp[key] += new_lp[key]
            cut = self._stop_at()
            if cut is not None:
                self.text = self.text[:cut]
                self.finish = "stop"
            elif self.full_at(len(self.out_ids), max_context):
                self.finish = "length"
        self._emit([] if eos else [token], new_lp)
        if self.finish:
            self._final()

    def _detokenize(self, tok: Tokens) -> str:
        """decode(out_ids), decoding only the tokens since the last settled step: O(1) a token, not O(n).
        What the new tokens add is decode(out[prefix:]) minus decode(out[prefix:read]); the window settles
        once it ends on a whole character."""
        before = tok.decode(self.out_ids[self.prefix : self.read])
        now = tok.decode(self.out_ids[self.prefix :])
        if not now.startswith(before):  # a tokenizer that rewrites earlier text: decode it all
            return tok.decode(self.out_ids)
        if not now.endswith("\ufffd"):  # no UTF-8 character still arriving
            self.settled += now[len(before) :]
            self.prefix, self.read = self.read, len(self.out_ids)
            return self.settled
        return self.settled + now[len(before) :]

    def _stop_at(self) -> int | None:
        hits = [self.text.find(s, max(0, self.emitted - len(s))) for s in self.stop]
        hits = [h for h in hits if h >= 0]
        return min(hits) if hits else None

    def _safe_len(self) -> int:
        """How much of `text` can be sent: hold back a partial UTF-8 char and a possible stop-string prefix."""
        if self.finish:
            return len(self.text)
        n = len(self.text)
        tail = len(self.text) - len(self.text.rstrip("\ufffd"))
        n -= min(tail, 3)  # a UTF-8 character still arriving spans at most 3 pending bytes
        head = self.text[:n]
        hold = max((j for s in self.stop for j in range(1, len(s)) if head.endswith(s[:j])), default=0)
        return max(n - hold, self.emitted)

    def _emit(self, tokens: list[int], lp: dict | None) -> None:
        n = self._safe_len()
        event = {"index": self.index, "delta": self.text[self.emitted : n], "tokens": tokens}
        if lp is not None:
            event["logprobs"] = lp
        self.emitted = n
        self.out(event)

    def usage(self) -> dict:
        return {"prompt_tokens": len(self.prompt_ids), "completion_tokens": len(self.out_ids)}

    def timing(self) -> dict:
        now = time.perf_counter()
        admit = self.t_admit or now
        return {
            "queue": round((admit - self.t_submit) * 1e3, 3),
            "prefill": round(self.prefill_ms, 3),
            "decode": round((now - admit) * 1e3 - self.prefill_ms, 3),
            "total": round((now - self.t_submit) * 1e3, 3),
        }

    def _final(self) -> None:
        event = {
            "index": self.index,
            "variant": self.plan.name,
            "finish_reason": self.finish,
            "text": self.text,
            "tokens": list(self.out_ids),
            "usage": self.usage(),
            "timing_ms": self.timing(),
        }
        if self.logprobs is not None:
            event["logprobs"] = self.lp
        self.out(event)

    def fail(self, message: str, status: int = 503) -> None:
        """End the row with an error event: 503 when the batch failed (out of memory: try again), 500 when
        the row itself did (trying again would fail again, so the gateway must not retry it elsewhere)."""
        self.finish = "error"
        self.out(
            {"index": self.index, "error": {"type": "server_error", "message": message, "status": status}}
        )


class Generation:
    """The rows of one generate call as the scheduler runs them. Iterate it once, with `for` or `async for`:
    leaving early (a client that went away) cancels the rows still running, freeing their slots."""

    def __init__(self, rows: list[GenRow]):
        self.rows = rows
        self._events: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._wake: Callable[[], None] = lambda: None
        for r in rows:
            r.out = self._put

    def _put(self, event: dict) -> None:  # on the scheduler thread
        self._events.put(event)
        self._wake()

    def cancel(self) -> None:
        for r in self.rows:
            if not r.done:
                r.cancelled = True

    def __iter__(self) -> Iterator[dict]:
        left = len(self.rows)
        try:
            while left:
                event = self._events.get()
                left -= _last(event)
                yield event
        finally:
            self.cancel()

    async def __aiter__(self) -> AsyncIterator[dict]:
        loop, ready = asyncio.get_running_loop(), asyncio.Event()
        self._wake = lambda: loop.call_soon_threadsafe(ready.set)
        left = len(self.rows)
        try:
            while left:
                try:
                    event = self._events.get_nowait()
                except queue.Empty:
                    ready.clear()
                    if self._events.empty():  # checked after clear(), so a put in between is not missed
                        await ready.wait()
                    continue
                left -= _last(event)
                yield event
        finally:
            self.cancel()

    def results(self) -> list[dict]:
        return _results(list(self), len(self.rows))

    async def aresults(self) -> list[dict]:
        return _results([e async for e in self], len(self.rows))


def _last(event: dict) -> bool:
    return "finish_reason" in event or "error" in event


def _results(events: list[dict], n: int) -> list[dict]:
    """The final event of each row, in row order; a failed row fails the call with the row's status."""
    out: list = [None] * n
    for e in events:
        if "error" in e:
            status = e["error"].get("status", 503)
            raise ApiError(status, e["error"]["message"], retry_after=1 if status == 503 else None)
        if "finish_reason" in e:
            out[e["index"]] = e
    return out
