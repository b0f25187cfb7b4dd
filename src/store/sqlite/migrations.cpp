#include "store/sqlite/migrations.hpp"

namespace tocsin::store::sqlite {

// Table plan (later migrations add the pipeline; names are reserved here so they stay coherent):
//   mattermost_settings  the one notification tool (single row, id = 1)        v1
//   api_tokens           API tokens by hash                                    v1
//   audit_log            who changed what, append-only                         v1
//   projects             projects by unique name                               planned
//   project_links        a project's Mattermost link (enabled, routes, thresholds as JSON)
//   scans                one row per ingested scan (project, scanner, branch)
//   findings             per project, unique (project_id, fingerprint)
//   events               accepted events, unique (project_id, idempotency key)
//   deliveries           the outbox: one row per event (or digest) per channel, with state,
//                        attempts, next_attempt_at, lease, post id
//   delivery_attempts    per-attempt error history
//   channel_posts        first post per (channel, finding) for thread replies
// Timestamps are INTEGER unix milliseconds; ids are TEXT (core::NewId) except autoincrement logs.
// Booleans are INTEGER 0/1 with CHECKs; JSON is TEXT.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "settings, api tokens, audit log", R"sql(
CREATE TABLE mattermost_settings (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  url            TEXT    NOT NULL DEFAULT '',
  token_sealed   TEXT    NOT NULL DEFAULT '',
  token_hint     TEXT    NOT NULL DEFAULT '',
  insecure       INTEGER NOT NULL DEFAULT 0 CHECK (insecure IN (0, 1)),
  ca_file        TEXT    NOT NULL DEFAULT '',
  active         INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
  status         TEXT    NOT NULL DEFAULT 'unknown',
  last_test_json TEXT    NOT NULL DEFAULT '',
  updated_at     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
  id         TEXT    PRIMARY KEY,
  name       TEXT    NOT NULL,
  role       TEXT    NOT NULL,
  hash       TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  action      TEXT    NOT NULL,
  target      TEXT    NOT NULL,
  detail_json TEXT    NOT NULL DEFAULT '{}'
);
)sql"},
  };
  return kMigrations;
}

}  // namespace tocsin::store::sqlite
