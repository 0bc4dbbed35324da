// The page's tokenizer (src/demo/browser/tokenizer.ts: tokenizers.js on the house model's tokenizer.json)
// gives the runner's token ids (gpu-runner/runner/tokens.py, Hugging Face tokenizers in Python) on 300+
// strings: held-out text, whitespace and digits, non-Latin scripts, emoji, and special-token strings typed
// as text; and decoding gives the text back as the runner decodes it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { textTokenizer } from "../../src/demo/browser/tokenizer";
import { root } from "./servers";

const model = join(root, "models/house");

function corpus(): string[] {
  const lines = readFileSync(join(model, "heldout.txt"), "utf8")
    .split("\n")
    .filter((l) => l.trim());
  const held = Array.from({ length: 260 }, (_, i) => lines[(i * 37) % lines.length]);
  const odd = [
    "",
    " ",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\n\n",
    "Once upon a time",
    "The capital of France is",
    "1234567890 3.14159 -42 1e10",
    "naïve café résumé Ångström",
    "Привет, мир",
    "日本語のテキスト",
    "مرحبا بالعالم",
    "emoji 🙂🚀 and ZWJ 👩‍👩‍👧",
    "a<|eos|>b",
    "<|bos|>",
    "<|bos|> hello <|eos|>",
    "<|unknown|> token-like text",
    "don't won't it's we'll I'm",
    "CamelCaseWordsAndsnake_case_words",
    "https://example.com/path?q=1&r=2",
    "x".repeat(300),
    "  \u00a0non-breaking\u00a0spaces",
    "combining e\u0301 and precomposed é",
  ];
  return [...held, ...odd, ...odd.map((s) => s.toUpperCase()), ...odd.map((s) => "\n" + s)];
}

describe("the page's tokenizer", () => {
  it("encodes and decodes 300+ strings exactly as the runner does", () => {
    const texts = corpus();
    expect(texts.length).toBeGreaterThanOrEqual(300);
    const py = [
      "import json, sys",
      "from transformers import AutoTokenizer",
      "from runner.tokens import Tokens",
      `t = Tokens(AutoTokenizer.from_pretrained(${JSON.stringify(model)}), 8192)`,
      "texts = json.load(sys.stdin)",
      "ids = [t.encode(s, add_bos=False) for s in texts]",
      "print(json.dumps({'ids': ids, 'text': [t.decode(i) for i in ids]}))",
    ].join("\n");
    const run = spawnSync(join(root, ".venv/bin/python"), ["-c", py], {
      cwd: join(root, "gpu-runner"),
      input: JSON.stringify(texts),
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    expect(run.status, run.stderr).toBe(0);
    const want = JSON.parse(run.stdout) as { ids: number[][]; text: string[] };
    const tok = textTokenizer(JSON.parse(readFileSync(join(model, "tokenizer.json"), "utf8")));
    const mismatched = texts.filter((s, i) => JSON.stringify(tok.encode(s)) !== JSON.stringify(want.ids[i]));
    expect(mismatched).toEqual([]);
    const undecoded = want.ids.filter((ids, i) => tok.decode(ids) !== want.text[i]);
    expect(undecoded).toEqual([]);
    expect(tok.encode("a<|eos|>b")).not.toContain(1); // typed text never becomes EOS
  });
});
