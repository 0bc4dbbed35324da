"""The model math: batched prefill and decode over a shared KV cache, rows left-padded, each row with its
own variant; batches merge (rows join mid-flight) and shrink (finished rows leave). Also scoring.

Shapes: B rows, T new tokens, S cached positions, V vocabulary.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from .load import Loaded
from .variants import Plan, apply_plans


@dataclass
class Batch:
    cache: DynamicCache
    mask: torch.Tensor  # [B, S] 1 = real token, 0 = left padding
    next_pos: torch.Tensor  # [B] position id of each row's next token
    plans: list[Plan]


def left_pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, T - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[b, T - len(s) :] = 1
    return ids.to(device), mask.to(device)


def positions_of(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)  # [B, T]: pads sit at 0, real tokens count from 0


class Engine:
    def __init__(self, loaded: Loaded, adapters, pad_id: int):
        self.loaded = loaded
        self.adapters = adapters
        self.pad_id = pad_id
        # transformers renamed past_key_values to cache (5.2x); GPU hosts may run an older 5.x
        params = inspect.signature(loaded.model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"
        if loaded.device.type == "cuda":
            # cuDNN's attention builds a plan per (batch, KV length) shape, ~45 ms each on an H200, and a
            # growing cache makes every step a new shape; flash / memory-efficient SDPA plan nothing
            torch.backends.cuda.enable_cudnn_sdp(False)

    @torch.inference_mode()
    def forward(self, ids, mask, positions, plans, cache=None, last_only=False) -> torch.Tensor:
        with apply_plans(self.loaded, self.adapters, plans):
            kw = {self.cache_kw: cache} if cache is not None else {}
            if last_only:  # generation needs the last position's logits only: skip the [B, T, V] head
                kw["logits_to_keep"] = 1
            out = self.loaded.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=cache is not None, **kw
            )
        return out.logits  # [B, T, V], or [B, 1, V] with last_only

    def prefill(self, prompts: list[list[int]], plans: list[Plan]) -> tuple[Batch, torch.Tensor]:
        ids, mask = left_pad(prompts, self.pad_id, self.loaded.device)  # [B, T]
        cache = DynamicCache()
        logits = self.forward(ids, mask, positions_of(mask), plans, cache, last_only=True)
        batch = Batch(cache, mask, mask.sum(-1), list(plans))
        return batch, logits[:, -1].float()  # [B, V]

    def decode(self, batch: Batch, tokens: list[int]) -> torch.Tensor:
        dev = self.loaded.device
        ids = torch.tensor(tokens, dtype=torch.long, device=dev)[:, None]  # [B, 1]
        batch.mask = torch.cat([batch.mask, torch.ones_like(batch.mask[:, :1])], dim=1)  # [B, S+1]
        logits = self.forward(
            ids, batch.mask, batch.next_pos[:, None], batch.plans, batch.cache, last_only=True
        )
        batch.next_pos = batch.next_pos + 1
        return logits[:, -1].float()  # [B, V]

    @staticmethod
    def select(batch: Batch, keep: list[int]) -> Batch:
        """Keep only rows `keep`, then drop cache columns that are padding in every remaining row."""
        idx = torch.tensor(keep, dtype=torch.long, device=batch.mask.device)
        batch.cache.batch_select_indices(idx)
        batch.mask = batch.mask.index_select(0, idx)
        batch.next_pos = batch.next_pos.index_select(0, idx)
        batch.plans = [batch.plans[i] for i in keep]
        lead = int((batch.mask.cumsum(-1) == 0).sum(-1).min())  # left-padding shared by all rows
        if lead:
            batch.mask = batch.mask[:, lead:]
            for layer in batch.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]
        return batch

    @staticmethod
    def merge(a: Batch, b: Batch) -> Batch:
        """Rows of b join a: the shorter cache is left-padded so both share S."""
        Sa, Sb = a.mask.shape[1], b.mask.shape[1]
        S = max(Sa, Sb)

        def pad(t, n):  # left-pad dim -2 of [B, H, S, Dh] (or dim -1 of [B, S])
            if n == 0:
                return t
            if t.dim() == 2:
                return F.pad(t, (n, 0))
            return F.pad(t, (0, 0, n, 0))

        for la, lb in zip(a.cache.layers, b.cache.layers):
            la.keys = torch.cat([pad(la.keys, S - Sa), pad(lb.keys, S - Sb)])
            la.values = torch.cat([pad(la.values, S - Sa), pad(lb.values, S - Sb)])
        a.mask = torch.cat([pad(a.mask, S - Sa), pad(b.mask, S - Sb)])
        a.next_pos = torch.cat([a.next_pos, b.next_pos])
        a.plans = a.plans + b.plans
        return a

    def logprobs_of(
        self, seqs: list[list[int]], plans: list[Plan], budget: int = 1 << 27
    ) -> list[torch.Tensor]:
        """For each sequence s, log p(s[t] | s[:t]) for t >= 1 as a [len(s)-1, V] log-softmax. Rows run in
        chunks whose padded logits stay under `budget` elements, so long or many rows cannot exhaust memory."""
        V = self.loaded.model.config.vocab_size
        out, start = [], 0
        while start < len(seqs):
            end = start + 1
            while end < len(seqs) and (end + 1 - start) * max(map(len, seqs[start : end + 1])) * V <= budget:
                end += 1
            out += self._logprobs_chunk(seqs[start:end], plans[start:end])
            start = end
        return out

    def _logprobs_chunk(self, seqs: list[list[int]], plans: list[Plan]) -> list[torch.Tensor]:
        ids, mask = left_pad(seqs, self.pad_id, self.loaded.device)
        logits = self.forward(ids, mask, positions_of(mask), plans)  # [B, T, V]
        T = ids.shape[1]
        out = []
        for b, s in enumerate(seqs):
            out.append(torch.log_softmax(logits[b, T - len(s) : T - 1].float(), dim=-1))  # predicts s[1:]
        return out
