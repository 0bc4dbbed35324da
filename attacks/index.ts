// The attack module's one registry: every prompt attack by id, as one object literal (docs/ARCHITECTURE.md).
// Weight attacks are not here: they are variants served by the runner (see client.ts and kSweep in run.ts).
// Prompt attacks are pure transforms; adaptive ones need the model and are listed apart.
import type { Transform } from "./types";
import { gcg } from "./adaptive/gcg";
import { randomSearch } from "./adaptive/random-search";
import { base64 } from "./transforms/base64";
import { bosMid } from "./transforms/bos-mid";
import { charswap } from "./transforms/charswap";
import { distractor } from "./transforms/distractor";
import { dropBos } from "./transforms/drop-bos";
import { homoglyph } from "./transforms/homoglyph";
import { injection } from "./transforms/injection";
import { jailbreak } from "./transforms/jailbreak";
import { leadingDelimiter } from "./transforms/leading-delimiter";
import { leetspeak } from "./transforms/leetspeak";
import { rot13 } from "./transforms/rot13";
import { synonym } from "./transforms/synonym";

export const TRANSFORMS = {
  charswap, // character level: DeepWordBug swaps, insertions, deletions, substitutions
  homoglyph, // character level: TextBugger look-alikes
  synonym, // word level: WordNet-derived synonyms
  distractor, // sentence level: StressTest / CheckList distractors
  base64, // encoding
  rot13, // encoding
  leetspeak, // encoding
  injection, // planted-canary prompt injection
  jailbreak, // jailbreak templates
  "drop-bos": dropBos, // the paper's: no BOS
  "bos-mid": bosMid, // the paper's: BOS in mid-prompt
  "leading-delimiter": leadingDelimiter, // the paper's: a leading delimiter
} satisfies Record<string, Transform>;

/** Adaptive attacks search a suffix against the model (adaptive/campaign.ts runs them for a campaign). */
export const ADAPTIVE = {
  "random-search": randomSearch, // black-box: log-prob random search over a suffix (/v1/score)
  gcg, // white-box: Greedy Coordinate Gradient on the runner's admin gradients routes
};

export type AttackId = keyof typeof TRANSFORMS | keyof typeof ADAPTIVE;
export type { Case, Cell, Provenance, ResultRow, Transform, Variant } from "./types";
