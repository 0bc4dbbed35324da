-- Attack results as the attack module (attacks/) writes them, locally in SQLite and at the edge in D1: one
-- append-only row per campaign cell (variant, attack with parameters, item, seed, repetition). cell_key makes
-- a cell exactly-once: a resumed run skips the keys already written. raw keeps what the model returned, so
-- rows can be re-judged; judge names the judge and its version; error is set (and score NULL) on failure.
ALTER TABLE attack_results ADD COLUMN cell_key TEXT;
ALTER TABLE attack_results ADD COLUMN task TEXT;
ALTER TABLE attack_results ADD COLUMN repetition INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attack_results ADD COLUMN metric TEXT;
ALTER TABLE attack_results ADD COLUMN judge TEXT;
ALTER TABLE attack_results ADD COLUMN raw TEXT;
ALTER TABLE attack_results ADD COLUMN error TEXT;
CREATE UNIQUE INDEX attack_results_cell ON attack_results (campaign, cell_key);

-- One row per campaign: the hash of its validated configuration, which --resume must match.
CREATE TABLE attack_campaigns (
  name TEXT PRIMARY KEY,
  config_hash TEXT NOT NULL,
  config TEXT NOT NULL,             -- the validated campaign as JSON (secrets left out)
  created_at TEXT NOT NULL
);
