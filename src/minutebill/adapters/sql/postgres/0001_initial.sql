-- minutebill schema, version 1 (PostgreSQL). Every table's key starts with account_id, so the
-- tables can be distributed by account (e.g. with Citus) when one server is not enough; the
-- one global key is the payment reference (a payment is found by the gateway's webhook before
-- its account is known), see docs/explanation/scaling-out.md.

-- Aggregates as JSON documents. Updated on nearly every use case: a fill factor below 100
-- leaves room on each page for HOT updates, which touch no index.
CREATE TABLE minutebill_documents (
    account_id  text    NOT NULL,
    kind        text    NOT NULL,
    key         text    NOT NULL,
    version     integer NOT NULL,
    due_micros  bigint,
    reference   text,
    state       text    NOT NULL,
    PRIMARY KEY (account_id, kind, key)
) WITH (fillfactor = 80);

-- The due-work walk reads (kind, due_micros, account_id, key) in order, from a cursor.
CREATE INDEX minutebill_documents_due
    ON minutebill_documents (kind, due_micros, account_id, key)
    WHERE due_micros IS NOT NULL;
CREATE UNIQUE INDEX minutebill_documents_reference ON minutebill_documents (kind, reference)
    WHERE reference IS NOT NULL;

-- One row per settled call: the primary key makes every call id exactly-once per account.
CREATE TABLE minutebill_usage_records (
    account_id       text    NOT NULL,
    call_id          text    NOT NULL,
    settled_micros   bigint  NOT NULL,
    local_day        date    NOT NULL,
    billable_seconds bigint  NOT NULL,
    overage_seconds  bigint  NOT NULL,
    state            text    NOT NULL,
    PRIMARY KEY (account_id, call_id)
);

CREATE INDEX minutebill_usage_records_by_time
    ON minutebill_usage_records (account_id, settled_micros DESC, call_id DESC);

-- Per-day totals (tag '' is every call), kept up to date by an upsert at each settlement.
CREATE TABLE minutebill_usage_daily (
    account_id       text   NOT NULL,
    tag              text   NOT NULL,
    day              date   NOT NULL,
    calls            bigint NOT NULL,
    billable_seconds bigint NOT NULL,
    overage_seconds  bigint NOT NULL,
    PRIMARY KEY (account_id, tag, day)
) WITH (fillfactor = 80);

CREATE TABLE minutebill_idempotency (
    account_id  text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    response    text NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- The transactional outbox. A sequence numbers the rows when they are inserted, so a rolled
-- back commit leaves a gap, and of two concurrent commits the one with the smaller positions
-- may become visible second: a reader that must see everything re-reads a little behind.
CREATE TABLE minutebill_outbox (
    position        bigserial,
    account_id      text   NOT NULL,
    name            text   NOT NULL,
    occurred_micros bigint NOT NULL,
    payload         text   NOT NULL,
    PRIMARY KEY (account_id, position)
);

CREATE INDEX minutebill_outbox_position ON minutebill_outbox (position);

-- Raised by a conditional UPDATE that found no row at the expected version.
CREATE FUNCTION minutebill_stale_version(what text) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'minutebill: stale version of %', what USING ERRCODE = '40001';
END
$$;
