"""Continuous batching on one worker thread that owns the model.

Each turn of the loop: run queued jobs (analysis, registration), run ONE step (a chunk of rows) of the
oldest scoring call, admit waiting rows (prefill them together, then merge them into the running batch,
whatever their variants), run one decode step for every running row, and drop rows that finished or whose
client left. Policy: scoring and decoding interleave chunk by step, and scoring calls take turns, so a
one-token generate beside a 32-row rolling score waits for one chunk, not for the whole score.

Decoding runs on the engine's growing cache (`Batch`: merged and sliced as rows come and go) or, where
`slots` is given, on a static slot cache (slots.py: fixed shapes, CUDA graphs). Each step picks every
greedy row's token with one argmax over the batch and one device sync, and copies the logits of the rows
that sample or report logprobs to the host in one transfer.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future

import torch

from .engine import Engine
from .errors import ApiError
from .metrics import Metrics
from .rows import GenRow
from .sampling import GREEDY_BELOW, sample
from .tokens import Tokens


class Scheduler:
    def __init__(self, engine: Engine, tokens: Tokens, max_context: int, cfg, metrics: Metrics, slots=None):
        self.engine = engine
        self.slots = slots  # a slots.SlotDecoder, or None for the dynamic cache
        self.tokens = tokens
        self.max_context = max_context
        self.cfg = cfg
        self.metrics = metrics
        self.pending: deque[GenRow] = deque()
        self.jobs: deque[tuple] = deque()
        self.steps: deque[tuple] = deque()  # (generator, Future): stepwise scoring calls, taking turns
        self.running: list[GenRow] = []
        self.flight: tuple | None = None  # (rows, logits) of the static decoder's step in flight
        self.cv = threading.Condition()
        self.stopped = False
        self.metrics.queue_depth = lambda: len(self.pending)
        self.thread = threading.Thread(target=self._loop, name="runner-scheduler", daemon=True)
        self.thread.start()

    def submit(self, rows: list[GenRow]) -> None:
        with self.cv:
            if len(self.pending) + len(rows) > self.cfg.max_queue_rows:
                raise ApiError(
                    503, f"queue full ({len(self.pending)} rows waiting); retry shortly", retry_after=1
                )
            self.pending.extend(rows)
            self.cv.notify()

    def call(self, fn) -> Future:
        """Run fn() on the model thread between decode steps; the Future carries its result."""
        return self._enqueue(self.jobs, fn)

    def call_steps(self, steps) -> Future:
        """Run a scorer's generator one chunk per loop turn; the Future carries {"results": its return}."""
        return self._enqueue(self.steps, steps)

    def _enqueue(self, queue, work) -> Future:
        fut: Future = Future()
        with self.cv:
            queue.append((work, fut))
            self.cv.notify()
        return fut

    def _step_scoring(self) -> None:
        steps, fut = self.steps.popleft()
        if fut.cancelled():
            return
        try:
            next(steps)
        except StopIteration as done:
            fut.set_result({"results": done.value})
            return
        except BaseException as e:  # handed to the awaiting request, never kills the loop
            fut.set_exception(e)
            return
        self.steps.append((steps, fut))  # its next chunk after the other calls' (round robin)

    def stop(self) -> None:
        with self.cv:
            self.stopped = True
            self.cv.notify()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        batch = None
        while True:
            with self.cv:
                while (
                    not self.stopped
                    and not self.pending
                    and not self.jobs
                    and not self.steps
                    and batch is None
                ):
                    self.cv.wait()
                if batch is None and self.pending and not self.stopped:
                    self._gather()
                if self.stopped:
                    return
                jobs = list(self.jobs)
                self.jobs.clear()
                admit = []
                while self.pending and len(self.running) + len(admit) < self.cfg.max_batch_rows:
                    row = self.pending.popleft()
                    if not row.cancelled:
                        admit.append(row)
            for fn, fut in jobs:
                if fut.set_running_or_notify_cancel():
                    try:
                        fut.set_result(fn())
                    except BaseException as e:  # handed to the awaiting request, never kills the loop
                        fut.set_exception(e)
            if self.steps:
                self._step_scoring()
            try:
                if admit:
                    batch = self._admit(batch, admit)
                if batch is not None:
                    batch = self._step(batch)
            except Exception as e:  # e.g. out of memory: fail these rows, keep serving
                traceback.print_exc()
                for row in self.running + admit:
                    if not row.done:
                        row.fail(f"generation failed: {type(e).__name__}: {e}")
                self.running, batch, self.flight = [], None, None
                if self.slots is not None:
                    self.slots.keep_rows([])

    def _gather(self) -> None:
        """Idle, with rows pending: wait up to batch_wait_ms from now for more of a burst to arrive, so it
        is prefilled as one batch. A deadline, not one wait: every submit notifies the condition, and
        waking at the second row would split a burst into waves (each wave's prefill stalls the
        decoding of the rows before it). Ends early for a full batch, a job or a stop. Holds self.cv."""
        deadline = time.monotonic() + self.cfg.batch_wait_ms / 1e3
        while (
            not self.stopped
            and not self.jobs
            and not self.steps
            and len(self.pending) < self.cfg.max_batch_rows
            and (left := deadline - time.monotonic()) > 0
        ):
            self.cv.wait(timeout=left)

    def _admit(self, batch, rows: list[GenRow]):
        t0 = time.perf_counter()
        for r in rows:
            r.t_admit = t0
        new, logits = self.engine.prefill([r.prompt_ids for r in rows], [r.plan for r in rows])
        ms = (time.perf_counter() - t0) * 1e3
        for r in rows:
            r.prefill_ms = ms
        self._choose(rows, logits)
        keep = [i for i, r in enumerate(rows) if not r.done]
        self._finish([r for r in rows if r.done])
        if not keep:
            return batch
        new = Engine.select(new, keep) if len(keep) < len(rows) else new
        live = [rows[i] for i in keep]
        if self.slots is not None:
            self.slots.join(new)
            self.running += live
            return self.slots
        if batch is None:
            self.running = live
            return new
        self.running += live
        return Engine.merge(batch, new)

    def _step(self, batch):
        if self.slots is not None:
            return self._step_ahead()
        self.metrics.batch(len(self.running))
        logits = self.engine.decode(batch, [r.last for r in self.running])  # [B, V]
        self._choose(self.running, logits)
        keep = [i for i, r in enumerate(self.running) if not r.done]
        self._finish([r for r in self.running if r.done])
        if not keep:
            self.running = []
            return None
        if len(keep) < len(self.running):
            batch = Engine.select(batch, keep)
            self.running = [self.running[i] for i in keep]
        return batch

    def _step_ahead(self):
        """The static decoder's step, one ahead of the host: as soon as this step's tokens are picked (the
        one sync), the next step is launched with them, and the host streams this step's tokens while
        the GPU computes the next (vLLM's async scheduling; the GPU no longer idles while Python works).
        A row that this step finishes on a stop string has computed one step for nothing: its share of
        a batch. A row that may end here (EOS, its last token) is not launched again."""
        slots = self.slots
        if self.flight is None:  # nothing in flight: launch for the running rows
            self.metrics.batch(len(self.running))
            self.flight = (list(self.running), slots.step([r.last for r in self.running]))
            return slots
        rows, logits = self.flight
        picked = dict(zip(map(id, rows), self._pick(rows, logits)))  # row -> (its token or None, its logits)

        def goes_on(r: GenRow) -> bool:
            if r.done:
                return False
            if id(r) not in picked:  # joined after that step was launched: its token came from prefill
                return True
            t = picked[id(r)][0]
            return t is not None and self._may_continue(r, t)

        stay = [i for i, r in enumerate(self.running) if goes_on(r)]
        slots.keep_rows(stay)
        ahead = [self.running[i] for i in stay]
        self.flight = None
        if ahead:
            self.metrics.batch(len(ahead))
            tokens = [picked[id(r)][0] if id(r) in picked else r.last for r in ahead]
            self.flight = (ahead, slots.step(tokens))
        for r in rows:  # this step's tokens out to the clients, while the GPU computes the next
            t, row_logits = picked[id(r)]
            if t is not None and not r.done:
                self._push(r, t, row_logits)
        done = [r for r in self.running if r.done]
        self._finish(done)
        if done:  # rows that just finished leave now; the step in flight computed them for nothing
            slots.keep_rows([i for i, r in enumerate(ahead) if not r.done])
        self.running = [r for r in ahead if not r.done]
        return slots if self.running or self.flight else None

    def _may_continue(self, row: GenRow, token: int) -> bool:
        """Whether `token` can leave the row running (stop strings are only known once it is decoded)."""
        return not row.ends_on(token, self.tokens.eos_id) and not row.full_at(
            len(row.out_ids) + 1, self.max_context
        )

    def _pick(self, rows: list[GenRow], logits: torch.Tensor) -> list[tuple[int | None, torch.Tensor | None]]:
        """Each row's next token (None: the row failed, alone) and its logits [V] (None for a greedy row
        without logprobs, which needs none), from logits [B, V]: every argmax in one call (one sync); the
        rows that sample or report logprobs read their logits from one host copy."""
        best = logits.argmax(-1).tolist()
        need = [i for i, r in enumerate(rows) if r.temperature >= GREEDY_BELOW or r.logprobs is not None]
        host = dict(zip(need, logits[need].cpu())) if need else {}
        out = []
        for i, r in enumerate(rows):
            token, row_logits = None, host.get(i)  # None: a greedy row without logprobs reads no logits
            if not r.done:
                try:
                    if row_logits is None:
                        token = best[i]
                    else:
                        token = sample(row_logits, r.temperature, r.top_p, r.gen, best=best[i])
                except Exception as e:
                    self._fail_row(r, e)
            out.append((token, row_logits))
        return out

    def _push(self, row: GenRow, token: int, row_logits: torch.Tensor | None) -> None:
        try:
            lp = torch.log_softmax(row_logits, dim=-1) if row.logprobs is not None else None
            row.push(token, lp, self.tokens, self.max_context)
        except Exception as e:
            self._fail_row(row, e)

    def _choose(self, rows: list[GenRow], logits: torch.Tensor) -> None:
        """Pick and push each row's next token (the prefill's first, or a dynamic-cache step's)."""
        for r, (t, row_logits) in zip(rows, self._pick(rows, logits)):
            if t is not None and not r.cancelled:
                self._push(r, t, row_logits)

    @staticmethod
    def _fail_row(row: GenRow, e: Exception) -> None:
        """One row's failure (its sampling settings, its logits) fails that row alone: it leaves the batch
        at this step and the others, other clients' included, go on."""
        traceback.print_exc()
        if not row.done:
            row.fail(f"generation failed for this row: {type(e).__name__}: {e}", status=500)

    def _finish(self, rows: list[GenRow]) -> None:
        for r in rows:
            self.metrics.row(r.plan.name, len(r.prompt_ids), len(r.out_ids), r.timing()["total"] / 1e3)
