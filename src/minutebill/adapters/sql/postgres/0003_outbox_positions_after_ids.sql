-- minutebill schema, version 3 (PostgreSQL): an outbox reader never skips an event.
--
-- Positions come from a sequence when an event is inserted, not when its transaction commits,
-- so a smaller position can become visible after a larger one. A reader therefore reads only
-- up to the settled position (see minutebill/adapters/_outbox_horizon.py): it reads the
-- sequence's last value, then the transactions in progress, and waits for those. That holds
-- only if every transaction has its id before it takes a position, which this default makes
-- sure of (a transaction gets an id at its first write, and an insert takes the position
-- before it writes the row).
CREATE FUNCTION minutebill_outbox_position(positions regclass) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM txid_current();
    RETURN nextval(positions);
END
$$;

ALTER TABLE minutebill_outbox ALTER COLUMN position
    SET DEFAULT minutebill_outbox_position('minutebill_outbox_position_seq'::regclass);
