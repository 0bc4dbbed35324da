// Campaign runs in D1: the run rows (campaign_runs), their result rows (attack_results, the CLI's schema)
// and the stored campaigns (campaign_files). A result row is written with INSERT ... ON CONFLICT DO NOTHING
// on the unique (campaign, cell_key) index, and in the same batch the run's counts are recounted from the
// rows, so a message delivered twice, or a batch retried after a crash, never counts a cell twice.
import { insertResultSql, resultValues, type ResultRow } from "../../attacks/types";

export type Run = {
  id: string;
  campaign: string;
  model: string;
  config: string;
  total: number;
  done: number;
  errors: number;
  status: "running" | "done";
  published: number;
  started_by: "admin" | "cron";
  previous: string | null;
  regressions: string | null;
  started_at: string;
  finished_at: string | null;
};

export type StoredCampaign = {
  name: string;
  config: string;
  cron: string | null;
  keep: number;
  publish: number;
  updated_at: string;
};

const INSERT_ROW = insertResultSql("ON CONFLICT (campaign, cell_key) DO NOTHING");

// The counts and the status follow from the rows alone; finished_at is set once, by the write that ends it.
const RECOUNT = `UPDATE campaign_runs SET
  done = (SELECT COUNT(*) FROM attack_results WHERE campaign = ?1),
  errors = (SELECT COUNT(*) FROM attack_results WHERE campaign = ?1 AND error IS NOT NULL),
  status = CASE WHEN (SELECT COUNT(*) FROM attack_results WHERE campaign = ?1) >= total THEN 'done' ELSE 'running' END,
  finished_at = CASE WHEN finished_at IS NULL AND (SELECT COUNT(*) FROM attack_results WHERE campaign = ?1) >= total
    THEN ?2 ELSE finished_at END
  WHERE id = ?1`;

export async function createRun(db: D1Database, run: Run, configHash: string): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO campaign_runs (id, campaign, model, config, total, done, errors, status, published,
          started_by, previous, regressions, started_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .bind(
        run.id,
        run.campaign,
        run.model,
        run.config,
        run.total,
        run.done,
        run.errors,
        run.status,
        run.published,
        run.started_by,
        run.previous,
        run.regressions,
        run.started_at,
        run.finished_at,
      ),
    // The CLI's registry of campaigns (same schema): the run under its id, with the configuration's hash.
    db
      .prepare("INSERT INTO attack_campaigns (name, config_hash, config, created_at) VALUES (?, ?, ?, ?)")
      .bind(run.id, configHash, run.config, run.started_at),
  ]);
}

/** Writes the row unless its cell has one already, then recounts the run. Returns the run as it now is. */
export async function writeRow(db: D1Database, r: ResultRow): Promise<Run | null> {
  const [, , run] = await db.batch([
    db.prepare(INSERT_ROW).bind(...resultValues(r)),
    db.prepare(RECOUNT).bind(r.campaign, new Date().toISOString()),
    db.prepare("SELECT * FROM campaign_runs WHERE id = ?").bind(r.campaign),
  ]);
  return (run.results[0] as Run | undefined) ?? null;
}

export async function getRun(db: D1Database, id: string): Promise<Run | null> {
  return db.prepare("SELECT * FROM campaign_runs WHERE id = ?").bind(id).first<Run>();
}

export async function listRuns(
  db: D1Database,
  q: { campaign?: string; publishedOnly?: boolean; model?: string; limit: number },
): Promise<Run[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.campaign) (where.push("campaign = ?"), args.push(q.campaign));
  if (q.model) (where.push("model = ?"), args.push(q.model));
  if (q.publishedOnly) where.push("published = 1 AND status = 'done'");
  const sql = `SELECT * FROM campaign_runs ${where.length ? "WHERE " + where.join(" AND ") : ""}
    ORDER BY started_at DESC, id DESC LIMIT ?`;
  return (
    await db
      .prepare(sql)
      .bind(...args, q.limit)
      .all<Run>()
  ).results;
}

/** The campaign's last finished run before `startedAt`: what a new run is compared with. */
export async function previousRun(
  db: D1Database,
  campaign: string,
  startedAt: string,
): Promise<string | null> {
  const row = await db
    .prepare(
      "SELECT id FROM campaign_runs WHERE campaign = ? AND status = 'done' AND started_at < ? ORDER BY started_at DESC LIMIT 1",
    )
    .bind(campaign, startedAt)
    .first<{ id: string }>();
  return row?.id ?? null;
}

export async function allRows(db: D1Database, run: string): Promise<ResultRow[]> {
  return (
    await db
      .prepare("SELECT *, repetition AS repeat FROM attack_results WHERE campaign = ? ORDER BY id")
      .bind(run)
      .all<ResultRow>()
  ).results;
}

/** One page of a run's rows in write order; `after` is the last id of the previous page. */
export async function rowPage(
  db: D1Database,
  run: string,
  after: number,
  limit: number,
): Promise<(ResultRow & { id: number })[]> {
  return (
    await db
      .prepare(
        "SELECT *, repetition AS repeat FROM attack_results WHERE campaign = ? AND id > ? ORDER BY id LIMIT ?",
      )
      .bind(run, after, limit)
      .all<ResultRow & { id: number }>()
  ).results;
}

export async function setRegressions(db: D1Database, run: string, json: string): Promise<void> {
  await db
    .prepare("UPDATE campaign_runs SET regressions = ? WHERE id = ? AND regressions IS NULL")
    .bind(json, run)
    .run();
}

export async function setPublished(db: D1Database, run: string, published: boolean): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE campaign_runs SET published = ? WHERE id = ?")
    .bind(published ? 1 : 0, run)
    .run();
  return meta.changes > 0;
}

/** A run, its rows and its registry entry, in one transaction. */
export async function deleteRun(db: D1Database, id: string): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM attack_results WHERE campaign = ?").bind(id),
    db.prepare("DELETE FROM attack_campaigns WHERE name = ?").bind(id),
    db.prepare("DELETE FROM campaign_runs WHERE id = ?").bind(id),
  ]);
}

/** Deletes the campaign's finished runs beyond the newest `keep`, with their rows. Returns their ids. */
export async function prune(db: D1Database, campaign: string, keep: number): Promise<string[]> {
  const old = (
    await db
      .prepare(
        "SELECT id FROM campaign_runs WHERE campaign = ? AND status = 'done' ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?",
      )
      .bind(campaign, keep)
      .all<{ id: string }>()
  ).results.map((r) => r.id);
  for (const id of old) await deleteRun(db, id);
  return old;
}

export async function storedCampaign(db: D1Database, name: string): Promise<StoredCampaign | null> {
  return db.prepare("SELECT * FROM campaign_files WHERE name = ?").bind(name).first<StoredCampaign>();
}

export async function storedCampaigns(db: D1Database, cron?: string): Promise<StoredCampaign[]> {
  const q =
    cron === undefined
      ? db.prepare("SELECT * FROM campaign_files ORDER BY name")
      : db.prepare("SELECT * FROM campaign_files WHERE cron = ? ORDER BY name").bind(cron);
  return (await q.all<StoredCampaign>()).results;
}

export async function putStored(db: D1Database, s: StoredCampaign): Promise<void> {
  await db
    .prepare(
      `INSERT INTO campaign_files (name, config, cron, keep, publish, updated_at) VALUES (?,?,?,?,?,?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config, cron = excluded.cron, keep = excluded.keep,
         publish = excluded.publish, updated_at = excluded.updated_at`,
    )
    .bind(s.name, s.config, s.cron, s.keep, s.publish, s.updated_at)
    .run();
}

export async function deleteStored(db: D1Database, name: string): Promise<boolean> {
  const { meta } = await db.prepare("DELETE FROM campaign_files WHERE name = ?").bind(name).run();
  return meta.changes > 0;
}
