"""HTTP for the runner (aiohttp): translates requests to Runner calls and Runner results to JSON/SSE.
The API is gpu-runner/API.md; request bodies are wire.py's models. Bad input gets a 4xx JSON error; the process never dies on it."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import traceback
from typing import TypeVar

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from . import gradients, wire
from .errors import ApiError
from .service import Runner

M = TypeVar("M", bound=wire.Wire)

RUNNER = web.AppKey("runner", Runner)


def json_response(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, allow_nan=False))


def error_response(e: ApiError) -> web.Response:
    resp = json_response(e.body(), e.status)
    if e.retry_after is not None:
        resp.headers["Retry-After"] = str(int(e.retry_after))
    return resp


@web.middleware
async def errors_and_metrics(request: web.Request, handler):
    t0 = time.perf_counter()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    try:
        check_secret(request)
        resp = await handler(request)
    except ApiError as e:
        resp = error_response(e)
    except web.HTTPRequestEntityTooLarge:
        resp = error_response(ApiError(413, f"request body over {request.app['max_body']} bytes; send less"))
    except web.HTTPNotFound:
        resp = error_response(
            ApiError(404, f"no route {request.method} {request.path}; see gpu-runner/API.md")
        )
    except web.HTTPMethodNotAllowed as e:
        resp = error_response(
            ApiError(
                405, f"{request.method} is not allowed on {request.path}; use {sorted(e.allowed_methods)}"
            )
        )
    except Exception as e:  # a bug, not bad input: log it and answer 500 in the same shape; keep serving
        traceback.print_exc()
        resp = json_response({"error": {"type": "server_error", "message": f"{type(e).__name__}: {e}"}}, 500)
    request.app[RUNNER].metrics.request(route, resp.status, time.perf_counter() - t0)
    return resp


ENCODINGS = ("identity", "gzip", "deflate", "br")  # what aiohttp decodes


async def body(request: web.Request, model: type[M]) -> M:
    """The body as `model`; a Content-Encoding we cannot decode, or that the body does not have, is a 400."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise ApiError(400, f"Content-Encoding {encoding[:40]!r} is not supported; send one of {ENCODINGS}")
    try:
        raw = await request.read()
    except RequestPayloadError as e:
        raise ApiError(
            400, f"the body could not be decoded as its Content-Encoding {encoding!r} says: {e}"
        ) from None
    return wire.parse(model, raw)


def bearer(request: web.Request) -> bytes:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip().encode()


def check_secret(request: web.Request) -> None:
    """With --api-token, only callers holding the shared secret (the gateway) get past /health."""
    cfg = request.app[RUNNER].cfg
    if not cfg.api_token or request.path == "/health":
        return
    given = bearer(request)
    if not any(t and hmac.compare_digest(given, t.encode()) for t in (cfg.api_token, cfg.admin_token)):
        raise ApiError(401, "missing or wrong runner token: send 'Authorization: Bearer <RUNNER_TOKEN>'")


def require_admin(request: web.Request) -> None:
    token = request.app[RUNNER].cfg.admin_token
    if not token:
        raise ApiError(401, "admin routes are off: start the runner with --admin-token or RUNNER_ADMIN_TOKEN")
    if not hmac.compare_digest(bearer(request), token.encode()):
        raise ApiError(401, "missing or wrong admin token: send 'Authorization: Bearer <admin token>'")


async def health(request):
    return json_response(request.app[RUNNER].health())


async def list_variants(request):
    return json_response(request.app[RUNNER].variants())


async def add_variant(request):
    require_admin(request)
    spec = await body(request, wire.VariantSpec)
    variant = await asyncio.wrap_future(request.app[RUNNER].register(spec))
    return json_response(variant.to_json(), 201)


async def get_massive(request):
    q = wire.parse(wire.MassiveQuery, dict(request.query))
    return json_response(await asyncio.wrap_future(request.app[RUNNER].massive(q)))


async def generate(request):
    req = await body(request, wire.GenerateRequest)
    generation = request.app[RUNNER].generate(req)
    if not req.stream:
        return json_response({"results": await generation.aresults()})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    # A client that leaves cancels this handler inside the loop; the Generation then cancels its rows.
    async for event in generation:
        if "finish_reason" in event:  # the stream already carried the text, tokens and logprobs
            event = {k: v for k, v in event.items() if k not in ("text", "tokens", "logprobs")}
        await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def post_score(request):
    req = await body(request, wire.ScoreRequest)
    return json_response(await asyncio.wrap_future(request.app[RUNNER].score(req)))


async def tokenize(request):
    return json_response(request.app[RUNNER].tokenize(await body(request, wire.TokenizeRequest)))


async def detokenize(request):
    return json_response(request.app[RUNNER].detokenize(await body(request, wire.DetokenizeRequest)))


async def tokenizer_info(request):
    return json_response(request.app[RUNNER].tokenizer_info())


async def metrics(request):
    return web.Response(text=request.app[RUNNER].metrics.render(), content_type="text/plain")


def make_app(runner: Runner) -> web.Application:
    app = web.Application(middlewares=[errors_and_metrics], client_max_size=runner.cfg.max_body_bytes)
    app[RUNNER] = runner
    app["max_body"] = runner.cfg.max_body_bytes
    app.router.add_get("/health", health)
    app.router.add_get("/v1/variants", list_variants)
    app.router.add_post("/v1/variants", add_variant)
    app.router.add_get("/v1/massive", get_massive)
    app.router.add_post("/v1/generate", generate)
    app.router.add_post("/v1/score", post_score)
    app.router.add_post("/v1/tokenize", tokenize)
    app.router.add_post("/v1/detokenize", detokenize)
    app.router.add_get("/v1/tokenizer_info", tokenizer_info)
    app.router.add_get("/metrics", metrics)
    for path, handler in gradients.routes(RUNNER, require_admin, body):  # admin-only, for GCG
        app.router.add_post(path, handler)
    return app


def serve(runner: Runner, host: str, port: int) -> None:
    print(
        f"runner: {runner.loaded.model_id} loaded in {runner.load_seconds:.2f}s; serving on http://{host}:{port}",
        flush=True,
    )
    web.run_app(
        make_app(runner), host=host, port=port, handler_cancellation=True, print=None, access_log=None
    )
