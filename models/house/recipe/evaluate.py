# Measures the shipped house model through Hugging Face transformers and the runner's own analysis (probe.py):
# the BOS massive activation, the layer whose FFN creates it, the top-k massive rows, the attention mass on
# BOS, and held-out perplexity for the variants base, massive-zero, massive-retain and random-zero.
# Run: python evaluate.py --model models/house --text models/house/heldout.txt [--window 1024] [--json out.json]
import argparse
import json
from pathlib import Path

import torch
from probe import probe

from runner.load import load
from runner.tokens import Tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("models/house"))
    ap.add_argument("--text", type=Path, default=Path("models/house/heldout.txt"))
    ap.add_argument("--window", type=int, default=1024, help="tokens per window, BOS included")
    ap.add_argument("--max-windows", type=int, default=0, help="0: every whole window of the text")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    loaded = load(str(args.model), "cpu")
    tokens = Tokens(loaded.tokenizer, loaded.model.config.vocab_size)
    ids = tokens.encode(args.text.read_text(), add_bos=False)
    W = args.window - 1
    wins = [[tokens.bos_id] + ids[i : i + W] for i in range(0, len(ids) - W + 1, W)]
    wins = wins[: args.max_windows] if args.max_windows else wins
    res = {"model": str(args.model), "text": str(args.text), "window": args.window, "windows": len(wins)}
    res |= probe(loaded, torch.tensor(wins), args.k, args.seed)
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
