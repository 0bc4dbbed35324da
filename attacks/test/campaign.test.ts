// Campaign files: a valid one parses with its defaults; every error names FILE:LINE:COL and the field; the
// hash that guards --resume changes with the campaign but not with its secrets; cells are exactly the
// product of items, attacks, variants, seeds and repetitions, with unique keys.
import { describe, expect, it } from "vitest";
import { attackSpecs, campaignHash, parseCampaign } from "../campaign";
import { expandCells } from "../cells";
import { CASES, CTX } from "./transforms/contract";

const GOOD = `name: t
target:
  kind: runner
  url: http://127.0.0.1:8500
variants: [base, massive-zero]
tasks:
  - suite: heldout-cloze
    n: 3
attacks:
  - drop-bos
  - id: charswap
    params: {rate: 0.1}
seeds: [0, 1]
`;

describe("campaign files", () => {
  it("parse with their defaults", () => {
    const c = parseCampaign(GOOD);
    expect(c).toMatchObject({
      name: "t",
      repeats: 1,
      concurrency: 4,
      baseline_variant: "base",
      target: { model: "house", rate: 0 },
    });
    expect(attackSpecs(c).map((a) => a.label)).toEqual(["clean", "drop-bos", "charswap(rate=0.1)"]);
  });

  it("name the line and column of a bad value", () => {
    const bad = GOOD.replace("n: 3", "n: -3").replace("kind: runner", "kind: server");
    const msg = (() => {
      try {
        parseCampaign(bad, "c.yaml");
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(msg).toMatch(/^c\.yaml:3:9: target\.kind: /m);
    expect(msg).toMatch(/^c\.yaml:8:8: tasks\.0(\.n)?: /m);
  });

  it("name an unknown attack, a missing field, and broken YAML", () => {
    expect(() => parseCampaign(GOOD.replace("- drop-bos", "- typo"), "c.yaml")).toThrow(
      /c\.yaml:10:\d+: attacks\.0/,
    );
    expect(() => parseCampaign(GOOD.replace("name: t\n", ""), "c.yaml")).toThrow(/c\.yaml:1:1: name/);
    expect(() => parseCampaign("name: [", "c.yaml")).toThrow(/c\.yaml:1:\d+: YAML/);
  });

  it("hash: a changed campaign changes it, a changed key does not", () => {
    const a = parseCampaign(GOOD);
    const withKey = parseCampaign(GOOD.replace("  url:", "  key: secret\n  url:"));
    expect(campaignHash(withKey)).toBe(campaignHash(a));
    expect(campaignHash(parseCampaign(GOOD.replace("[0, 1]", "[0, 2]")))).not.toBe(campaignHash(a));
  });

  it("cells: items x attacks x seeds x variants x repeats, every key unique", () => {
    const c = parseCampaign(GOOD);
    const cells = expandCells([{ task: "t", cases: CASES }], attackSpecs(c), c.variants, c.seeds, 2, CTX);
    expect(cells).toHaveLength(3 * 3 * 2 * 2 * 2);
    expect(new Set(cells.map((x) => x.key)).size).toBe(cells.length);
  });
});
