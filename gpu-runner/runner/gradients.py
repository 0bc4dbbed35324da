"""What white-box adaptive attacks (GCG, Zou et al. 2023) need from the runner, admin-only:

- POST /v1/gradients/token: the gradient of the target's loss with respect to a one-hot encoding of each
  adversarial suffix token, and per suffix position the `top_k` token ids with the most negative gradient
  (the candidates GCG samples its swaps from).
- POST /v1/gradients/loss: the target's loss for many candidate suffixes in one batched, gradient-free pass
  (the step where GCG keeps the best swap).

loss = mean over target tokens of -log p(target_t | BOS, prompt, suffix, target_<t), on the named variant (its
FFN masks and adapter applied as in generation). Bodies are validated by pydantic models; errors are the
runner's usual 4xx JSON. The work runs on the scheduler's thread, like every other model call.
"""

from __future__ import annotations

import asyncio

import torch
import torch.nn.functional as F
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from .errors import ApiError
from .variants import apply_plans

MAX_SUFFIX = 64  # suffix tokens
MAX_CANDIDATES = 512  # candidate suffixes per loss call


class TokenGradRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    variant: str = "base"
    prompt: str = Field(max_length=16384)  # text before the suffix (BOS is added)
    suffix_ids: list[int] = Field(min_length=1, max_length=MAX_SUFFIX)  # the current adversarial suffix
    target: str = Field(min_length=1, max_length=4096)  # the continuation the attack wants
    top_k: int = Field(default=64, ge=1, le=1024)  # candidates returned per suffix position
    allow_special: bool = False  # let BOS/EOS/pad be candidates


class LossRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    variant: str = "base"
    prompt: str = Field(max_length=16384)
    candidates: list[list[int]] = Field(min_length=1, max_length=MAX_CANDIDATES)  # suffixes to score
    target: str = Field(min_length=1, max_length=4096)


def _ids(runner, req, suffixes: list[list[int]]) -> tuple[list[int], list[int]]:
    tok = runner.tokens
    for s in suffixes:
        tok.check_ids(s, "suffix_ids" if len(suffixes) == 1 else "candidates")
    if any(len(s) > MAX_SUFFIX or not s for s in suffixes):
        raise ApiError(422, f"every suffix needs 1..{MAX_SUFFIX} token ids", "candidates")
    prompt = tok.encode(req.prompt, add_bos=True)
    target = tok.encode(req.target, add_bos=False)
    if not target:
        raise ApiError(422, "target encodes to no tokens", "target")
    longest = len(prompt) + max(map(len, suffixes)) + len(target)
    if longest > runner.max_context:
        raise ApiError(413, f"prompt + suffix + target is {longest} tokens; at most {runner.max_context}")
    return prompt, target


def soft_loss(loaded, adapters, plan, prompt: list[int], one_hot: torch.Tensor, target: list[int]):
    """The target loss with the suffix given as (possibly soft) one-hot rows [L, V]: differentiable in them."""
    emb = loaded.model.get_input_embeddings()
    W = emb.weight  # [V, D]
    scale = getattr(emb, "embed_scale", 1.0)  # Gemma scales inside its embedding module
    with torch.no_grad():
        pre = emb(torch.tensor([prompt], device=W.device))[0]  # [P, D]
        post = emb(torch.tensor([target], device=W.device))[0]  # [T, D]
    with apply_plans(loaded, adapters, [plan]):
        x = torch.cat([pre, (one_hot.to(W.dtype) @ W) * scale, post])[None]  # [1, P+L+T, D]
        logits = loaded.model(inputs_embeds=x).logits[0].float()  # [P+L+T, V]
    start = len(prompt) + one_hot.shape[0]
    pred = logits[start - 1 : start - 1 + len(target)]  # [T, V]: predictions of the target tokens
    return F.cross_entropy(pred, torch.tensor(target, device=pred.device))


def token_gradients(runner, req: TokenGradRequest):
    plan = runner.registry.resolve(req.variant)
    prompt, target = _ids(runner, req, [req.suffix_ids])
    loaded = runner.loaded

    def run():
        V = loaded.model.get_input_embeddings().weight.shape[0]
        one_hot = F.one_hot(torch.tensor(req.suffix_ids, device=loaded.device), V).float()  # [L, V]
        one_hot.requires_grad_(True)
        with torch.enable_grad():
            loss = soft_loss(loaded, runner.adapters, plan, prompt, one_hot, target)
            (grad,) = torch.autograd.grad(loss, one_hot)  # [L, V]
        grad = grad.float()
        if not req.allow_special:
            for t in {runner.tokens.bos_id, runner.tokens.eos_id, runner.tokens.pad_id} - {None}:
                grad[:, t] = float("inf")
        top = (-grad).topk(min(req.top_k, V), dim=1).indices  # [L, top_k]: most loss-lowering swaps first
        return {"loss": float(loss.detach()), "top": top.tolist(), "target_tokens": len(target)}

    return run


def losses(runner, req: LossRequest):
    plan = runner.registry.resolve(req.variant)
    prompt, target = _ids(runner, req, req.candidates)

    def run():
        seqs = [prompt + s + target for s in req.candidates]
        lps = runner.engine.logprobs_of(seqs, [plan] * len(seqs))  # each [len-1, V]
        out = []
        for s, lp in zip(seqs, lps):
            rows = lp[len(s) - 1 - len(target) :]  # [T, V]: predictions of the target tokens
            out.append(-float(sum(rows[i, t] for i, t in enumerate(target))) / len(target))
        return {"losses": out, "target_tokens": len(target)}

    return run


def routes(runner_key, require_admin, body) -> list[tuple[str, object]]:
    """(path, handler) pairs for server.make_app; admin-only. `body(request, Model)` parses a request body
    by the wire contract's rules (wire.parse: 400 for a wrong shape, 422 for a value out of range)."""

    def route(model, compute):
        async def handler(request: web.Request):
            require_admin(request)
            runner = request.app[runner_key]
            req = await body(request, model)
            return web.json_response(await asyncio.wrap_future(runner.scheduler.call(compute(runner, req))))

        return handler

    return [
        ("/v1/gradients/token", route(TokenGradRequest, token_gradients)),
        ("/v1/gradients/loss", route(LossRequest, losses)),
    ]
