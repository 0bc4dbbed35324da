# Prints seeded sample continuations from the house model through transformers (BOS put first, as the
# runner does), for the model card.
# Run: python sample.py --model models/house [--seed 0] [--max-new-tokens 60]
import argparse
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The history of the city",
    "To install the package, run",
    "She opened the door and",
    "A dictionary is",
    "The kernel uses this function to",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("models/house"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=60)
    ap.add_argument("--temperature", type=float, default=0.8)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    for prompt in PROMPTS:
        torch.manual_seed(args.seed)
        ids = torch.tensor([[tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]])
        out = model.generate(
            ids,
            do_sample=True,
            temperature=args.temperature,
            top_p=0.95,
            max_new_tokens=args.max_new_tokens,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.eos_token_id,
        )
        text = tok.decode(out[0, 1:], skip_special_tokens=True)
        print(f"- **{prompt}** ->{text[len(prompt) :]!r}\n")


if __name__ == "__main__":
    main()
