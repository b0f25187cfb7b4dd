#include "store/sqlite/migrations.hpp"

namespace tocsin::store::sqlite {

// Tables:
//   mattermost_settings  the one notification tool (single row, id = 1)                v1
//   api_tokens           API tokens by hash                                            v1
//   audit_log            who changed what, append-only                                 v1
//   projects             projects by unique name (the name is the key children use)    v2
//   project_links        a project's Mattermost link: enabled, routes and thresholds   v2
//                        as JSON (always read and written whole)
//   findings             per project, unique (project, fingerprint)                    v2
//   open_finding_counts  open findings per (project, severity), kept by triggers on    v2
//                        findings so CountOpen is O(1) instead of a scan per event
//   events               accepted events, unique (project, key) for idempotency keys   v2
//   deliveries           the outbox: one row per event per channel, with state,        v2
//                        attempts, next_attempt_at, in-doubt marker, post id; v4: in
//                        doubt is 'pending' + in_doubt_since, a partial state index
//   delivery_attempts    per-attempt outcome history (a "sent" is read off the          v2
//                        delivery row: v4 stopped writing one)
//   channel_leases       which instance serves a channel until when; v5: since when    v2
//                        the row has stood (a lease never released marks a channel
//                        whose head may have been posted: docs/decisions/0004)
//   thread_roots         first post per (project, finding, channel) for thread replies v2
//   meta                 key/value facts about the database (installation_id)          v2
// Timestamps are INTEGER unix milliseconds. Enums are stored by their domain::Name (TEXT with a
// CHECK), except severities: INTEGER 0 (info) .. 4 (critical), the domain's numeric order, so
// "at or above" is a range. Booleans are INTEGER 0/1 with CHECKs; JSON is TEXT. Every row that
// belongs to a project references projects(name) ON DELETE CASCADE, and every such foreign key
// has an index that starts with it (a cascade must not scan the child table once per parent).
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
      {2, "projects, findings, events, delivery outbox", R"sql(
CREATE TABLE projects (
  name         TEXT    PRIMARY KEY,
  display_name TEXT    NOT NULL DEFAULT '',
  url          TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL
);

CREATE TABLE project_links (
  project         TEXT    PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
  enabled         INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
  routes_json     TEXT    NOT NULL DEFAULT '[]',
  thresholds_json TEXT    NOT NULL DEFAULT '[]'
);

CREATE TABLE findings (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  project     TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  fingerprint TEXT    NOT NULL,
  title       TEXT    NOT NULL DEFAULT '',
  severity    INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 4),
  status      TEXT    NOT NULL
              CHECK (status IN ('open', 'resolved', 'false_positive', 'accepted_risk')),
  scanner     TEXT    NOT NULL DEFAULT '',
  rule_id     TEXT    NOT NULL DEFAULT '',
  cwe         TEXT    NOT NULL DEFAULT '',
  cve         TEXT    NOT NULL DEFAULT '',
  cvss        REAL,
  path        TEXT    NOT NULL DEFAULT '',
  line        INTEGER NOT NULL DEFAULT 0,
  component   TEXT    NOT NULL DEFAULT '',
  description TEXT    NOT NULL DEFAULT '',
  link        TEXT    NOT NULL DEFAULT '',
  branch      TEXT    NOT NULL DEFAULT '',
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  UNIQUE (project, fingerprint)
);
CREATE INDEX findings_by_status ON findings (project, status, severity);

CREATE TABLE open_finding_counts (
  project  TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  severity INTEGER NOT NULL,
  open     INTEGER NOT NULL,
  PRIMARY KEY (project, severity)
) WITHOUT ROWID;

CREATE TRIGGER findings_count_insert AFTER INSERT ON findings
WHEN NEW.status = 'open'
BEGIN
  INSERT INTO open_finding_counts (project, severity, open) VALUES (NEW.project, NEW.severity, 1)
  ON CONFLICT (project, severity) DO UPDATE SET open = open + 1;
END;

CREATE TRIGGER findings_count_update AFTER UPDATE OF status, severity ON findings
WHEN (OLD.status = 'open') <> (NEW.status = 'open')
     OR (NEW.status = 'open' AND OLD.severity <> NEW.severity)
BEGIN
  UPDATE open_finding_counts SET open = open - 1
  WHERE OLD.status = 'open' AND project = OLD.project AND severity = OLD.severity;
  INSERT INTO open_finding_counts (project, severity, open)
  SELECT NEW.project, NEW.severity, 1 WHERE NEW.status = 'open'
  ON CONFLICT (project, severity) DO UPDATE SET open = open + 1;
END;

CREATE TRIGGER findings_count_delete AFTER DELETE ON findings
WHEN OLD.status = 'open'
BEGIN
  UPDATE open_finding_counts SET open = open - 1
  WHERE project = OLD.project AND severity = OLD.severity;
END;

-- NULL keys never collide (SQL NULLs are distinct), so UNIQUE (project, key) is exactly
-- "unique when set"; its index also serves the foreign key on project.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  project     TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  key         TEXT,
  type        TEXT    NOT NULL,
  occurred_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  body_json   TEXT    NOT NULL,
  UNIQUE (project, key)
);

-- event_seq has no foreign key: it is NULL for test messages, and events only go away with
-- their project, which takes its deliveries along (an FK would need one more index per row).
CREATE TABLE deliveries (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  project          TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  channel          TEXT    NOT NULL,
  kind             TEXT    NOT NULL DEFAULT 'event',
  event_seq        INTEGER,
  event_type       TEXT    NOT NULL,
  thread_key       TEXT    NOT NULL DEFAULT '',
  severity         INTEGER CHECK (severity BETWEEN 0 AND 4),
  digest_threshold INTEGER NOT NULL DEFAULT 10,
  baseline_full    INTEGER NOT NULL DEFAULT 0 CHECK (baseline_full IN (0, 1)),
  state            TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  next_attempt_at  INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  last_error       TEXT    NOT NULL DEFAULT '',
  last_error_code  TEXT    NOT NULL DEFAULT '',
  post_id          TEXT    NOT NULL DEFAULT '',
  channel_id       TEXT    NOT NULL DEFAULT '',
  digest_id        INTEGER NOT NULL DEFAULT 0,
  in_doubt_since   INTEGER
);
-- The queues: only undelivered rows, per channel in order. Finding a channel's head, listing
-- the channels that have work, and reading a queue are each a seek in this small index.
CREATE INDEX deliveries_queue ON deliveries (channel, id) WHERE state IN ('pending', 'sending');
-- Counts by state, and the log filtered by state, newest first.
CREATE INDEX deliveries_by_state ON deliveries (state, id);
-- The log filtered by project, and the cascade from projects.
CREATE INDEX deliveries_by_project ON deliveries (project, id);

CREATE TABLE delivery_attempts (
  id          INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  at          INTEGER NOT NULL,
  code        TEXT    NOT NULL,
  error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);

-- A channel reference is not per project (two projects may route to one channel), so leases
-- are not either.
CREATE TABLE channel_leases (
  channel     TEXT    PRIMARY KEY,
  owner       TEXT    NOT NULL,
  lease_until INTEGER NOT NULL
);

CREATE TABLE thread_roots (
  project    TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  thread_key TEXT NOT NULL,
  channel    TEXT NOT NULL,
  post_id    TEXT NOT NULL,
  PRIMARY KEY (project, thread_key, channel)
) WITHOUT ROWID;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
      {3, "scans", R"sql(
CREATE TABLE scans (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  project      TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  scanner      TEXT    NOT NULL,
  branch       TEXT    NOT NULL,
  succeeded    INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
  complete     INTEGER NOT NULL CHECK (complete IN (0, 1)),
  baseline     INTEGER NOT NULL CHECK (baseline IN (0, 1)),
  received_at  INTEGER NOT NULL,
  summary_json TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX scans_by_stream ON scans (project, scanner, branch);
-- The lifecycle diff reads a project/scanner/branch's findings at every scan.
CREATE INDEX findings_by_stream ON findings (project, scanner, branch);
)sql"},
      {4, "lighter delivery records", R"sql(
-- In doubt is 'pending' with in_doubt_since set (read as 'sending'), so marking a delivery in
-- doubt before each send writes its row only.
UPDATE deliveries SET state = 'pending' WHERE state = 'sending';
-- Most deliveries end 'sent' and are listed by rowid; the index keeps the others, so a sent
-- post takes its row out of one index instead of moving it inside a bigger one.
DROP INDEX deliveries_by_state;
CREATE INDEX deliveries_unsent ON deliveries (state, id) WHERE state <> 'sent';
)sql"},
      {5, "lease start", R"sql(
-- When the lease row was taken (it lives until a release): a claim that finds a row left
-- behind reconciles the channel's head against posts made since then (docs/decisions/0004).
-- Rows from before this migration get 0: unknown, so the head's own creation time bounds it.
ALTER TABLE channel_leases ADD COLUMN held_since INTEGER NOT NULL DEFAULT 0;
)sql"},
      {6, "digest replies owed", R"sql(
-- A digest's thread replies are a delivery of their own (kind 'replies', digest_id = the
-- digest's head), added with the root's record: how far they got, and the size they were
-- rendered for, so a later try goes on with the same split.
ALTER TABLE deliveries ADD COLUMN replies_posted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN replies_runes INTEGER NOT NULL DEFAULT 0;
-- A digest's deliveries (what its replies list) and its replies delivery, by the digest.
CREATE INDEX deliveries_by_digest ON deliveries (digest_id) WHERE digest_id <> 0;
)sql"},
  };
  return kMigrations;
}

}  // namespace tocsin::store::sqlite
