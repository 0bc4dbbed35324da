"""Property-based fuzzing of a real runner process from the wire contract's JSON Schema (hypothesis +
hypothesis-jsonschema): bodies drawn from each route's schema, the same with one field replaced by any JSON
value, and arbitrary JSON. Every answer must be 2xx or a documented 4xx (or 503 with Retry-After, the
documented "queue full"): never a 500, never a hang (each call has a timeout).

The runner process's resident memory (VmRSS) is read after a warm-up and again after every route has been
fuzzed: it must stay flat (grow by less than RSS_GROWTH_MIB); FUZZ_RSS_OUT=path writes both figures and the
statuses seen per route as JSON, and FUZZ_FAILURES=path notes each failing body as it happens.

CI runs FUZZ_EXAMPLES (default 60) bodies per route, one fixed draw (FIXED_DRAW); the long mode
(bench/reliability/fuzz.md), a fresh draw each run, is
  FUZZ_EXAMPLES=2000 FUZZ_RSS_OUT=rss.json ../.venv/bin/python -m pytest -q tests/test_fuzz.py  (10,000)

Each route's test has a time limit that grows with FUZZ_EXAMPLES. With the suite's 600 s (pyproject.toml) the
long mode's generate route ran past it on a loaded machine; pytest-timeout then raised `Failed: Timeout` in the
middle of hypothesis drawing a body, and hypothesis, seeing a draw stop where the same choices had drawn on
before, reported `Flaky: Inconsistent data generation` (bench/reliability/fuzz.md has the log). A hang is still
caught: every call has its own 60 s timeout.
"""

import json
import os

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from test_server import PIDS, call, serving

from runner import wire

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
# CI's default run fuzzes one fixed draw of bodies (hypothesis's derandomize: the draw depends on the test
# alone), so its assertions cannot pass or fail by luck: a fresh random draw of 60 generate bodies served
# 3 to 12 in three local runs and none in one CI-style run (2026-11-29), failing "some body is served".
# Setting FUZZ_EXAMPLES (the long mode) draws afresh every run, as fuzzing should.
FIXED_DRAW = "FUZZ_EXAMPLES" not in os.environ
STATUSES: dict[str, dict[int, int]] = {}  # route -> status -> count, for the long mode's record
RSS_GROWTH_MIB = 64  # generous: allocator arenas settle, a leak per request at 10,000 requests does not
DOCUMENTED = {200, 201, 400, 401, 404, 413, 422, 503}
# A route's time budget per body: a generate body took 0.13 s at load ~1 (2,000 in 259 s) and over 0.3 s in
# the run that overran 600 s; the rest leaves room for a busier machine. Never less than the suite's limit.
SECONDS_PER_BODY = 1.0
TIME_LIMIT_S = max(600, EXAMPLES * SECONDS_PER_BODY)
POSTS = {route.split(" ")[1]: model for route, model in wire.REQUESTS.items() if route.startswith("POST")}

# Any JSON value, with the strings and numbers that have broken servers before.
tricky_text = st.one_of(
    st.text(max_size=40), st.sampled_from(["\ud800", "<s>", "</s>", "²", "\x00", "🙂" * 5])
)
tricky_number = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.just(5e-324)
)
any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), tricky_number, tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# The tiny model's built-in variants, and the serve flags below: what a body needs to be served, not refused.
SERVED_VARIANTS = ["base", "massive-zero", "massive-retain", "random-zero"]
MAX_TOKENS = 4
ADMIN = {"Authorization": "Bearer fuzz-admin"}


def servable(body: dict, variants: list[str]) -> dict:
    """A schema-drawn generate body made servable: the JSON Schema cannot say "exactly one of prompt or
    messages", nor which variants this runner serves, nor its --max-tokens, so drawn bodies alone were all
    refused (1,950 x 400 and 50 x 422 in a 2,000-body run) and generation itself was never fuzzed."""
    rows = []
    for row, variant in zip(body["requests"], variants, strict=False):
        row = {k: v for k, v in row.items() if k != "messages"}
        if row.get("prompt") is None:
            row["prompt"] = "fuzz"
        rows.append({**row, "variant": variant, "max_tokens": min(row.get("max_tokens", 1), MAX_TOKENS)})
    return {**body, "requests": rows}


def bodies(model: type[wire.Wire]):
    valid = from_schema(model.model_json_schema())
    if model is wire.GenerateRequest:
        drawn = st.tuples(valid, st.lists(st.sampled_from(SERVED_VARIANTS), min_size=64, max_size=64))
        valid = st.one_of(valid, drawn.map(lambda d: servable(*d)))

    def with_one_field_replaced(draw_body, value, pick):
        if isinstance(draw_body, dict) and draw_body:
            keys = sorted(draw_body)
            draw_body = {**draw_body, keys[pick % len(keys)]: value}
        return draw_body

    mutated = st.builds(with_one_field_replaced, valid, any_json, st.integers(0, 10))
    return st.one_of(valid, mutated, st.dictionaries(st.text(max_size=10), any_json, max_size=5), any_json)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


@pytest.fixture(scope="module")
def url(model_dir):
    # Small caps keep valid bodies cheap on the tiny model: a fuzz run measures answers, not throughput.
    flags = ("--max-tokens", str(MAX_TOKENS), "--max-queue-rows", "64", "--admin-token", "fuzz-admin")
    with serving(model_dir("llama"), *flags) as u:
        for body in ({"text": "warm up"}, {"tokens": [1, 2]}):  # first calls allocate for good
            call(u, "/v1/tokenize" if "text" in body else "/v1/detokenize", body, method="POST")
        call(u, "/v1/generate", {"requests": [{"prompt": "warm", "max_tokens": 4}]}, method="POST")
        before = rss_mib(PIDS[u])
        yield u
        after = rss_mib(PIDS[u])
        if os.environ.get("FUZZ_RSS_OUT"):
            with open(os.environ["FUZZ_RSS_OUT"], "w") as f:
                json.dump({"examples": EXAMPLES, "rss_mib": [before, after], "statuses": STATUSES}, f)
        assert after - before < RSS_GROWTH_MIB, (
            f"runner RSS grew {before:.0f} -> {after:.0f} MiB while fuzzed"
        )


def encode(body) -> bytes:
    # allow_nan: Python writes NaN/Infinity, which is exactly what a hostile client sends.
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


@pytest.mark.timeout(TIME_LIMIT_S)
@pytest.mark.parametrize("path", sorted(POSTS))
def test_every_fuzzed_body_gets_2xx_or_a_documented_4xx(url, path):
    seen = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=FIXED_DRAW,
    )
    @given(bodies(POSTS[path]))
    def check(body):
        try:
            # The admin route is fuzzed with its token: without it every body is the same 401.
            headers = ADMIN if path == "/v1/variants" else None
            status, headers, text = call(url, path, raw=encode(body), method="POST", headers=headers)
            seen[status] = seen.get(status, 0) + 1
            assert status in DOCUMENTED, (status, text[:300], body)
            if status >= 400:
                assert json.loads(text)["error"]["message"]
            if status == 503:
                assert headers.get("Retry-After")
        except BaseException as e:  # noted as it happens: hypothesis may fail to replay a drawn body
            if os.environ.get("FUZZ_FAILURES"):
                with open(os.environ["FUZZ_FAILURES"], "a") as f:
                    f.write(
                        json.dumps({"path": path, "error": repr(e)[:2000], "body": repr(body)[:2000]}) + "\n"
                    )
            raise

    check()
    STATUSES[path] = seen
    assert sum(seen.values()) >= min(EXAMPLES, 10)
    if path == "/v1/generate" and EXAMPLES >= 30:  # generation itself is fuzzed, not only its refusals
        assert seen.get(200, 0) > 0, seen
    status, _, _ = call(url, "/v1/tokenize", {"text": "still serving"}, method="POST")
    assert status == 200


def test_each_route_s_time_limit_grows_with_its_bodies(request):
    """The long mode's Flaky was this limit: 600 s for 2,000 bodies, which a loaded machine overran."""
    limit = next(
        m for m in test_every_fuzzed_body_gets_2xx_or_a_documented_4xx.pytestmark if m.name == "timeout"
    )
    assert limit.args[0] >= EXAMPLES * SECONDS_PER_BODY
    assert limit.args[0] >= float(request.config.getini("timeout"))


def drawn(model: type[wire.Wire], n: int = 15) -> list[bytes]:
    out = []

    @seed(2410_01866)
    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(bodies(model))
    def collect(body):
        out.append(encode(body))

    collect()
    return out


@pytest.mark.parametrize("path", sorted(POSTS))
def test_the_bodies_drawn_depend_on_hypothesis_s_seed_alone(path):
    """Strategies that read the runner's state or fill a module-level cache draw something else the second
    time, the classic cause of "Inconsistent data generation": the same seed must draw the same bodies."""
    first = drawn(POSTS[path])
    assert len(first) >= 10 and drawn(POSTS[path]) == first
