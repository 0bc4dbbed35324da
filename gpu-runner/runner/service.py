"""The runner as calls: load once, analyse, build variants, then generate / score / analyse on request.
The HTTP server (server.py) only translates HTTP to these calls. All model work runs on the scheduler's
thread; methods here validate first, so nothing invalid reaches the model.
"""

from __future__ import annotations

import os
import time

from . import massive, score, validate
from .adapters import NAME, Adapters
from .config import RunnerConfig
from .engine import Engine
from .errors import ApiError
from .load import load, max_context
from .metrics import Metrics
from .rows import GenRow
from .scheduler import Scheduler
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
        self.scheduler = Scheduler(self.engine, self.tokens, self.max_context, cfg, self.metrics)
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

    def register(self, body) -> dict:
        body = validate.obj(body)
        name = validate.string(body, "name", "name", max_len=64)
        adapter = body.get("adapter")
        if adapter is not None and not isinstance(adapter, str):
            raise ApiError(400, "adapter must be a string: the adapter folder's name", "adapter")
        mask = None
        if body.get("ffn_mask") is not None:
            m = validate.obj(body["ffn_mask"], "ffn_mask")
            idx = m.get("indices")
            if not isinstance(idx, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in idx
            ):
                raise ApiError(400, "ffn_mask.indices must be a list of integers", "ffn_mask.indices")
            layer = validate.number(m, "layer", "ffn_mask.layer", integer=True)
            mask = FfnMask(layer, tuple(idx), validate.string(m, "mode", "ffn_mask.mode", default="zero"))
        variant = Variant(
            name, adapter, mask, validate.string(body, "description", "description", default="", max_len=500)
        )

        def run():
            if variant.name in self.registry.variants or not NAME.match(variant.name):
                return self.registry.add(variant)  # raises the precise 422
            if variant.ffn_mask is not None:
                self.registry.check_mask(variant.ffn_mask)
            if adapter is not None and adapter not in self.adapters.meta:
                self._load_adapter(adapter)
            return self.registry.add(variant)

        return self.scheduler.call(run)

    # -- analysis ----------------------------------------------------------------------------------------
    def massive(self, prompt: str | None, k: int | None, variant: str | None = None):
        k = self.cfg.k if k is None else k
        plan = self.registry.resolve(variant) if variant else None
        if not 1 <= k <= 64:
            raise ApiError(422, f"k must be in 1..64, got {k}", "k")
        if prompt is not None:
            if len(self.tokens.encode(prompt)) > 256:
                raise ApiError(413, "prompt for /v1/massive is over 256 tokens; shorten it", "prompt")

        def run():
            view = apply_plans(self.loaded, self.adapters, [plan]) if plan else None
            result = massive.analyse(self.loaded, self.tokens, k, self.cfg.threshold, prompt, view)
            return {**result, "variant": variant or "base"}

        return self.scheduler.call(run)

    # -- generation --------------------------------------------------------------------------------------
    def parse_generate(self, body) -> tuple[list[GenRow], bool]:
        body = validate.obj(body)
        stream = validate.boolean(body, "stream", "stream", False)
        rows = []
        for i, r in enumerate(validate.rows_list(body, "requests", self.cfg.max_rows_per_call)):
            p = f"requests[{i}]"
            plan = self.registry.resolve(
                validate.string(r, "variant", f"{p}.variant", default="base"), f"{p}.variant"
            )
            ids = self.prompt_ids(r, p)
            rows.append(
                GenRow(
                    index=i,
                    plan=plan,
                    prompt_ids=ids,
                    max_tokens=validate.number(
                        r, "max_tokens", f"{p}.max_tokens", 64, 1, self.cfg.max_tokens, True
                    ),
                    temperature=validate.number(r, "temperature", f"{p}.temperature", 0.0, 0.0, 5.0),
                    top_p=validate.number(r, "top_p", f"{p}.top_p", 1.0, 0.0, 1.0),
                    seed=validate.number(r, "seed", f"{p}.seed", None, 0, 2**63 - 1, True),
                    stop=validate.stops(r, f"{p}.stop"),
                    logprobs=validate.number(r, "logprobs", f"{p}.logprobs", None, 0, 20, True),
                )
            )
        return rows, stream

    def prompt_ids(self, r: dict, p: str) -> list[int]:
        has = [k for k in ("prompt", "messages") if r.get(k) is not None]
        if len(has) != 1:
            raise ApiError(400, f"{p} needs exactly one of 'prompt' or 'messages'", p)
        if has[0] == "messages":
            text, add_bos = self.tokens.render_messages(validate.messages(r["messages"], f"{p}.messages"))
            ids = self.tokens.encode(
                text, add_bos=add_bos and validate.boolean(r, "add_bos", f"{p}.add_bos", True)
            )
        elif isinstance(r["prompt"], list):
            ids = self.tokens.check_ids(r["prompt"], f"{p}.prompt")
            if validate.boolean(r, "add_bos", f"{p}.add_bos", False) and ids[:1] != [self.tokens.bos_id]:
                ids = [self.tokens.bos_id] + ids
        else:
            text = validate.string(r, "prompt", f"{p}.prompt", max_len=self.cfg.max_prompt_tokens * 16)
            ids = self.tokens.encode(text, add_bos=validate.boolean(r, "add_bos", f"{p}.add_bos", True))
        if not ids:
            raise ApiError(422, f"{p} encodes to no tokens; give a non-empty prompt or add_bos", p)
        limit = min(self.cfg.max_prompt_tokens, self.max_context - 1)
        if len(ids) > limit:
            raise ApiError(413, f"{p} has {len(ids)} prompt tokens; at most {limit}", p)
        return ids

    # -- scoring -----------------------------------------------------------------------------------------
    def score(self, body):
        body = validate.obj(body)
        kinds = [k for k in ("requests", "rolling", "echo") if k in body]
        if len(kinds) != 1:
            raise ApiError(400, "give exactly one of 'requests' (loglikelihood), 'rolling' or 'echo'")
        kind = kinds[0]
        rows = validate.rows_list(body, kind, self.cfg.max_rows_per_call)
        plans = [
            self.registry.resolve(
                validate.string(r, "variant", f"{kind}[{i}].variant", default="base"), f"{kind}[{i}].variant"
            )
            for i, r in enumerate(rows)
        ]
        limit = self.max_context
        if kind == "requests":
            items = []
            for i, (r, plan) in enumerate(zip(rows, plans)):
                ctx_text = validate.string(r, "context", f"requests[{i}].context")
                cont_text = validate.string(r, "continuation", f"requests[{i}].continuation")
                ctx, cont = score.split_context(self.tokens, ctx_text, cont_text)
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
            return self.scheduler.call(lambda: {"results": score.loglikelihood(self.engine, items)})
        if kind == "rolling":
            items = []
            for i, (r, plan) in enumerate(zip(rows, plans)):
                ids = self.tokens.encode(
                    validate.string(r, "text", f"rolling[{i}].text", max_len=1 << 20), add_bos=True
                )
                if len(ids) < 2:
                    raise ApiError(422, f"rolling[{i}].text is empty", f"rolling[{i}].text")
                items.append((plan, ids))
            total, cap = sum(len(ids) for _, ids in items), 64 * limit
            if total > cap:
                raise ApiError(
                    413, f"'rolling' texts have {total} tokens in all; at most {cap} per call", "rolling"
                )
            return self.scheduler.call(lambda: {"results": score.rolling(self.engine, items, limit)})
        items = []
        for i, (r, plan) in enumerate(zip(rows, plans)):
            ids = self.prompt_ids(r, f"echo[{i}]")
            n_top = validate.number(r, "top_logprobs", f"echo[{i}].top_logprobs", 0, 0, 20, True)
            items.append((plan, ids, n_top))
        return self.scheduler.call(lambda: {"results": score.echo(self.engine, self.tokens, items)})

    # -- tokenizer -----------------------------------------------------------------------------------------
    def tokenize(self, body) -> dict:
        body = validate.obj(body)
        text = validate.string(body, "text", "text", max_len=1 << 20)
        ids = self.tokens.encode(text, add_bos=validate.boolean(body, "add_bos", "add_bos", True))
        return {"tokens": ids, "count": len(ids)}

    def detokenize(self, body) -> dict:
        body = validate.obj(body)
        ids = body.get("tokens")
        if not isinstance(ids, list):
            raise ApiError(400, "tokens must be a list of token ids", "tokens")
        return {"text": self.tokens.decode(self.tokens.check_ids(ids, "tokens"))}
