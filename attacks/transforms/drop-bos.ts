// The paper's own prompt manipulation: drop the BOS token. Massive activations sit on BOS (or, without it,
// on the first delimiter, as Mistral does), so a model that leans on them can change when BOS is missing.
// The text is unchanged; the case asks its client to send the prompt without BOS.
import type { Transform } from "../types";
import { stamp } from "./stamp";

export const dropBos: Transform = (cases, params, seed) =>
  cases.map((c) => stamp(c, "drop-bos", {}, seed, c.prompt, { addBos: false }));
