# Turns a training run's weight shards into the shipped Hugging Face folder: config.json, bf16 safetensors
# shards of at most 15 MB, tokenizer files, and the committed held-out sample; then checks that
# transformers loads it and gives the training code's logits.
# Run: python export.py --run /tmp/house-run --data .carry/house --out models/house
import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

sys.path.insert(0, str(Path(__file__).parent))
from model import Config, Llama  # noqa: E402

HELDOUT_BYTES = 300_000


def hf_config(cfg: Config) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.context,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=1,
        torch_dtype="bfloat16",
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True, help="folder written by train.py")
    ap.add_argument("--data", type=Path, required=True, help="folder written by tokenize_corpus.py")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    meta = json.loads((args.run / "metrics.json").read_text())
    cfg = Config(**meta["config"])
    state = {}
    for shard in meta["shards"]:
        state |= load_file(str(args.run / shard))
    ours = Llama(cfg)
    ours.load_state_dict({k: v.float() for k, v in state.items()})
    ours.eval()
    hf = AutoModelForCausalLM.from_config(hf_config(cfg))
    hf.load_state_dict(state, strict=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("model*.safetensors*"):
        old.unlink()
    hf.to(torch.bfloat16).save_pretrained(args.out, max_shard_size="15MB")
    for shard in args.out.glob("model*.safetensors"):
        shard.chmod(0o644)
    tok = AutoTokenizer.from_pretrained(args.data / "tokenizer")
    tok.model_max_length = cfg.context
    tok.save_pretrained(args.out)
    tc_path = args.out / "tokenizer_config.json"  # the class name that transformers 4.x and 5.x both know
    tc = json.loads(tc_path.read_text()) | {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": False,
    }
    for key in ("is_local", "local_files_only"):  # save_pretrained's bookkeeping, not settings
        tc.pop(key, None)
    tc_path.write_text(json.dumps(tc, indent=2) + "\n")
    # the committed held-out sample: whole documents of the held-out source, up to HELDOUT_BYTES
    held = json.loads((args.data / "tokens.json").read_text())["held_out"]
    docs, size = [], 0
    for d in (args.data / "text" / f"{held}.txt").read_text().split("\n\x1e\n"):
        if size + len(d.encode()) > HELDOUT_BYTES:
            break
        docs.append(d)
        size += len(d.encode()) + 2
    (args.out / "heldout.txt").write_text("\n\n".join(docs) + "\n")
    # the check: transformers loads the folder offline and agrees with the training code
    model = AutoModelForCausalLM.from_pretrained(args.out, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(args.out)
    ids = tok("The package manager installs software.", add_special_tokens=False)["input_ids"]
    assert tok.bos_token_id not in ids, "plain encode must not add BOS; the runner puts it first"
    x = torch.tensor([[tok.bos_token_id] + ids])
    with torch.no_grad():
        ref = ours.to(torch.bfloat16).float()(x)
        got = model(x).logits
    diff = float((ref - got).abs().max())
    print(json.dumps({"out": str(args.out), "max_logit_diff_vs_training_code": diff, "heldout_bytes": size}))
    assert diff < 1e-2, f"transformers disagrees with the training code by {diff}"


if __name__ == "__main__":
    main()
