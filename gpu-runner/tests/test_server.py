"""The server, started from the CLI as a real process, answers over real HTTP; every bad request kind gets
its 4xx (or 503) in the error shape, and the process keeps serving; a client that leaves frees its slot."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PIDS: dict[str, int] = {}  # url -> the runner process serving it (tests read its memory)


@contextlib.contextmanager
def serving(model: str, *flags: str):
    """A real runner process on a free port; yields its URL once /health answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "runner", "serve", "--model", model, "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(
        [*cmd, *flags], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    PIDS[url] = proc.pid
    try:
        deadline = time.monotonic() + 180  # start-up imports torch and transformers: slow on a busy machine
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read()) from None
                time.sleep(0.1)
        yield url
    finally:
        PIDS.pop(url, None)
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(model_dir):
    flags = ["--admin-token", "t0ken", "--max-queue-rows", "6", "--max-tokens", "300"]
    with serving(model_dir("llama"), *flags) as url:
        yield url


def call(url, path, body=None, method=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_health_variants_and_massive(server):
    status, _, body = call(server, "/health")
    h = json.loads(body)
    assert status == 200 and h["status"] == "ok" and h["massive"]["layer"] == 1
    assert h["variants"][:4] == ["base", "massive-zero", "massive-retain", "random-zero"]
    v = json.loads(call(server, "/v1/variants")[2])["variants"]
    assert {x["name"] for x in v} >= {"base", "massive-zero"} and all("description" in x for x in v)
    status, _, body = call(server, "/v1/massive?prompt=Hi.%20Yo.&k=3")
    a = json.loads(body)
    assert status == 200 and a["massive_layer"] == 1 and len(a["top_k"]["indices"]) == 3
    a = json.loads(call(server, "/v1/massive?variant=massive-zero")[2])
    assert a["variant"] == "massive-zero" and a["massive_layer"] is None, (
        "zeroing the top-k removes the outlier"
    )
    assert call(server, "/v1/massive?variant=nope")[0] == 404


def test_generate_three_variants_in_one_request(server):
    rows = [
        {"variant": v, "prompt": "Hello", "max_tokens": 6} for v in ("base", "massive-zero", "random-zero")
    ]
    status, _, body = call(server, "/v1/generate", {"requests": rows})
    res = json.loads(body)["results"]
    assert status == 200 and [r["variant"] for r in res] == ["base", "massive-zero", "random-zero"]
    assert all(r["usage"]["completion_tokens"] == len(r["tokens"]) for r in res)
    assert all(set(r["timing_ms"]) == {"queue", "prefill", "decode", "total"} for r in res)


def test_streaming_sends_deltas_then_a_final_event_per_row_then_done(server):
    rows = [{"variant": v, "prompt": "Hi", "max_tokens": 4} for v in ("base", "massive-zero")]
    status, headers, body = call(server, "/v1/generate", {"requests": rows, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [line[6:] for line in body.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    finals = [e for e in parsed if "finish_reason" in e]
    assert sorted(e["index"] for e in finals) == [0, 1]
    for f in finals:
        streamed = [t for e in parsed if "delta" in e and e["index"] == f["index"] for t in e["tokens"]]
        assert len(streamed) == f["usage"]["completion_tokens"]
    assert sum(f["usage"]["completion_tokens"] for f in finals) > 0


BAD = [
    ("/v1/generate", b"{nope", 400, "not valid JSON"),
    ("/v1/generate", b'{"requests": "x"}', 400, "valid list"),
    (
        "/v1/generate",
        b'{"requests": [{"prompt": "x", "messages": [{"role": "a", "content": "b"}]}]}',
        400,
        "exactly one",
    ),
    ("/v1/generate", b'{"requests": [{"variant": "macdrop", "prompt": "x"}]}', 404, "known:"),
    ("/v1/generate", b'{"requests": [{"prompt": "x", "max_tokens": 100000}]}', 422, "max_tokens"),
    ("/v1/generate", b'{"requests": [{"prompt": "x", "temperature": -1}]}', 422, "temperature"),
    ("/v1/generate", b'{"requests": [{"prompt": "x", "max_tokens": 301}]}', 422, "--max-tokens"),
    ("/v1/generate", b'{"requests": [{"prompt": "' + b"a" * 5000 + b'"}]}', 413, "prompt tokens"),
    ("/v1/generate", b'{"requests": [{"prompt": "' + b"a" * (2 << 20) + b'"}]}', 413, "request body over"),
    ("/v1/generate", json.dumps({"requests": [{"prompt": "x"}] * 7}).encode(), 503, "queue full"),
    ("/v1/score", b'{"rolling": [{"text": 5}]}', 400, "valid string"),
    ("/v1/tokenize", b'{"text": null}', 400, "text"),
    ("/v1/detokenize", b'{"tokens": [1000000]}', 422, "outside the vocabulary"),
    ("/v1/massive?k=0", None, 422, "greater than or equal to 1"),
    ("/v1/nothing", None, 404, "no route"),
]


@pytest.mark.parametrize("path,raw,status,needle", BAD, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_get_their_status_and_a_message_then_serving_goes_on(server, path, raw, status, needle):
    code, headers, body = call(server, path, raw=raw, method="POST" if raw is not None else "GET")
    err = json.loads(body)["error"]
    assert code == status and needle in err["message"] and err["type"]
    if status == 503:
        assert headers["Retry-After"]
    assert call(server, "/health")[0] == 200


def test_admin_route_needs_the_token(server):
    body = {"name": "zero-two", "ffn_mask": {"layer": 1, "indices": [2, 3], "mode": "zero"}}
    assert call(server, "/v1/variants", body)[0] == 401
    assert call(server, "/v1/variants", body, headers={"Authorization": "Bearer wrong"})[0] == 401
    status, _, out = call(server, "/v1/variants", body, headers={"Authorization": "Bearer t0ken"})
    assert status == 201 and json.loads(out)["name"] == "zero-two"
    status, _, out = call(
        server,
        "/v1/generate",
        {"requests": [{"variant": "zero-two+massive-zero", "prompt": "x", "max_tokens": 2}]},
    )
    assert status == 200


def test_tokenizer_routes_round_trip(server):
    info = json.loads(call(server, "/v1/tokenizer_info")[2])
    assert info["bos_token_id"] == 256 and info["chat_template"] is False
    ids = json.loads(call(server, "/v1/tokenize", {"text": "héllo"})[2])["tokens"]
    assert ids[0] == info["bos_token_id"]
    assert json.loads(call(server, "/v1/detokenize", {"tokens": ids[1:]})[2])["text"] == "héllo"


def test_a_client_that_disconnects_frees_its_slot(server):
    port = int(server.rsplit(":", 1)[1])
    body = json.dumps({"stream": True, "requests": [{"prompt": "x", "max_tokens": 300}]}).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
    s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got = b""
    while b"data:" not in got:
        got += s.recv(4096)
    s.close()
    for _ in range(100):
        load = json.loads(call(server, "/health")[2])["load"]
        if load["running_rows"] == 0:
            break
        time.sleep(0.05)
    assert load["running_rows"] == 0
    metrics = call(server, "/metrics")[2]
    line = next(
        m
        for m in metrics.splitlines()
        if m.startswith('runner_tokens_total{variant="base",kind="completion"}')
    )
    assert int(line.split()[-1]) < 300 + 100, "the abandoned row should not have run to 300 tokens"


def test_metrics_are_prometheus_text(server):
    text = call(server, "/metrics")[2]
    for name in (
        "runner_requests_total",
        "runner_rows_total",
        "runner_batch_rows_bucket",
        "runner_queue_depth",
    ):
        assert name in text


def test_with_a_shared_secret_only_health_is_open(model_dir):
    with serving(model_dir("llama"), "--api-token", "s3cret") as url:
        assert call(url, "/health")[0] == 200
        status, _, body = call(url, "/v1/variants")
        assert status == 401 and "RUNNER_TOKEN" in json.loads(body)["error"]["message"]
        assert call(url, "/v1/variants", headers={"Authorization": "Bearer s3cret"})[0] == 200


def test_logprobs_zero_gives_the_chosen_tokens_logprob_only(server):
    rows = [{"prompt": "Hi", "max_tokens": 3, "logprobs": 0}, {"prompt": "Hi", "max_tokens": 3}]
    res = json.loads(call(server, "/v1/generate", {"requests": rows})[2])["results"]
    lp = res[0]["logprobs"]
    assert len(lp["token_logprobs"]) == len(res[0]["tokens"]) and all(t == {} for t in lp["top_logprobs"])
    assert "logprobs" not in res[1]
