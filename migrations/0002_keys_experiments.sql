-- API keys, stored as sha256 hex of the key; the key itself is shown once when created.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,             -- the first characters of the key, to recognise it in a list
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

-- Experiments set through the admin route; they take precedence over the EXPERIMENTS variable.
CREATE TABLE experiments (
  name TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  arms TEXT NOT NULL,               -- JSON object variant -> weight
  updated_at TEXT NOT NULL
);
