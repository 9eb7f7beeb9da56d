-- minutebill schema, version 1 (SQLite). Every table is keyed by account_id first.

-- Aggregates as JSON documents with a version for optimistic concurrency.
CREATE TABLE documents (
    kind        TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    due_micros  INTEGER,
    reference   TEXT,
    state       TEXT    NOT NULL,
    PRIMARY KEY (kind, account_id, key)
) WITHOUT ROWID;

CREATE INDEX documents_due ON documents (kind, due_micros) WHERE due_micros IS NOT NULL;
CREATE UNIQUE INDEX documents_reference ON documents (kind, reference) WHERE reference IS NOT NULL;

-- One row per settled call: the call id is settled exactly once.
CREATE TABLE usage_records (
    account_id       TEXT    NOT NULL,
    call_id          TEXT    NOT NULL,
    settled_micros   INTEGER NOT NULL,
    local_day        TEXT    NOT NULL,
    billable_seconds INTEGER NOT NULL,
    overage_seconds  INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    PRIMARY KEY (account_id, call_id)
) WITHOUT ROWID;

CREATE INDEX usage_records_by_time ON usage_records (account_id, settled_micros, call_id);

-- Totals per local day, overall (tag '') and per tag, kept current on insert so that a
-- summary reads a few rows whatever the history's length.
CREATE TABLE usage_daily (
    account_id       TEXT    NOT NULL,
    day              TEXT    NOT NULL,
    tag              TEXT    NOT NULL,
    calls            INTEGER NOT NULL,
    billable_seconds INTEGER NOT NULL,
    overage_seconds  INTEGER NOT NULL,
    PRIMARY KEY (account_id, tag, day)
) WITHOUT ROWID;

-- First answers of money-moving requests, by idempotency key.
CREATE TABLE idempotency (
    account_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;

-- Transactional outbox: events committed with the state they describe.
CREATE TABLE outbox (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    occurred_micros INTEGER NOT NULL,
    payload         TEXT    NOT NULL
);
