"""Time a PEFT LoRA training step on the CPU for a random model of Gemma 3 270M's shape (its weights are not
here), to size a CPU step budget for `compare-training` on the real one (results.md, last section).

    OMP_NUM_THREADS=2 .venv/bin/python bench/macdrop/cpu_step_gemma_shape.py 8     # micro-batch sizes
"""

import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, Gemma3TextConfig

torch.manual_seed(0)
cfg = Gemma3TextConfig(
    vocab_size=262144,
    hidden_size=640,
    intermediate_size=2048,
    num_hidden_layers=18,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=256,
    sliding_window=512,
    tie_word_embeddings=True,
)
m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
print("params", sum(p.numel() for p in m.parameters()), "threads", torch.get_num_threads(), flush=True)
m.requires_grad_(False)
for method in ["lora"]:
    pm = get_peft_model(m, LoraConfig(r=16, lora_alpha=16, target_modules="all-linear"))
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-4)
    for mb in map(int, sys.argv[1:]):
        ids = torch.randint(0, 262144, (mb, 48))
        for i in range(3):
            t = time.perf_counter()
            loss = pm(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            print(method, "micro-batch", mb, "step", i, round(time.perf_counter() - t, 2), "s", flush=True)
    with torch.no_grad():
        t = time.perf_counter()
        pm(input_ids=torch.randint(0, 262144, (8, 64)))
        print("forward 8x64", round(time.perf_counter() - t, 2), "s")
