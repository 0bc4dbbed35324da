// Local records: the SQLite schema is the D1 migrations' (same files), a cell key is written at most once,
// and --resume refuses a campaign whose configuration hash changed.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Records } from "../records";
import type { ResultRow } from "../types";

const row = (key: string): ResultRow => ({
  campaign: "c",
  cell_key: key,
  case_id: "t/0",
  task: "t",
  attack: "clean",
  variant: "base",
  seed: 0,
  repeat: 0,
  prompt_hash: "h",
  output: "o",
  score: 1,
  metric: "acc",
  judge: null,
  raw: "{}",
  error: null,
  latency_ms: 1,
  ts: "now",
});

describe("records", () => {
  const file = () => join(mkdtempSync(join(tmpdir(), "attacks-rec-")), "records.db");

  it("hold the gateway's attack_results columns, plus the cell columns of migration 0003", () => {
    const r = new Records(file());
    const cols = (r.db.prepare("PRAGMA table_info(attack_results)").all() as { name: string }[]).map(
      (c) => c.name,
    );
    for (const c of [
      "campaign",
      "case_id",
      "attack",
      "variant",
      "seed",
      "prompt_hash",
      "output",
      "score",
      "latency_ms",
      "cell_key",
      "raw",
      "judge",
      "error",
    ])
      expect(cols).toContain(c);
    r.close();
  });

  it("write a cell once; a second write of the same key throws", () => {
    const r = new Records(file());
    r.open("c", "hash", {}, false);
    r.write(row("k1"));
    expect(() => r.write(row("k1"))).toThrow(/UNIQUE/);
    expect(r.rows("c")).toHaveLength(1);
    expect([...r.doneKeys("c")]).toEqual(["k1"]);
    r.close();
  });

  it("resume: same hash continues, a changed hash or a missing --resume is refused", () => {
    const f = file();
    const r = new Records(f);
    r.open("c", "hash-a", {}, false);
    r.close();
    const again = new Records(f); // reopening applies no migration twice
    expect(() => again.open("c", "hash-a", {}, false)).toThrow(/pass --resume/);
    expect(() => again.open("c", "hash-b", {}, true)).toThrow(/refuses a changed campaign/);
    expect(() => again.open("c", "hash-a", {}, true)).not.toThrow();
    again.close();
  });
});
