# Trains the house model's byte-level BPE tokenizer on the training sources and encodes every source into
# uint16 token files (documents joined by EOS), xz-compressed so that the corpus travels to the GPU compactly.
# Run: python tokenize_corpus.py --text .carry/house/text --out .carry/house --vocab 8192
import argparse
import json
import lzma
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS = "<|bos|>", "<|eos|>"  # ids 0 and 1
DOC_SEP = "\n\x1e\n"


def docs_of(path: Path) -> list[str]:
    return [d for d in path.read_text().split(DOC_SEP) if d.strip()]


def train_tokenizer(files: list[Path], vocab: int, sample_bytes: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )

    def sample():  # the first sample_bytes of each training source, so that no one source dominates merges
        for f in files:
            taken = 0
            for d in docs_of(f):
                yield d
                taken += len(d)
                if taken > sample_bytes:
                    break

    tok.train_from_iterator(sample(), trainer=trainer)
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", type=Path, required=True, help="folder written by corpus.py")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--sample-bytes", type=int, default=6_000_000)
    args = ap.parse_args()
    meta = json.loads((args.text / "sources.json").read_text())
    held_out = meta["held_out"]
    names = [s["source"] for s in meta["sources"]]
    train_files = [args.text / f"{n}.txt" for n in names if n != held_out]
    tok = train_tokenizer(train_files, args.vocab, args.sample_bytes)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, model_max_length=2048)
    hf.save_pretrained(args.out / "tokenizer")
    eos = tok.token_to_id(EOS)
    counts, train_parts = {}, []
    for n in names:
        ids = [
            np.array(e.ids + [eos], dtype=np.uint16)
            for e in tok.encode_batch(docs_of(args.text / f"{n}.txt"))
        ]
        arr = np.concatenate(ids)
        counts[n] = int(arr.size)
        print(f"{n}: {arr.size:,} tokens", flush=True)
        if n == held_out:
            (args.out / "val.u16.xz").write_bytes(lzma.compress(arr.tobytes(), preset=6))
        else:
            train_parts.append(arr)
    train = np.concatenate(train_parts)
    (args.out / "train.u16.xz").write_bytes(lzma.compress(train.tobytes(), preset=6))
    summary = {"held_out": held_out, "tokens": counts, "train_tokens": int(train.size), "vocab": args.vocab}
    (args.out / "tokens.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
