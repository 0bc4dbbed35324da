// What every prompt attack shares: stamp a case with its provenance (attack id, parameters, seed, the text
// before the attack), and read numeric parameters with their defaults and bounds. No I/O here.
import type { Case } from "../types";

export function stamp(
  c: Case,
  attack: string,
  params: Record<string, unknown>,
  seed: number,
  prompt: string,
  extra: Partial<Case> = {},
): Case {
  return {
    ...c,
    ...extra,
    prompt,
    provenance: [...c.provenance, { attack, params, seed, original: c.prompt }],
  };
}

/** A number parameter in [lo, hi]; a wrong one throws with the attack and parameter named. */
export function numParam(
  params: Record<string, unknown>,
  name: string,
  dflt: number,
  lo: number,
  hi: number,
  attack: string,
): number {
  const v = params[name] ?? dflt;
  if (typeof v !== "number" || !(v >= lo && v <= hi))
    throw new Error(
      `${attack}: parameter "${name}" must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`,
    );
  return v;
}

export function strParam(
  params: Record<string, unknown>,
  name: string,
  dflt: string,
  attack: string,
): string {
  const v = params[name] ?? dflt;
  if (typeof v !== "string") throw new Error(`${attack}: parameter "${name}" must be a string`);
  return v;
}

/** Splits text into words and the separators between them, so rejoining gives the text back exactly. */
export function words(text: string): string[] {
  return text.split(/(\s+)/);
}

/** Indices of alphabetic words (length >= min) in a words() array: where word-level attacks may act. */
export function wordSlots(parts: string[], min = 2): number[] {
  return parts.flatMap((w, i) =>
    i % 2 === 0 && /^[A-Za-z]+[.,;:!?]?$/.test(w) && w.length >= min ? [i] : [],
  );
}
