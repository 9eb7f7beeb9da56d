-- minutebill schema, version 2 (PostgreSQL): text keys compare by code point.
--
-- Version 1 left its text columns on the database's default collation, so on a database made
-- with, say, en_US.UTF-8 or ICU en-US (what initdb usually picks) usage history, due work and
-- the other ordered reads came back in language order ('call-a' < 'call-B' < 'Call-c'), not
-- in the code point order of MemoryStore and SqliteStore ('Call-c' < 'call-B' < 'call-a'),
-- and the keyset cursors compared in that order too. "C" compares the UTF-8 bytes, which is
-- code point order, on every server whatever its locale; it is also the cheapest comparison.
--
-- The columns keep their type and their values, so no table is rewritten; every index on
-- them is rebuilt (the primary keys included) under an ACCESS EXCLUSIVE lock of its table.
ALTER TABLE minutebill_documents
    ALTER COLUMN account_id TYPE text COLLATE "C",
    ALTER COLUMN kind       TYPE text COLLATE "C",
    ALTER COLUMN key        TYPE text COLLATE "C",
    ALTER COLUMN reference  TYPE text COLLATE "C";

ALTER TABLE minutebill_usage_records
    ALTER COLUMN account_id TYPE text COLLATE "C",
    ALTER COLUMN call_id    TYPE text COLLATE "C";

ALTER TABLE minutebill_usage_daily
    ALTER COLUMN account_id TYPE text COLLATE "C",
    ALTER COLUMN tag        TYPE text COLLATE "C";

ALTER TABLE minutebill_idempotency
    ALTER COLUMN account_id TYPE text COLLATE "C",
    ALTER COLUMN key        TYPE text COLLATE "C";

ALTER TABLE minutebill_outbox
    ALTER COLUMN account_id TYPE text COLLATE "C";
