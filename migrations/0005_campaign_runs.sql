-- Campaigns at the edge (src/campaigns/): the gateway runs attack campaigns on Cloudflare Queues, one
-- message per cell, and writes the same attack_results rows as the CLI (the unique (campaign, cell_key)
-- index makes a redelivered message write nothing). A run's id is its rows' `campaign` value.

-- One row per run. total is fixed when the run starts; done and errors are recounted from attack_results
-- after every write (never incremented, so a redelivered message cannot count twice).
CREATE TABLE campaign_runs (
  id TEXT PRIMARY KEY,               -- "<campaign>@<start time>", also attack_results.campaign
  campaign TEXT NOT NULL,            -- the campaign's own name
  model TEXT NOT NULL,               -- the gateway's model name it ran on (MODEL)
  config TEXT NOT NULL,              -- the validated campaign as JSON
  total INTEGER NOT NULL,            -- cells enqueued
  done INTEGER NOT NULL DEFAULT 0,   -- rows written (error rows included)
  errors INTEGER NOT NULL DEFAULT 0, -- rows with an error
  status TEXT NOT NULL,              -- "running" or "done"
  published INTEGER NOT NULL DEFAULT 0, -- 1: the demo tier and plain keys may read its report
  started_by TEXT NOT NULL,          -- "admin" or "cron"
  previous TEXT,                     -- the run it is compared with (the campaign's last finished run)
  regressions TEXT,                  -- JSON list of significant regressions against `previous`, once done
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX campaign_runs_campaign ON campaign_runs (campaign, started_at);

-- Stored campaigns: started by name (POST /admin/campaigns {"name"}), and by the cron trigger when `cron`
-- names one of wrangler.toml's [triggers] crons. `keep` runs of it are kept (older rows are deleted).
CREATE TABLE campaign_files (
  name TEXT PRIMARY KEY,
  config TEXT NOT NULL,              -- the validated campaign as JSON
  cron TEXT,                         -- e.g. "0 3 * * *"; NULL: started by hand only
  keep INTEGER NOT NULL DEFAULT 5,   -- runs kept per campaign (the oldest are deleted with their rows)
  publish INTEGER NOT NULL DEFAULT 1, -- its cron runs are published when done
  updated_at TEXT NOT NULL
);
