// Attack records in SQLite (better-sqlite3) with the schema of the gateway's D1 `attack_results`: the
// same migration files (migrations/*.sql) are applied here, so one schema serves both. Rows are append-only;
// the unique (campaign, cell_key) index makes each cell exactly-once, and inserts are synchronous, so a
// row is on disk before its worker takes the next cell.
import Database from "better-sqlite3";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { insertResultSql, resultValues, type ResultRow } from "./types";

export const MIGRATIONS = join(import.meta.dirname, "..", "migrations");

export class Records {
  readonly db: Database.Database;
  private insert: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.migrate();
    this.insert = this.db.prepare(insertResultSql());
  }

  private migrate() {
    this.db.exec("CREATE TABLE IF NOT EXISTS attack_migrations (name TEXT PRIMARY KEY)");
    const done = new Set(this.db.prepare("SELECT name FROM attack_migrations").pluck().all() as string[]);
    for (const f of readdirSync(MIGRATIONS)
      .filter((f) => f.endsWith(".sql"))
      .sort()) {
      if (done.has(f)) continue;
      this.db.transaction(() => {
        this.db.exec(readFileSync(join(MIGRATIONS, f), "utf8"));
        this.db.prepare("INSERT INTO attack_migrations (name) VALUES (?)").run(f);
      })();
    }
  }

  /** Registers the campaign, or checks that a resumed one has the same configuration hash. */
  open(campaign: string, hash: string, config: unknown, resume: boolean): void {
    const row = this.db.prepare("SELECT config_hash FROM attack_campaigns WHERE name = ?").get(campaign) as
      { config_hash: string } | undefined;
    if (row && !resume)
      throw new Error(
        `campaign "${campaign}" already has records here; pass --resume to continue it, or use another "out" folder`,
      );
    if (row && row.config_hash !== hash)
      throw new Error(
        `campaign "${campaign}" was started with another configuration (hash ${row.config_hash.slice(0, 12)}, now ${hash.slice(0, 12)}); --resume refuses a changed campaign: restore the file or start a new "out" folder`,
      );
    if (!row)
      this.db
        .prepare("INSERT INTO attack_campaigns (name, config_hash, config, created_at) VALUES (?, ?, ?, ?)")
        .run(campaign, hash, JSON.stringify(config), new Date().toISOString());
  }

  doneKeys(campaign: string): Set<string> {
    return new Set(
      this.db
        .prepare("SELECT cell_key FROM attack_results WHERE campaign = ?")
        .pluck()
        .all(campaign) as string[],
    );
  }

  write(row: ResultRow): void {
    this.insert.run(...resultValues(row));
  }

  rows(campaign: string): ResultRow[] {
    return this.db
      .prepare("SELECT *, repetition AS repeat FROM attack_results WHERE campaign = ? ORDER BY id")
      .all(campaign) as ResultRow[];
  }

  close() {
    this.db.close();
  }
}
