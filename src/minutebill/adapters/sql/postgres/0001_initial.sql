-- minutebill schema, version 1 (PostgreSQL). Every table's key starts with account_id, so the
-- tables can be distributed by account (e.g. with Citus) when one server is not enough.

CREATE TABLE minutebill_documents (
    account_id  text    NOT NULL,
    kind        text    NOT NULL,
    key         text    NOT NULL,
    version     integer NOT NULL,
    due_micros  bigint,
    reference   text,
    state       text    NOT NULL,
    PRIMARY KEY (account_id, kind, key)
);

CREATE INDEX minutebill_documents_due ON minutebill_documents (kind, due_micros)
    WHERE due_micros IS NOT NULL;
CREATE UNIQUE INDEX minutebill_documents_reference ON minutebill_documents (kind, reference)
    WHERE reference IS NOT NULL;

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

CREATE TABLE minutebill_usage_daily (
    account_id       text   NOT NULL,
    tag              text   NOT NULL,
    day              date   NOT NULL,
    calls            bigint NOT NULL,
    billable_seconds bigint NOT NULL,
    overage_seconds  bigint NOT NULL,
    PRIMARY KEY (account_id, tag, day)
);

CREATE TABLE minutebill_idempotency (
    account_id  text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    response    text NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE minutebill_outbox (
    position        bigserial PRIMARY KEY,
    account_id      text   NOT NULL,
    name            text   NOT NULL,
    occurred_micros bigint NOT NULL,
    payload         text   NOT NULL
);

-- Raised by a conditional UPDATE that found no row at the expected version.
CREATE FUNCTION minutebill_stale_version(what text) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'minutebill: stale version of %', what USING ERRCODE = '40001';
END
$$;
