"""Runner configuration: one frozen dataclass, validated where it is made."""

from __future__ import annotations

from dataclasses import dataclass

from .wire import MAX_K


@dataclass(frozen=True)
class RunnerConfig:
    model: str  # local folder with config.json + safetensors, or a hub id (needs a network)
    adapters_dir: str | None = None  # folder whose sub-folders are PEFT adapters, loaded by name
    device: str | None = None  # "cpu", "cuda", "cuda:1"; None picks cuda when available
    dtype: str | None = None  # "float32", "bfloat16", "float16"; None: bf16 on GPU, fp32 on CPU
    k: int = 5  # how many massive rows the built-in variants touch (the paper's top-k)
    threshold: float = 100.0  # max/median ratio that counts as massive
    seed: int = 0  # seeds the random-zero control variant
    max_prompt_tokens: int = 2048  # longer prompts are refused with 413
    max_tokens: int = 512  # cap on max_tokens per row; /health shows it under "limits"
    max_batch_rows: int = 32  # rows the scheduler runs in one forward pass
    max_queue_rows: int = 256  # rows waiting beyond which the runner answers 503
    batch_wait_ms: float = 2.0  # how long the scheduler waits to gather a batch when idle
    admin_token: str | None = None  # Bearer token for POST /v1/variants; None disables admin routes
    api_token: str | None = None  # shared secret: when set, every route but /health needs this Bearer token
    max_body_bytes: int = 1 << 20  # request bodies above this get 413
    # "static": decode on a preallocated slot cache with CUDA graphs on CUDA (slots.py, Llama-shaped models);
    # "dynamic": the growing cache (engine.py); "auto": static on CUDA where the family allows, else dynamic
    decode: str = "auto"
    cuda_graphs: bool = True  # with static decode on CUDA: capture every batch bucket at start-up

    def __post_init__(self):
        if not self.model:
            raise ValueError("model must name a folder or a hub id")
        if not 1 <= self.k <= MAX_K:
            raise ValueError(f"k must be in 1..{MAX_K}, got {self.k}")
        if self.threshold <= 1:
            raise ValueError(f"threshold must be > 1, got {self.threshold}")
        if self.decode not in ("auto", "static", "dynamic"):
            raise ValueError(f"decode must be auto, static or dynamic, got {self.decode!r}")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        for name in (
            "max_prompt_tokens",
            "max_tokens",
            "max_batch_rows",
            "max_queue_rows",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
