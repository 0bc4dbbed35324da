// The page's tokenizer: Hugging Face's tokenizers.js reading the model's own tokenizer.json (no hand-written
// BPE). It encodes as the runner does (gpu-runner/runner/tokens.py): user text is always text, so
// "<|eos|>" typed into the prompt is encoded as its characters, never as the EOS token (the runner's
// `split_special_tokens`); here, by a second tokenizer built without the added-token list. BOS is added by
// the caller, as the runner does. test/e2e/tokenizer.test.ts checks it against the runner on 300+ strings.
import { Tokenizer } from "@huggingface/tokenizers";

export interface TextTokenizer {
  /** Token ids of `text` as text (no BOS, no special tokens). */
  encode(text: string): number[];
  /** Text of `ids`, special tokens included, as the runner's `decode`. */
  decode(ids: number[]): string;
}

// tokenizer.json's shape, as far as this file reads it
type TokenizerJson = { added_tokens?: unknown[] } & Record<string, unknown>;

export function textTokenizer(json: TokenizerJson, config: Record<string, unknown> = {}): TextTokenizer {
  const full = new Tokenizer(json, config);
  const plain = new Tokenizer({ ...json, added_tokens: [] }, config);
  return {
    encode: (text) => plain.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) =>
      ids.length ? full.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "",
  };
}
