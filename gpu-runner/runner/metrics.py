"""Prometheus text metrics for the runner: counters and histograms kept in plain dicts (one process)."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.n = 0

    def observe(self, v: float) -> None:
        self.sum += v
        self.n += 1
        for i, b in enumerate(self.buckets):
            if v <= b:
                self.counts[i] += 1


class Metrics:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = defaultdict(int)  # (route, status) -> n
        self.rows = defaultdict(int)  # variant -> n
        self.tokens = defaultdict(int)  # (variant, kind) -> n
        self.batch_rows = Histogram(ROW_BUCKETS)
        self.request_seconds = defaultdict(lambda: Histogram(BUCKETS))  # route
        self.row_seconds = defaultdict(lambda: Histogram(BUCKETS))  # variant
        self.queue_depth = lambda: 0

    def request(self, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(route, status)] += 1
            self.request_seconds[route].observe(seconds)

    def row(self, variant: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
        with self.lock:
            self.rows[variant] += 1
            self.tokens[(variant, "prompt")] += prompt_tokens
            self.tokens[(variant, "completion")] += completion_tokens
            self.row_seconds[variant].observe(seconds)

    def batch(self, rows: int) -> None:
        with self.lock:
            self.batch_rows.observe(rows)

    def render(self) -> str:
        out = []
        with self.lock:
            out += ["# TYPE runner_requests_total counter"]
            out += [
                f'runner_requests_total{{route="{r}",status="{s}"}} {n}'
                for (r, s), n in sorted(self.requests.items())
            ]
            out += ["# TYPE runner_rows_total counter"]
            out += [f'runner_rows_total{{variant="{v}"}} {n}' for v, n in sorted(self.rows.items())]
            out += ["# TYPE runner_tokens_total counter"]
            out += [
                f'runner_tokens_total{{variant="{v}",kind="{k}"}} {n}'
                for (v, k), n in sorted(self.tokens.items())
            ]
            out += ["# TYPE runner_queue_depth gauge", f"runner_queue_depth {self.queue_depth()}"]
            out += _hist("runner_batch_rows", {}, self.batch_rows)
            for route, h in sorted(self.request_seconds.items()):
                out += _hist("runner_request_seconds", {"route": route}, h)
            for variant, h in sorted(self.row_seconds.items()):
                out += _hist("runner_row_seconds", {"variant": variant}, h)
        return "\n".join(out) + "\n"


def _hist(name: str, labels: dict, h: Histogram) -> list[str]:
    lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
    sep = "," if lab else ""
    lines = [f"# TYPE {name} histogram"]
    for b, c in zip(h.buckets, h.counts):
        lines.append(f'{name}_bucket{{{lab}{sep}le="{b}"}} {c}')
    lines.append(f'{name}_bucket{{{lab}{sep}le="+Inf"}} {h.n}')
    lines.append(f"{name}_sum{{{lab}}} {h.sum:.6f}" if lab else f"{name}_sum {h.sum:.6f}")
    lines.append(f"{name}_count{{{lab}}} {h.n}" if lab else f"{name}_count {h.n}")
    return lines
