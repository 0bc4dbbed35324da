"""GCG's runner calls: the token gradient's loss equals the batched loss call's for the same suffix (two
code paths, one quantity); the gradient is the true derivative (finite differences in one-hot space); a
variant's masks apply; the routes are admin-only and answer bad bodies with 4xx naming the field."""

import asyncio

import torch
import torch.nn.functional as F
from aiohttp.test_utils import TestClient, TestServer

from runner.gradients import LossRequest, TokenGradRequest, losses, soft_loss, token_gradients
from runner.server import make_app

PROMPT, TARGET = "Summer is warm. Winter is", " cold and dark"


def run_now(runner, fn):
    return runner.scheduler.call(fn).result(timeout=120)


def test_token_gradient_loss_equals_batched_loss(runner_for):
    runner = runner_for("llama")
    suffix = [5, 17, 99, 3]
    for variant in ("base", "massive-zero"):
        g = run_now(
            runner,
            token_gradients(
                runner, TokenGradRequest(variant=variant, prompt=PROMPT, suffix_ids=suffix, target=TARGET)
            ),
        )
        req = LossRequest(variant=variant, prompt=PROMPT, candidates=[suffix, [7, 7, 7, 7]], target=TARGET)
        b = run_now(runner, losses(runner, req))
        assert abs(g["loss"] - b["losses"][0]) < 1e-4
        assert b["losses"][0] != b["losses"][1]
    assert len(g["top"]) == len(suffix) and all(len(t) == 64 for t in g["top"])


def test_variant_masks_change_the_loss(runner_for):
    runner = runner_for("llama")
    req = dict(prompt=PROMPT, candidates=[[5, 17, 99, 3]], target=TARGET)
    base = run_now(runner, losses(runner, LossRequest(variant="base", **req)))["losses"][0]
    zero = run_now(runner, losses(runner, LossRequest(variant="massive-zero", **req)))["losses"][0]
    assert abs(base - zero) > 1e-3


def test_gradient_matches_finite_differences(runner_for):
    runner = runner_for("llama")
    loaded, plan = runner.loaded, runner.registry.resolve("base")
    tok = runner.tokens
    prompt, target = tok.encode(PROMPT), tok.encode(TARGET, add_bos=False)
    suffix = [5, 17, 99, 3]
    V = loaded.model.get_input_embeddings().weight.shape[0]
    g = run_now(
        runner,
        token_gradients(
            runner,
            TokenGradRequest(prompt=PROMPT, suffix_ids=suffix, target=TARGET, top_k=V, allow_special=True),
        ),
    )
    one_hot = F.one_hot(torch.tensor(suffix), V).float().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(
            soft_loss(loaded, runner.adapters, plan, prompt, one_hot, target), one_hot
        )
    eps, pos, new = 1e-3, 2, 42
    with torch.no_grad():
        d = torch.zeros_like(one_hot)
        d[pos, new], d[pos, suffix[pos]] = 1.0, -1.0
        hi = soft_loss(loaded, runner.adapters, plan, prompt, one_hot + eps * d, target)
        lo = soft_loss(loaded, runner.adapters, plan, prompt, one_hot - eps * d, target)
    numeric = float((hi - lo) / (2 * eps))
    analytic = float(grad[pos, new] - grad[pos, suffix[pos]])
    assert abs(numeric - analytic) <= 1e-2 * max(1.0, abs(analytic))
    # the route's candidate order is the gradient's: the first candidate has the most negative gradient
    assert g["top"][pos][0] == int(grad[pos].argmin())


def call(runner, path, body, token="adm"):
    async def go():
        async with TestClient(TestServer(make_app(runner))) as c:
            r = await c.post(path, json=body, headers={"Authorization": f"Bearer {token}"} if token else {})
            return r.status, await r.json()

    return asyncio.run(go())


def test_routes_are_admin_only_and_validate(runner_for):
    runner = runner_for("llama", admin_token="adm")
    body = {"prompt": PROMPT, "suffix_ids": [5, 6], "target": TARGET, "top_k": 4}
    assert call(runner, "/v1/gradients/token", body, token=None)[0] == 401
    status, out = call(runner, "/v1/gradients/token", body)
    assert status == 200 and len(out["top"]) == 2 and len(out["top"][0]) == 4
    status, out = call(
        runner, "/v1/gradients/loss", {"prompt": PROMPT, "candidates": [[5, 6], [6, 5]], "target": TARGET}
    )
    assert status == 200 and len(out["losses"]) == 2
    for bad, code, param in [
        ({**body, "top_k": 0}, 422, "top_k"),
        ({**body, "suffix_ids": []}, 400, "suffix_ids"),  # the contract: an empty list is a shape error
        ({**body, "suffix_ids": [10**9]}, 422, "suffix_ids"),
        ({**body, "extra": 1}, 400, "extra"),
        ({k: v for k, v in body.items() if k != "target"}, 400, "target"),
        ({**body, "variant": "nope"}, 404, "variant"),
    ]:
        status, out = call(runner, "/v1/gradients/token", bad)
        assert status == code, (bad, out)
        assert param in (out["error"].get("param") or "") + out["error"]["message"]
