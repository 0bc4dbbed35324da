"""The runner as calls: load once, analyse, build variants, then generate / score / analyse on request.
The HTTP server (server.py) only translates HTTP to these calls. Methods take the wire models (wire.py),
already checked against the contract; here come the checks that need the model (variants, token counts,
this runner's caps). All model work runs on the scheduler's thread: methods that need it return a Future,
`generate` a Generation to iterate.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future

from . import massive, score, wire
from .adapters import NAME, Adapters
from .config import RunnerConfig
from .engine import Engine
from .errors import ApiError
from .load import load, max_context
from .metrics import Metrics
from .rows import Generation, GenRow
from .scheduler import Scheduler
from .slots import slot_decoder
from .tokens import Tokens
from .variants import FfnMask, Registry, Variant, apply_plans


class Runner:
    def __init__(self, cfg: RunnerConfig):
        t0 = time.perf_counter()
        self.cfg = cfg
        self.loaded = load(cfg.model, cfg.device, cfg.dtype)
        self.tokens = Tokens(self.loaded.tokenizer, self.loaded.model.config.vocab_size)
        if self.tokens.bos_id is None:
            raise ValueError("the tokenizer defines no BOS token; massive analysis needs one")
        self.max_context = max_context(self.loaded.model.config)
        self.detection = massive.locate(self.loaded, self.tokens, cfg.k, cfg.threshold)
        self.adapters = Adapters(self.loaded.model)
        self.registry = Registry(self.loaded, self.adapters)
        self.registry.add_builtins(
            self.detection["massive_layer"], self.detection["top_k"]["indices"], cfg.seed
        )
        if cfg.adapters_dir:
            for name in sorted(os.listdir(cfg.adapters_dir)):
                if NAME.match(name) and os.path.isfile(
                    os.path.join(cfg.adapters_dir, name, "adapter_config.json")
                ):
                    try:
                        self._load_adapter(name)
                    except ApiError as e:  # at start-up a bad adapter is a configuration error: say which
                        raise ValueError(f"adapter folder {name!r} in {cfg.adapters_dir}: {e.message}") from e
                    self.registry.add(Variant(name, adapter=name, description=f"adapter {name}"))
        self.metrics = Metrics()
        self.engine = Engine(self.loaded, self.adapters, self.tokens.pad_id)
        masked = [v.ffn_mask.layer for v in self.registry.variants.values() if v.ffn_mask]
        self.slots = slot_decoder(self.engine, cfg, self.max_context, masked)
        self.scheduler = Scheduler(self.engine, self.tokens, self.max_context, cfg, self.metrics, self.slots)
        self.load_seconds = time.perf_counter() - t0

    def close(self) -> None:
        self.scheduler.stop()

    # -- read-only views -------------------------------------------------------------------------------
    def health(self) -> dict:
        det = self.detection
        return {
            "status": "ok",
            "model": self.loaded.info(),
            "massive": {"layer": det["massive_layer"], "indices": det["top_k"]["indices"], "k": self.cfg.k},
            "variants": self.registry.names(),
            "limits": {
                "max_tokens": self.cfg.max_tokens,
                "max_prompt_tokens": min(self.cfg.max_prompt_tokens, self.max_context - 1),
                "max_rows": wire.MAX_ROWS,
            },
            "load": {"running_rows": len(self.scheduler.running), "queued_rows": len(self.scheduler.pending)},
        }

    def variants(self) -> dict:
        return {"variants": [v.to_json() for v in self.registry.variants.values()]}

    def tokenizer_info(self) -> dict:
        return self.tokens.info(self.max_context)

    # -- admin -----------------------------------------------------------------------------------------
    def _load_adapter(self, name: str) -> dict:
        if not self.cfg.adapters_dir:
            raise ApiError(
                422, "this runner has no adapters folder (start it with --adapters DIR)", "adapter"
            )
        if not NAME.match(name):
            raise ApiError(422, f"adapter id {name!r} must match {NAME.pattern}", "adapter")
        root = os.path.realpath(self.cfg.adapters_dir)
        folder = os.path.realpath(os.path.join(root, name))
        if os.path.dirname(folder) != root or not os.path.isdir(folder):
            raise ApiError(404, f"no adapter folder {name!r} in the adapters folder", "adapter")
        return self.adapters.load(name, folder)

    def register(self, spec: wire.VariantSpec) -> Future[Variant]:
        mask = spec.ffn_mask
        ffn_mask = FfnMask(mask.layer, tuple(mask.indices), mask.mode) if mask else None
        variant = Variant(spec.name, spec.adapter, ffn_mask, spec.description)

        def run():
            if variant.name in self.registry.variants or not NAME.match(variant.name):
                return self.registry.add(variant)  # raises the precise 422
            if variant.ffn_mask is not None:
                self.registry.check_mask(variant.ffn_mask)
            if spec.adapter is not None and spec.adapter not in self.adapters.meta:
                self._load_adapter(spec.adapter)
            return self.registry.add(variant)

        return self.scheduler.call(run)

    # -- analysis ----------------------------------------------------------------------------------------
    def massive(self, q: wire.MassiveQuery) -> Future[dict]:
        k = self.cfg.k if q.k is None else q.k
        plan = self.registry.resolve(q.variant, "variant") if q.variant else None
        if q.prompt is not None and len(self.tokens.encode(q.prompt)) > 256:
            raise ApiError(413, "prompt for /v1/massive is over 256 tokens; shorten it", "prompt")

        def run():
            view = apply_plans(self.loaded, self.adapters, [plan]) if plan else None
            result = massive.analyse(self.loaded, self.tokens, k, self.cfg.threshold, q.prompt, view)
            return {**result, "variant": q.variant or "base"}

        return self.scheduler.call(run)

    # -- generation --------------------------------------------------------------------------------------
    def generate(self, req: wire.GenerateRequest) -> Generation:
        """Queue the rows (503 when the queue is full); iterate the answer for their events."""
        rows = []
        for i, r in enumerate(req.requests):
            p = f"requests[{i}]"
            if r.max_tokens > self.cfg.max_tokens:
                raise ApiError(
                    422,
                    f"{p}.max_tokens must be at most {self.cfg.max_tokens} (this runner's --max-tokens), "
                    f"got {r.max_tokens}",
                    f"{p}.max_tokens",
                )
            plan = self.registry.resolve(r.variant, f"{p}.variant")
            rows.append(
                GenRow(
                    index=i,
                    plan=plan,
                    prompt_ids=self.prompt_ids(r, p),
                    max_tokens=r.max_tokens,
                    temperature=r.temperature,
                    top_p=r.top_p,
                    seed=r.seed,
                    stop=r.stops(),
                    logprobs=r.logprobs,
                    ignore_eos=r.ignore_eos,
                )
            )
        generation = Generation(rows)
        self.scheduler.submit(rows)
        return generation

    def prompt_ids(self, r: wire.GenerateRow | wire.EchoRow, p: str) -> list[int]:
        messages = getattr(r, "messages", None)
        if messages is not None:
            ids = self.tokens.encode_messages(
                [m.model_dump() for m in messages], r.add_bos is not False, r.parse_special_tokens
            )
        elif isinstance(r.prompt, list):
            ids = self.tokens.check_ids(r.prompt, f"{p}.prompt")
            if r.add_bos and ids[:1] != [self.tokens.bos_id]:
                ids = [self.tokens.bos_id] + ids
        else:
            if len(r.prompt) > self.cfg.max_prompt_tokens * 16:  # cheap bound before tokenizing
                raise ApiError(413, f"{p}.prompt has {len(r.prompt)} characters; far too long", f"{p}.prompt")
            ids = self.tokens.encode(r.prompt, r.add_bos is not False, r.parse_special_tokens)
        if not ids:
            raise ApiError(422, f"{p} encodes to no tokens; give a non-empty prompt or add_bos", p)
        limit = min(self.cfg.max_prompt_tokens, self.max_context - 1)
        if len(ids) > limit:
            raise ApiError(413, f"{p} has {len(ids)} prompt tokens; at most {limit}", p)
        return ids

    # -- scoring -----------------------------------------------------------------------------------------
    def score(self, req: wire.ScoreRequest) -> Future[dict]:
        kind = next(k for k in ("requests", "rolling", "echo") if getattr(req, k) is not None)
        rows = getattr(req, kind)
        plans = [self.registry.resolve(r.variant, f"{kind}[{i}].variant") for i, r in enumerate(rows)]
        limit = self.max_context
        if kind == "requests":
            items = []
            for i, (r, plan) in enumerate(zip(rows, plans)):
                ctx, cont = score.split_context(
                    self.tokens, r.context, r.continuation, r.parse_special_tokens
                )
                if not cont:
                    raise ApiError(
                        422, f"requests[{i}].continuation encodes to no tokens", f"requests[{i}].continuation"
                    )
                if len(ctx) + len(cont) > limit:
                    raise ApiError(
                        413,
                        f"requests[{i}] has {len(ctx) + len(cont)} tokens; at most {limit}",
                        f"requests[{i}]",
                    )
                items.append((plan, ctx, cont))
            return self.scheduler.call_steps(score.loglikelihood(self.engine, items))
        if kind == "rolling":
            items = []
            for i, (r, plan) in enumerate(zip(rows, plans)):
                ids = self.tokens.encode(r.text, add_bos=True, specials=r.parse_special_tokens)
                if len(ids) < 2:
                    raise ApiError(422, f"rolling[{i}].text is empty", f"rolling[{i}].text")
                items.append((plan, ids))
            total, cap = sum(len(ids) for _, ids in items), 64 * limit
            if total > cap:
                raise ApiError(
                    413, f"'rolling' texts have {total} tokens in all; at most {cap} per call", "rolling"
                )
            return self.scheduler.call_steps(score.rolling(self.engine, items, limit))
        items = [
            (plan, self.prompt_ids(r, f"echo[{i}]"), r.top_logprobs)
            for i, (r, plan) in enumerate(zip(rows, plans))
        ]
        # The BOS the runner put before a prompt conditions the scores but is not the client's token: the
        # echo shows exactly the prompt's tokens (OpenAI's shape), so text and token ids score alike.
        added = [
            ids[:1] == [self.tokens.bos_id] and not (isinstance(r.prompt, list) and r.prompt[:1] == ids[:1])
            for r, (_, ids, _) in zip(rows, items)
        ]
        return self.scheduler.call_steps(score.echo(self.engine, self.tokens, items, added))

    # -- tokenizer -----------------------------------------------------------------------------------------
    def tokenize(self, req: wire.TokenizeRequest) -> dict:
        ids = self.tokens.encode(req.text, add_bos=req.add_bos, specials=req.parse_special_tokens)
        return {"tokens": ids, "count": len(ids)}

    def detokenize(self, req: wire.DetokenizeRequest) -> dict:
        return {"text": self.tokens.decode(self.tokens.check_ids(req.tokens, "tokens"))}
