// Encoding attack: every ASCII letter of the prompt is rotated by 13 inside a template that says so; digits,
// spaces and punctuation stay. rot13 is its own inverse, which the test uses.
import type { Transform } from "../types";
import { stamp, strParam } from "./stamp";

export function rot13text(s: string): string {
  return s.replace(/[A-Za-z]/g, (ch) => {
    const base = ch <= "Z" ? 65 : 97;
    return String.fromCharCode(((ch.charCodeAt(0) - base + 13) % 26) + base);
  });
}

export const rot13: Transform = (cases, params, seed) => {
  const template = strParam(params, "template", "{x}", "rot13");
  if (!template.includes("{x}")) throw new Error(`rot13: "template" must contain {x}`);
  return cases.map((c) =>
    stamp(c, "rot13", { template }, seed, template.replace("{x}", rot13text(c.prompt))),
  );
};
