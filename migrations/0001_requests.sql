-- One row per gateway request (DESIGN §7), written after the answer with waitUntil; failed ones too.
CREATE TABLE requests (
  id TEXT PRIMARY KEY,              -- the request id, also sent back as x-request-id
  ts TEXT NOT NULL,                 -- ISO-8601 UTC, when the request arrived
  method TEXT NOT NULL,
  route TEXT NOT NULL,              -- the path, e.g. /v1/chat/completions
  key_id TEXT,                      -- api_keys.id, or NULL for the demo tier
  tier TEXT NOT NULL,               -- "key", "demo", "admin" or "none"
  model TEXT,                       -- the model as the client sent it
  experiment TEXT,                  -- the experiment that assigned the variant, if any
  variant TEXT,                     -- the variant served (comma-separated for /v1/compare)
  status INTEGER NOT NULL,          -- HTTP status sent to the client
  error_type TEXT,                  -- error.type when status >= 400
  latency_ms REAL NOT NULL,         -- until the last byte for streams
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  target TEXT,                      -- the runner target that answered
  stream INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_ts ON requests (ts);
CREATE INDEX requests_experiment_variant ON requests (experiment, variant, ts);

-- One row per attack result (DESIGN §7); the attack module writes them, the same schema in SQLite.
CREATE TABLE attack_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  campaign TEXT NOT NULL,
  case_id TEXT NOT NULL,
  attack TEXT NOT NULL,
  variant TEXT NOT NULL,
  seed INTEGER NOT NULL,
  prompt_hash TEXT NOT NULL,       -- sha256 hex of the attacked prompt
  output TEXT,
  score REAL,                      -- the judge's score
  latency_ms REAL
);
CREATE INDEX attack_results_campaign ON attack_results (campaign, attack, variant);
