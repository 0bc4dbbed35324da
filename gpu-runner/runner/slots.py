"""Decoding over a static, preallocated KV cache: one slot per running row, fixed shapes, CUDA graphs.

The dynamic path (engine.py) grows a DynamicCache by one column per step and copies it whole when rows
join or leave, so every step is a new shape and Python launches every kernel. Here, as gpt-fast and vLLM
do, each layer owns K and V of shape [N, Hkv, S_max, Dh] allocated once; a row holds one slot for its whole
life (no copies when others join or leave), writes its step's key at its own position, and attends to the
first S columns of its slot under a mask `column <= position`. A decode step then depends only on the
bucket (B = a power of two covering the highest occupied slot, S = a power of two covering the longest
row, and whether any row runs an adapter), so on CUDA each bucket is captured once as a CUDA graph and
replayed (torch.cuda.CUDAGraph). A batch without adapter rows replays a graph without the adapters' work.

The decode step is written here for the Llama-shaped families (Llama, Mistral without a window, Qwen-2/3,
SiLU-gated FFN), as gpt-fast writes its own: per layer four matrix products over packed.py's matrices
(q|k|v, o, gate|up, down: views of the model's own weights) and fused.py's glue between them (rotary and
the cache write, attention, the residual add and norm, SwiGLU with each row's FFN mask, each adding the
adapters' deltas), which on CUDA runs as kernels.py's Triton kernels: about ten kernels a layer. With
adapters, each product's deltas (each row's own adapter, fused.lora_delta) are computed on a second stream
while the base product runs: the captured graph forks and joins around every product, so the adapters'
small products run beside each base product, not after it. Prefill stays dynamic (engine.prefill): its
cache is copied into the new rows' slots. Per-row variant state lives on the device in fixed buffers
(keep[layer] [N, d_ff], adapter index [N]) written only when a row joins, so a mixed batch costs what a
base one does.

Shapes: N slots, B bucket rows, S bucket columns, H query heads, Hkv key/value heads, G = H / Hkv, Dh.
"""

from __future__ import annotations

import heapq
import itertools

import torch
import torch.nn.functional as F

from . import fused
from .engine import Batch, Engine
from .packed import Packed
from .variants import Plan

FAMILIES = ("llama", "mistral", "qwen2", "qwen3")  # Llama-shaped: what step() below computes


def supports(loaded) -> bool:
    cfg = loaded.model.config
    windowed = getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True)
    return loaded.family in FAMILIES and not windowed and getattr(cfg, "hidden_act", "silu") == "silu"


def slot_decoder(engine: Engine, cfg, max_context: int, mask_layers=()) -> SlotDecoder | None:
    """The static decoder `cfg.decode` asks for (captured now when graphs are on), or None. `mask_layers`:
    the layers the registered variants mask, whose per-slot mask buffers exist from the start."""
    loaded = engine.loaded
    if cfg.decode == "dynamic" or (cfg.decode == "auto" and loaded.device.type != "cuda"):
        return None
    if not supports(loaded):
        if cfg.decode == "static":
            raise ValueError(
                f"decode=static serves {', '.join(FAMILIES)} with SiLU and without a sliding window"
            )
        return None
    max_len = min(max_context, cfg.max_prompt_tokens + cfg.max_tokens)
    slots = SlotDecoder(engine, cfg.max_batch_rows, max_len, graphs=None if cfg.cuda_graphs else False)
    for layer in sorted(set(mask_layers)):
        slots.mask_layer(layer)
    slots.capture_all()
    return slots


def bucket(n: int, floor: int = 1) -> int:
    """The smallest power of two >= max(n, floor)."""
    return max(floor, 1 << max(0, n - 1).bit_length())


class SlotDecoder:
    """The static cache of one model and the rows occupying it. Used like engine.py's Batch: join() the
    rows of a prefilled Batch, step() one token per row (rows in join order), keep() the ones that go on."""

    S_FLOOR = 64  # smallest column bucket: fewer, larger graphs

    def __init__(self, engine: Engine, slots: int, max_len: int, graphs: bool | None = None, functions=None):
        """`functions`: the glue's module (fused, or kernels); by default kernels on CUDA, fused elsewhere."""
        loaded = engine.loaded
        cfg = loaded.model.config
        self.engine, self.loaded, self.adapters = engine, loaded, engine.adapters
        self.N, self.S_max = slots, bucket(max_len, self.S_FLOOR)
        attn = loaded.layers[0].self_attn
        self.H, self.Dh = cfg.num_attention_heads, attn.head_dim
        self.Hkv = getattr(cfg, "num_key_value_heads", None) or self.H
        dev, dt = loaded.device, loaded.dtype
        shape = (self.N, self.Hkv, self.S_max, self.Dh)
        self.k = [torch.zeros(shape, device=dev, dtype=dt) for _ in loaded.layers]
        self.v = [torch.zeros(shape, device=dev, dtype=dt) for _ in loaded.layers]
        self.ids = torch.zeros(self.N, dtype=torch.long, device=dev)  # [N] token fed at this step
        self.pos = torch.zeros(self.N, dtype=torch.long, device=dev)  # [N] its position = its column
        self.host = torch.zeros(2, self.N, dtype=torch.long)  # ids and pos, staged for one copy per step
        if dev.type == "cuda":
            self.host = self.host.pin_memory()
        self.keep: dict[int, torch.Tensor] = {}  # layer -> [N, d_ff] FFN mask per slot
        self.adapter_index = torch.zeros(self.N, dtype=torch.long, device=dev)  # [N] 0 = base
        self.adapter_of = [0] * self.N  # host copy of adapter_index
        self.order = None  # [len(self)] running rows' slots on the device; None when they are 0..n-1
        self.free = list(range(self.N))  # a heap: a joining row takes the lowest free slot
        self.slot_of: list[int] = []  # running rows in join order -> their slot
        self.length: list[int] = [0] * self.N  # tokens cached per slot (host copy of pos)
        self.graphs_on = dev.type == "cuda" if graphs is None else graphs
        self.graphs: dict[tuple[int, int, bool], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self.pool = None
        if functions is None and dev.type == "cuda":
            from . import kernels as functions  # Triton: only where there is a GPU
        self.fn = functions or fused
        self.packed = Packed(loaded.layers)
        # adapters' deltas: one fp32 buffer per projection kind (reused layer after layer), computed on a
        # second stream while the base product runs (CUDA), then added by the glue
        self.side = torch.cuda.Stream(dev) if dev.type == "cuda" else None  # (a higher priority: no gain)
        g = self.packed.layers[0] if self.packed.layers else ()
        self.deltas = [torch.zeros(self.N, grp.n, device=dev, dtype=torch.float32) for grp in g]
        self.d_ff = loaded.ffn(0).d_ff
        self.adapters_seen = len(self.adapters.numbers)

    def __len__(self) -> int:
        return len(self.slot_of)

    # --- rows joining and leaving -------------------------------------------------------------------

    @torch.inference_mode()
    def join(self, batch: Batch) -> None:
        """Move the rows of a prefilled Batch into free slots: row b's cached columns (after its left
        padding) become columns [0, L_b) of its slot; its variant goes into the slot's device buffers."""
        if len(batch.plans) > len(self.free):
            raise RuntimeError(f"{len(batch.plans)} rows join but only {len(self.free)} slots are free")
        T = batch.mask.shape[1]
        lengths = batch.mask.sum(-1).tolist()
        for b, (plan, L) in enumerate(zip(batch.plans, lengths)):
            if L + 1 > self.S_max:
                raise RuntimeError(f"a row of {L} tokens does not fit a slot of {self.S_max} columns")
            s = heapq.heappop(self.free)
            for layer, kv in enumerate(batch.cache.layers):
                self.k[layer][s, :, :L] = kv.keys[b, :, T - L :]
                self.v[layer][s, :, :L] = kv.values[b, :, T - L :]
            self._set_plan(s, plan)
            self.length[s] = L
            self.slot_of.append(s)
        self._reorder()

    def keep_rows(self, keep: list[int]) -> None:
        """Only running rows `keep` (indices in join order) go on; the others' slots become free."""
        kept = set(keep)
        for i, s in enumerate(self.slot_of):
            if i not in kept:
                heapq.heappush(self.free, s)
        self.slot_of = [self.slot_of[i] for i in keep]
        self._reorder()

    def _reorder(self) -> None:
        n = len(self.slot_of)
        contiguous = self.slot_of == list(range(n))
        self.order = None if contiguous else torch.tensor(self.slot_of, device=self.loaded.device)

    def _set_plan(self, s: int, plan: Plan) -> None:
        keep = {}
        for m in plan.masks:
            d_ff = self.loaded.ffn(m.layer).d_ff
            keep[m.layer] = keep.get(m.layer, torch.ones(d_ff)) * m.keep(d_ff)
        for layer in sorted(set(keep) - set(self.keep)):  # a layer no variant masked before
            self.mask_layer(layer)
        for layer, buf in self.keep.items():
            buf[s] = keep[layer].to(buf) if layer in keep else 1.0
        self.adapter_of[s] = self.adapters.index_of(plan.adapter)
        self.adapter_index[s] = self.adapter_of[s]

    def mask_layer(self, layer: int) -> None:
        """Give `layer` a per-slot FFN mask buffer (all ones: no row masked). The graphs captured
        without it are dropped; the next steps capture new ones."""
        d_ff = self.loaded.ffn(layer).d_ff
        self.keep[layer] = torch.ones(self.N, d_ff, device=self.loaded.device, dtype=self.loaded.dtype)
        self._drop_graphs()

    def _drop_graphs(self) -> None:
        self.graphs, self.pool = {}, None  # a pool whose graphs are all gone cannot take new ones

    # --- one decode step ----------------------------------------------------------------------------

    @torch.inference_mode()
    def step(self, tokens: list[int]) -> torch.Tensor:
        """Feed each running row its token; the next-token logits [len(self), V] (rows in join order)."""
        slots = self.slot_of
        positions = [self.length[s] for s in slots]  # each row's token goes to its next column
        staged = self.host.numpy()  # the same (pinned) memory: one numpy write, not two tensor writes a row
        staged[0, slots] = tokens
        staged[1, slots] = positions
        for s in slots:
            self.length[s] += 1
        longest = max(positions) + 1
        if longest > self.S_max:
            raise RuntimeError(f"a row outgrew its slot of {self.S_max} columns")
        self.ids.copy_(self.host[0], non_blocking=True)
        self.pos.copy_(self.host[1], non_blocking=True)
        B = bucket(max(slots) + 1)
        S = bucket(longest, self.S_FLOOR)
        lora = any(self.adapter_of[s] for s in self.slot_of)
        logits = self._run(B, S, lora)  # [B, V]
        rows = logits[: len(self.slot_of)] if self.order is None else logits.index_select(0, self.order)
        return rows.to(torch.float32, copy=True)  # [len(self), V], not a view the next replay rewrites

    def _run(self, B: int, S: int, lora: bool = False) -> torch.Tensor:
        if len(self.adapters.numbers) != self.adapters_seen:  # an adapter loaded: new rows, new graphs
            self.adapters_seen = len(self.adapters.numbers)
            self._drop_graphs()
            self.packed.stack()
        if not self.graphs_on:
            return self._forward(B, S, lora)
        if (B, S, lora) not in self.graphs:
            self.graphs[(B, S, lora)] = self._capture(B, S, lora)
        graph, out = self.graphs[(B, S, lora)]
        graph.replay()
        return out

    @torch.inference_mode()
    def capture_all(self) -> int:
        """Capture every (B, S, lora) bucket now, largest first (they share one memory pool), so no
        request meets an uncaptured shape. Returns how many graphs exist."""
        if self.graphs_on:
            Bs = [b for b in (1 << i for i in range(12)) if b <= bucket(self.N)]
            Ss = [s for s in (self.S_FLOOR << i for i in range(16)) if s <= self.S_max]
            loras = (False, True) if self.adapters.numbers else (False,)
            for key in itertools.product(reversed(Bs), reversed(Ss), loras):
                if key not in self.graphs:
                    self.graphs[key] = self._capture(*key)
        return len(self.graphs)

    def _capture(self, B: int, S: int, lora: bool):
        # the warm-up runs on a side stream, as torch.cuda.graphs' docs ask; it writes slots' columns
        # at their current positions, which the real step rewrites before reading them
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self._forward(B, S, lora)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            out = self._forward(B, S, lora)
        self.pool = graph.pool()
        return graph, out

    def _forward(self, B: int, S: int, lora: bool) -> torch.Tensor:
        """The decode step over slots [0, B) and columns [0, S): only fixed-shape, sync-free work, so it
        can be captured. Rows in unused slots compute garbage that no one reads. Per layer: four products
        over packed.py's matrices and fused.py's glue between them (Triton kernels on CUDA); with adapters,
        each product's adapter deltas computed beside it."""
        model = self.loaded.model.model
        ids, pos = self.ids[:B], self.pos[:B]
        x = model.embed_tokens(ids)  # [B, D]
        cos, sin = model.rotary_emb(x[:, None], pos[:, None])  # [B, 1, Dh]
        cos, sin = cos[:, 0].contiguous(), sin[:, 0].contiguous()
        index = self.adapter_index[:B] if lora else None
        fn, layers = self.fn, model.layers
        norm = layers[0].input_layernorm
        h = fn.rms_norm(x, norm.weight, norm.variance_epsilon)

        def product(inp, group, kind):
            """The base product of `inp` by `group`'s packed matrix, and its adapters' deltas (or None)."""
            ada = group.lora(lora)
            if ada is None:
                return F.linear(inp, group.weight()), None
            if self.side is None:  # CPU: one after the other
                return F.linear(inp, group.weight()), fn.lora_delta(inp, ada, index, self.deltas[kind][:B])
            main = torch.cuda.current_stream()
            self.side.wait_stream(main)  # the input is ready
            with torch.cuda.stream(self.side):
                adapted = fn.lora_delta(inp, ada, index, self.deltas[kind][:B])
            y = F.linear(inp, group.weight())
            main.wait_stream(self.side)
            return y, adapted

        for layer, (block, (qkv, o_, gu, down)) in enumerate(zip(layers, self.packed.layers)):
            attn = block.self_attn
            norms = ()
            if hasattr(attn, "q_norm"):  # Qwen-3 norms q and k per head
                norms = ((attn.q_norm.weight, attn.q_norm.variance_epsilon),
                         (attn.k_norm.weight, attn.k_norm.variance_epsilon))  # fmt: skip
            kc, vc = self.k[layer], self.v[layer]
            y, ada = product(h, qkv, 0)
            q = fn.qkv_rope_cache(y, self.H, self.Hkv, qkv.bias, ada, index, cos, sin, kc, vc, pos, *norms)
            a = fn.attend(q, kc, vc, pos, S, attn.scaling)
            post = block.post_attention_layernorm
            y, ada = product(a, o_, 1)
            x, h = fn.add_rms_norm(x, y, o_.bias, ada, index, post.weight, post.variance_epsilon)
            keep = self.keep.get(layer)
            y, ada = product(h, gu, 2)
            inter = fn.swiglu(y, self.d_ff, gu.bias, ada, index, None if keep is None else keep[:B])
            nxt = layers[layer + 1].input_layernorm if layer + 1 < len(layers) else model.norm
            y, ada = product(inter, down, 3)
            x, h = fn.add_rms_norm(x, y, down.bias, ada, index, nxt.weight, nxt.variance_epsilon)
        with self.adapters.active.indexed(self.adapter_index[:B] if lora else None):  # an adapter on lm_head
            return self.loaded.model.lm_head(h[:, None])[:, 0]  # [B, V]
