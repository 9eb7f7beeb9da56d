-- minutebill schema, version 2 (SQLite): fewer b-tree pages written per settled call.
-- Applied after version 1, on new and existing files alike: rows are copied, none changes.

-- Usage records keyed by time within the account: a settled call is appended where the
-- account's newest calls are (one hot page), and a history page is one range scan of the
-- table itself. The unique (account_id, call_id) index keeps a call id settled once: it
-- replaces the time index of version 1, so a call still writes two b-trees.
CREATE TABLE usage_records_v2 (
    account_id       TEXT    NOT NULL,
    call_id          TEXT    NOT NULL,
    settled_micros   INTEGER NOT NULL,
    local_day        TEXT    NOT NULL,
    billable_seconds INTEGER NOT NULL,
    overage_seconds  INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    PRIMARY KEY (account_id, settled_micros, call_id)
) WITHOUT ROWID;

INSERT INTO usage_records_v2 (account_id, call_id, settled_micros, local_day, billable_seconds,
    overage_seconds, state)
SELECT account_id, call_id, settled_micros, local_day, billable_seconds, overage_seconds, state
FROM usage_records;

DROP TABLE usage_records;

ALTER TABLE usage_records_v2 RENAME TO usage_records;

CREATE UNIQUE INDEX usage_records_by_call ON usage_records (account_id, call_id);

-- The outbox without AUTOINCREMENT, which updated sqlite_sequence (one more page) at every
-- commit. A new row's position is one more than the largest stored: positions still only
-- grow, in commit order (writers are serialised by BEGIN IMMEDIATE), as long as the newest
-- row is never deleted. minutebill never deletes outbox rows, and a host that prunes them must
-- keep the newest one, or positions would be handed out again.
CREATE TABLE outbox_v2 (
    position        INTEGER PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    occurred_micros INTEGER NOT NULL,
    payload         TEXT    NOT NULL
);

INSERT INTO outbox_v2 (position, account_id, name, occurred_micros, payload)
SELECT position, account_id, name, occurred_micros, payload FROM outbox;

DROP TABLE outbox;

ALTER TABLE outbox_v2 RENAME TO outbox;
