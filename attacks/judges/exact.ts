// Exact-answer judge, version 1: 1 when the output, after trimming and up to the first newline, starts with
// the expected answer (case-insensitive, whitespace collapsed); what a greedy completion of a cloze or a
// short-answer prompt should give. A change of rule is a new version, so old rows keep their meaning.
import type { Case } from "../types";

export const EXACT_VERSION = "exact@1";

const norm = (s: string) => s.replace(/\s+/g, " ").trim().toLowerCase();

export function judgeExact(c: Case, output: string): number {
  if (c.target === undefined) throw new Error(`case ${c.id} has no target for the exact judge`);
  const first = norm(output.split("\n").find((l) => l.trim() !== "") ?? "");
  const want = norm(c.target);
  return want !== "" && first.startsWith(want) ? 1 : 0;
}
