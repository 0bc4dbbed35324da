"""One generation row's bookkeeping: tokens in, text deltas out, stop strings, finish reasons, timing.

The scheduler thread calls `push`; events go to `sink` (thread-safe) as dicts:
  {"index", "delta", "tokens", "logprobs"?}             a piece of text (may be "" while held back)
  {"index", "finish_reason", "usage", "timing_ms", ...}  once, last
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

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
    sink: object = None  # callable(event: dict), safe to call from the scheduler thread
    gen: torch.Generator = field(default=None, repr=False)
    out_ids: list[int] = field(default_factory=list)
    text: str = ""
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

    def push(self, token: int, logprobs: torch.Tensor | None, tok: Tokens, max_context: int) -> None:
        """Take one sampled token; `logprobs` is the row's log-softmax [V] when logprobs were asked."""
        self.t_first = self.t_first or time.perf_counter()
        new_lp = None
        if token == tok.eos_id:
            self.finish = "stop"
        else:
            self.out_ids.append(token)
            self.last = token
            self.text = tok.decode(self.out_ids)
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
            elif (
                len(self.out_ids) >= self.max_tokens
                or len(self.prompt_ids) + len(self.out_ids) >= max_context
            ):
                self.finish = "length"
        self._emit([token] if token != tok.eos_id else [], new_lp)
        if self.finish:
            self._final()

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
        self.sink(event)

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
        self.sink(event)

    def fail(self, message: str) -> None:
        self.finish = "error"
        self.sink({"index": self.index, "error": {"type": "server_error", "message": message}})
