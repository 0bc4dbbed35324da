// A leading delimiter: the prompt starts with a "." (or `delimiter`). Models without BOS put their massive
// activation on the first delimiter (Sun et al. 2024; Mistral in the paper), so an early delimiter can
// become a second sink. Combine with drop-bos in a campaign to test the no-BOS case.
import type { Transform } from "../types";
import { stamp, strParam } from "./stamp";

export const leadingDelimiter: Transform = (cases, params, seed) => {
  const delimiter = strParam(params, "delimiter", ".", "leading-delimiter");
  if (delimiter.length === 0 || delimiter.length > 8)
    throw new Error(`leading-delimiter: "delimiter" must be 1-8 characters`);
  return cases.map((c) => stamp(c, "leading-delimiter", { delimiter }, seed, delimiter + " " + c.prompt));
};
