// The attack module through the gateway (the e2e setup's real runner on the tiny model behind wrangler dev,
// with an API key): a small campaign whose generation goes through /v1/completions (token ids when BOS is
// dropped) and whose scoring goes through /v1/score and /v1/tokenize writes one row per cell, no errors.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { parseCampaign } from "../../attacks/campaign";
import { HttpClient } from "../../attacks/client";
import { Records } from "../../attacks/records";
import { runCampaign } from "../../attacks/run";

describe("an attack campaign through the gateway", () => {
  it("writes exactly one row per cell with no errors", async () => {
    const c = parseCampaign(`name: gw
target: {kind: gateway, url: "${inject("gateway")}"}
variants: [base, massive-zero]
tasks:
  - {suite: heldout-cloze, n: 3}
  - {suite: heldout-next, n: 2}
  - {suite: heldout-ppl, n: 1}
attacks: [drop-bos]
max_tokens: 4
`);
    const client = new HttpClient({
      kind: "gateway",
      url: inject("gateway"),
      key: inject("apiKey"),
      model: "house",
    });
    const records = new Records(join(mkdtempSync(join(tmpdir(), "attacks-gw-")), "records.db"));
    const kinds: string[] = [];
    for await (const ev of runCampaign({ campaign: c, client, records, baseDir: "." })) kinds.push(ev.type);
    const rows = records.rows("gw");
    records.close();
    expect(rows).toHaveLength(6 * 2 * 2); // items x (clean, drop-bos) x variants
    expect(rows.filter((r) => r.error)).toEqual([]);
    expect(new Set(rows.map((r) => r.cell_key)).size).toBe(rows.length);
    expect(kinds[0]).toBe("plan");
    expect(kinds.at(-1)).toBe("end");
  }, 120_000);
});
