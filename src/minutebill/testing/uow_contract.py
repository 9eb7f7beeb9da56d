"""`UnitOfWorkContract`: the behaviour every store must have, as a pytest class to subclass.

An adapter author subclasses it and overrides one fixture, ``uow_factory``, returning a
callable that opens a new unit of work on a fresh, empty store::

    class TestMyStore(UnitOfWorkContract):
        @pytest.fixture
        def uow_factory(self) -> Callable[[], UnitOfWork]:
            return MyStore(...).unit_of_work

minutebill's own stores (memory, SQLite, PostgreSQL) pass it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.ledger_policy import LedgerPolicy
from minutebill.domain.money import Money
from minutebill.domain.payments import Payment
from minutebill.domain.wallet import Wallet
from minutebill.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    MinutebillError,
    NotFound,
    ValidationError,
)

__all__ = ["UnitOfWorkContract"]

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ACCOUNT = "acct-contract"
_NOT_PAGE_SIZES: tuple[Any, ...] = (0, -1, True, 2.5, "50", None)
_NOT_POSITIONS: tuple[Any, ...] = (-1, True, 1.0, "0", None)

# Text a caller may pass as a cursor that the store never returned: not digits to `int()`
# ("²" is a digit to `str.isdigit`), a number beyond a 64-bit integer or beyond any instant,
# an empty or unkeepable id, not text at all.
_NOT_CURSORS: tuple[object, ...] = (
    "page-2",
    "²:call-1",
    "--5:call-1",
    "١٢:call-1",
    " 12:call-1",
    "+12:call-1",
    "99999999999999999999:call-1",
    "-99999999999999999999:call-1",
    f"{10**18}:call-1",
    "12:",
    "12:call-\ud800",
    "12:call-\x00",
    "1" * 5000 + ":call-1",
    12,
)


def _ledger(account_id: str = ACCOUNT) -> MinuteLedger:
    ledger = MinuteLedger(account_id, LedgerPolicy())
    ledger.grant("plan:0", GrantSource.PLAN, 600 * 60, T0)
    return ledger


class UnitOfWorkContract:
    """Subclass and override the ``uow_factory`` fixture (a fresh, empty store each time)."""

    @pytest.fixture
    def uow_factory(self) -> Callable[[], UnitOfWork]:
        """Override: return a callable opening a unit of work on a new, empty store."""
        raise NotImplementedError("override the uow_factory fixture")

    def _seed(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        with uow_factory() as uow:
            uow.ledgers.add(_ledger())
            uow.commit()

    def _settle(self, uow: UnitOfWork, call_id: str, seconds: int, at: datetime) -> Any:
        ledger = uow.ledgers.get(ACCOUNT)
        record = ledger.settle(call_id, timedelta(seconds=seconds), at, tags=("campaign-a",))
        uow.usage.add(record, local_day=at.date())
        return record

    # --- aggregates -------------------------------------------------------------------------

    def test_added_aggregate_is_stored_with_version_one(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        ledger = _ledger()
        with uow_factory() as uow:
            uow.ledgers.add(ledger)
            uow.commit()
        assert ledger.version == 1
        with uow_factory() as uow:
            loaded = uow.ledgers.get(ACCOUNT)
            assert loaded.to_state() == ledger.to_state()
            assert loaded.version == 1

    def test_commit_bumps_the_version_of_a_changed_aggregate_only(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            uow.wallets.add(Wallet(ACCOUNT, "INR"))
            uow.commit()
        with uow_factory() as uow:
            uow.ledgers.get(ACCOUNT).grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
            uow.wallets.get(ACCOUNT)  # loaded, unchanged
            uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.get(ACCOUNT).version == 2
            assert uow.wallets.get(ACCOUNT).version == 1

    def test_without_commit_nothing_is_stored(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            before = uow.ledgers.get(ACCOUNT).to_state()
        with uow_factory() as uow:
            uow.ledgers.get(ACCOUNT).grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
            uow.wallets.add(Wallet(ACCOUNT, "INR"))
        with pytest.raises(RuntimeError), uow_factory() as uow:
            uow.ledgers.get(ACCOUNT).grant("promo:2", GrantSource.PROMOTIONAL, 60, T0)
            raise RuntimeError("crash before commit")
        with uow_factory() as uow:
            assert uow.ledgers.get(ACCOUNT).to_state() == before
            assert uow.wallets.find(ACCOUNT) is None

    def test_replace_saves_a_new_aggregate_over_the_loaded_one(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        fresh = MinuteLedger(ACCOUNT, LedgerPolicy())
        fresh.grant("plan:again", GrantSource.PLAN, 60, T0, expires_at=T0 + timedelta(hours=1))
        with uow_factory() as uow:
            uow.ledgers.get(ACCOUNT)
            uow.ledgers.replace(fresh)
            assert uow.ledgers.get(ACCOUNT) is fresh
            uow.commit()
        assert fresh.version == 2  # the loaded one's version, checked and bumped
        with uow_factory() as uow:
            stored = uow.ledgers.get(ACCOUNT)
            assert [g.grant_id for g in stored.grants()] == ["plan:again"]
            assert stored.version == 2
            # Its indexed columns are the new aggregate's too: its grant expires, so it is due.
            assert [x.account_id for x in uow.ledgers.due(T0 + timedelta(hours=1), 10)] == [ACCOUNT]

    def test_replace_needs_the_aggregate_loaded_and_checks_its_version(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow, pytest.raises(NotFound):
            uow.ledgers.replace(MinuteLedger(ACCOUNT, LedgerPolicy()))
        with uow_factory() as uow:
            before = uow.ledgers.get(ACCOUNT).to_state()
        with uow_factory() as uow:
            uow.ledgers.get(ACCOUNT).version -= 1  # as if another writer saved it since
            uow.ledgers.replace(MinuteLedger(ACCOUNT, LedgerPolicy()))
            with pytest.raises(ConcurrencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.get(ACCOUNT).to_state() == before

    def test_get_of_a_missing_aggregate_raises_not_found(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            assert uow.ledgers.find("nobody") is None
            with pytest.raises(NotFound):
                uow.ledgers.get("nobody")

    def test_exists_answers_for_stored_and_newly_added_aggregates(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            assert not uow.ledgers.exists(ACCOUNT)
            uow.ledgers.add(_ledger())
            assert uow.ledgers.exists(ACCOUNT)  # added in this unit of work
        with uow_factory() as uow:
            assert not uow.ledgers.exists(ACCOUNT)  # never committed
            uow.ledgers.add(_ledger())
            uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.exists(ACCOUNT)
            assert not uow.ledgers.exists("nobody")
            assert not uow.wallets.exists(ACCOUNT)  # another kind of aggregate

    def test_a_stale_version_is_refused_and_nothing_is_written(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            before = uow.ledgers.get(ACCOUNT).to_state()
        with uow_factory() as uow:
            ledger = uow.ledgers.get(ACCOUNT)
            ledger.grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
            ledger.version -= 1  # as if another writer saved it since it was loaded
            uow.wallets.add(Wallet(ACCOUNT, "INR"))
            with pytest.raises(ConcurrencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.get(ACCOUNT).to_state() == before
            assert uow.wallets.find(ACCOUNT) is None

    def test_adding_an_existing_aggregate_is_a_conflict(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            uow.ledgers.add(_ledger())
            with pytest.raises(ConcurrencyConflict):
                uow.commit()

    def test_two_new_documents_may_not_share_a_reference(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        def payment(account_id: str) -> Payment:
            return Payment.create(
                payment_id="pay-same",
                account_id=account_id,
                quote_id=f"quote-{account_id}",
                amount=Money("10.00", "INR"),
                idempotency_key=f"key-{account_id}",
                at=T0,
            )

        with uow_factory() as uow:
            uow.payments.add(payment("acct-a"))
            uow.payments.add(payment("acct-b"))
            with pytest.raises(ConcurrencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert uow.payments.by_reference("pay-same") is None

    def test_for_account_returns_the_accounts_aggregates(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            uow.wallets.add(Wallet(ACCOUNT, "INR"))
            uow.wallets.add(Wallet("someone-else", "INR"))
            uow.commit()
        with uow_factory() as uow:
            assert [w.account_id for w in uow.wallets.for_account(ACCOUNT)] == [ACCOUNT]
            assert uow.wallets.for_account("nobody") == []

    def test_due_returns_aggregates_with_work_due_earliest_first(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            for n, account in enumerate(["a", "b", "c"]):
                ledger = _ledger(account)
                ledger.reserve(f"call-{account}", 60, T0 + timedelta(minutes=n))
                uow.ledgers.add(ledger)
            uow.ledgers.add(_ledger("idle"))
            uow.commit()
        ttl = LedgerPolicy().hold_ttl
        with uow_factory() as uow:
            assert uow.ledgers.due(T0, 10) == []
            due = uow.ledgers.due(T0 + ttl + timedelta(minutes=1), 10)
            assert [ledger.account_id for ledger in due] == ["a", "b"]
            assert [x.account_id for x in uow.ledgers.due(T0 + 2 * ttl, 1)] == ["a"]

    def test_due_pages_continue_after_the_cursor(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            for n in range(5):
                ledger = _ledger(f"acct-{n}")
                ledger.reserve("call", 60, T0)  # all due at the same instant
                uow.ledgers.add(ledger)
            uow.commit()
        later = T0 + 2 * LedgerPolicy().hold_ttl
        seen: list[str] = []
        cursor = None
        with uow_factory() as uow:
            while page := uow.ledgers.due_page(later, 2, after=cursor):
                seen.extend(ledger.account_id for ledger, _ in page)
                cursor = page[-1][1]
        assert seen == [f"acct-{n}" for n in range(5)]

    # --- usage ------------------------------------------------------------------------------

    def test_a_call_is_stored_once(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            record = self._settle(uow, "call-1", 61, T0)
            uow.commit()
        with uow_factory() as uow:
            assert uow.usage.get(ACCOUNT, "call-1") == record
            assert uow.usage.get(ACCOUNT, "call-2") is None
            before = uow.ledgers.get(ACCOUNT).to_state()
        with uow_factory() as uow:
            ledger = uow.ledgers.get(ACCOUNT)
            ledger.grant("promo:9", GrantSource.PROMOTIONAL, 60, T0)
            uow.usage.add(record, local_day=T0.date())
            with pytest.raises(IdempotencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.get(ACCOUNT).to_state() == before

    def test_usage_pages_newest_first_without_gaps_or_repeats(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            for n in range(7):
                # Two calls share each instant: the cursor must break the tie.
                self._settle(uow, f"call-{n}", 30, T0 + timedelta(minutes=n // 2))
            uow.commit()
        seen: list[str] = []
        cursor = None
        with uow_factory() as uow:
            while True:
                page = uow.usage.page(ACCOUNT, cursor=cursor, limit=3)
                seen.extend(r.call_id for r in page.records)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        assert sorted(seen) == [f"call-{n}" for n in range(7)]
        assert len(seen) == len(set(seen))
        assert seen[0] == "call-6"

    def test_a_usage_cursor_the_store_never_returned_is_refused(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            for n in range(3):
                self._settle(uow, f"call-{n}", 30, T0 + timedelta(minutes=n))
            uow.commit()
        with uow_factory() as uow:
            for cursor in _NOT_CURSORS:
                with pytest.raises(ValidationError) as refused:
                    uow.usage.page(ACCOUNT, cursor=cursor, limit=2)  # type: ignore[arg-type]
                assert refused.value.field == "cursor", cursor
            # The unit of work is still usable, and a real cursor still pages on.
            page = uow.usage.page(ACCOUNT, limit=2)
            assert page.next_cursor is not None
            rest = uow.usage.page(ACCOUNT, cursor=page.next_cursor, limit=2)
            assert [r.call_id for r in rest.records] == ["call-0"]

    def test_a_due_cursor_the_store_never_returned_is_refused(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            ledger = _ledger()
            ledger.reserve("call", 60, T0)
            uow.ledgers.add(ledger)
            uow.commit()
        later = T0 + 2 * LedgerPolicy().hold_ttl
        with uow_factory() as uow:
            ((_, cursor),) = uow.ledgers.due_page(later, 10)
            for after in (*_NOT_CURSORS, cursor[:-1], "12:3:ab:", "12:999:a:", "12:-1:a:"):
                with pytest.raises(ValidationError) as refused:
                    uow.ledgers.due_page(later, 10, after=after)  # type: ignore[arg-type]
                assert refused.value.field == "after", after
            assert uow.ledgers.due_page(later, 10, after=cursor) == []

    def test_due_pages_continue_past_ids_with_colons(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        accounts = ["a", "a:b", "a:b:", "a:c", "b"]
        with uow_factory() as uow:
            for account_id in accounts:
                ledger = _ledger(account_id)
                ledger.reserve("call", 60, T0)  # all due at the same instant
                uow.ledgers.add(ledger)
            uow.commit()
        later = T0 + 2 * LedgerPolicy().hold_ttl
        seen: list[str] = []
        cursor = None
        with uow_factory() as uow:
            while (page := uow.ledgers.due_page(later, 1, after=cursor)) and len(seen) < 10:
                seen.extend(ledger.account_id for ledger, _ in page)
                cursor = page[-1][1]
        assert seen == accounts

    def test_ids_are_ordered_by_code_point(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        # Python's str order (SQLite's BINARY, PostgreSQL's "C"), never a language's, which
        # would put "call-a" before "call-B" before "Call-c": the same calls page alike on
        # every store, and a cursor continues where the store's own order left off.
        ids = ["call-a", "call-B", "Call-c", "call_d", "ça-e"]
        self._seed(uow_factory)
        with uow_factory() as uow:
            for account_or_call in ids:  # all at the same instant: only the id orders them
                self._settle(uow, account_or_call, 30, T0)
                ledger = _ledger(account_or_call)
                ledger.reserve("call", 60, T0)
                uow.ledgers.add(ledger)
            uow.commit()
        later = T0 + 2 * LedgerPolicy().hold_ttl
        calls: list[str] = []
        due: list[str] = []
        cursor = after = None
        with uow_factory() as uow:
            while True:
                page = uow.usage.page(ACCOUNT, cursor=cursor, limit=2)
                calls.extend(r.call_id for r in page.records)
                if (cursor := page.next_cursor) is None:
                    break
            while due_page := uow.ledgers.due_page(later, 2, after=after):
                due.extend(ledger.account_id for ledger, _ in due_page)
                after = due_page[-1][1]
        assert calls == sorted(ids, reverse=True)  # newest first, then the larger id
        assert due == sorted(ids)

    def test_usage_totals_refuse_a_datetime_or_a_tag_that_is_not_one(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        # A datetime is a date whose text sorts after its day's, so its day would be left
        # out; the totals of all calls are kept under the tag "", which is no tag to ask for.
        day = T0.date()
        with uow_factory() as uow:
            for since, until in [(T0, day), (day, T0), ("2026-01-01", day), (day, None)]:
                with pytest.raises(ValidationError):
                    uow.usage.daily(ACCOUNT, since, until)  # type: ignore[arg-type]
                with pytest.raises(ValidationError):
                    uow.usage.by_tag(ACCOUNT, since, until)  # type: ignore[arg-type]
            for tag in ("", " ", 5, "t\x00"):
                with pytest.raises(ValidationError) as refused:
                    uow.usage.daily(ACCOUNT, day, day, tag=tag)  # type: ignore[arg-type]
                assert refused.value.field == "tag"

    def test_daily_and_per_tag_totals_follow_inserts(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            self._settle(uow, "call-1", 61, T0)
            self._settle(uow, "call-2", 10, T0 + timedelta(days=1))
            uow.commit()
        day = T0.date()
        with uow_factory() as uow:
            daily = uow.usage.daily(ACCOUNT, day, day + timedelta(days=2))
            assert [(d, t.calls, t.billable_seconds) for d, t in daily] == [
                (day, 1, 120),
                (day + timedelta(days=1), 1, 60),
            ]
            assert uow.usage.daily(ACCOUNT, day, day, tag="campaign-a") == []
            tags = uow.usage.by_tag(ACCOUNT, day, day + timedelta(days=2))
            assert {t: (x.calls, x.billable_seconds) for t, x in tags.items()} == {
                "campaign-a": (2, 180)
            }
            assert uow.usage.by_tag(ACCOUNT, date(2000, 1, 1), date(2000, 1, 2)) == {}

    def test_a_page_size_that_is_not_a_whole_number_of_at_least_one_is_refused(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        # Stores read LIMIT differently (SQLite takes -1 as "no limit"): the unit of work
        # refuses such a size before any store sees it.
        self._seed(uow_factory)
        for limit in _NOT_PAGE_SIZES:
            with uow_factory() as uow:
                with pytest.raises(ValidationError, match="limit"):
                    uow.usage.page(ACCOUNT, limit=limit)
                with pytest.raises(ValidationError, match="limit"):
                    uow.ledgers.due_page(T0, limit)
                with pytest.raises(ValidationError, match="limit"):
                    uow.outbox.since(0, limit=limit)

    def test_due_work_is_asked_for_with_an_aware_instant(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            for at in (T0.replace(tzinfo=None), T0.isoformat(), None):
                with pytest.raises(ValidationError):
                    uow.ledgers.due_page(at, 10)  # type: ignore[arg-type]

    def test_an_outbox_position_that_is_not_a_whole_number_of_at_least_zero_is_refused(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)  # the outbox has entries: a negative position must not find them
        for position in _NOT_POSITIONS:
            with uow_factory() as uow, pytest.raises(ValidationError, match="position"):
                uow.outbox.since(position)

    # --- idempotency and outbox ------------------------------------------------------------

    def test_idempotency_keys_remember_the_first_answer(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        first = StoredResponse("fp-1", {"payment_id": "pay-1", "amount": "10.00"})
        with uow_factory() as uow:
            assert uow.idempotency.get(ACCOUNT, "key-1") is None
            uow.idempotency.put(ACCOUNT, "key-1", first)
            uow.commit()
        with uow_factory() as uow:
            assert uow.idempotency.get(ACCOUNT, "key-1") == first
            assert uow.idempotency.get("other", "key-1") is None
            uow.idempotency.put(ACCOUNT, "key-1", StoredResponse("fp-2", {}))
            with pytest.raises(IdempotencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert uow.idempotency.get(ACCOUNT, "key-1") == first

    def test_commit_appends_recorded_events_to_the_outbox_in_order(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        with uow_factory() as uow:
            wallet = Wallet(ACCOUNT, "INR")
            wallet.credit(Money("100.00", "INR"), "top-up-1", T0)
            wallet.debit(Money("40.00", "INR"), "debit-1", T0)
            uow.wallets.add(wallet)
            committed = uow.commit()
        assert [e.name for e in committed] == ["WalletCredited", "WalletDebited"]
        with uow_factory() as uow:
            entries = uow.outbox.since(0)
            assert [e.name for e in entries] == ["WalletCredited", "WalletDebited"]
            assert entries[0].position < entries[1].position
            assert all(e.account_id == ACCOUNT for e in entries)
            assert uow.outbox.since(entries[-1].position) == []
            assert [e.name for e in uow.outbox.since(entries[0].position)] == ["WalletDebited"]

    def test_events_added_to_the_outbox_follow_the_aggregates_events_at_commit(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        elsewhere = Wallet("acct-elsewhere", "INR")
        elsewhere.credit(Money("5.00", "INR"), "gift", T0)
        added = elsewhere.pull_events()
        with uow_factory() as uow:  # rolled back: nothing of it is appended
            uow.outbox.add(added)
        with uow_factory() as uow:
            uow.outbox.add(added)
            wallet = Wallet(ACCOUNT, "INR")
            wallet.credit(Money("100.00", "INR"), "top-up-1", T0)
            uow.wallets.add(wallet)
            uow.commit()
        with uow_factory() as uow:
            entries = [(e.account_id, e.name) for e in uow.outbox.since(0)]
        assert entries == [(ACCOUNT, "WalletCredited"), ("acct-elsewhere", "WalletCredited")]

    def test_a_unit_reads_back_the_calls_and_answers_it_has_yet_to_commit(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        answer = StoredResponse("fp-1", {"payment_id": "pay-1"})
        with uow_factory() as uow:
            record = self._settle(uow, "call-1", 61, T0)
            uow.idempotency.put(ACCOUNT, "key-1", answer)
            assert uow.usage.get(ACCOUNT, "call-1") == record
            assert uow.usage.get("other", "call-1") is None
            assert uow.idempotency.get(ACCOUNT, "key-1") == answer
            assert uow.idempotency.get("other", "key-1") is None
        with uow_factory() as uow:  # not committed: gone
            assert uow.usage.get(ACCOUNT, "call-1") is None
            assert uow.idempotency.get(ACCOUNT, "key-1") is None

    def test_an_aggregate_is_tracked_once_per_unit(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            uow.ledgers.get(ACCOUNT)
            with pytest.raises(ValidationError) as loaded:
                uow.ledgers.add(_ledger())
            uow.wallets.add(Wallet(ACCOUNT, "INR"))
            with pytest.raises(ValidationError) as added:
                uow.wallets.add(Wallet(ACCOUNT, "INR"))
            uow.commit()
        assert (loaded.value.value, added.value.value) == (ACCOUNT, ACCOUNT)
        with uow_factory() as uow:
            assert (uow.ledgers.get(ACCOUNT).version, uow.wallets.get(ACCOUNT).version) == (1, 1)

    def test_a_unit_is_entered_once_and_used_only_while_open(
        self, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._seed(uow_factory)
        uow = uow_factory()
        with uow:
            with pytest.raises(MinutebillError):
                uow.__enter__()
            uow.ledgers.get(ACCOUNT)
            uow.commit()
            with pytest.raises(MinutebillError):
                uow.wallets.find(ACCOUNT)
            with pytest.raises(MinutebillError):
                uow.commit()
        with pytest.raises(MinutebillError):
            uow.usage.get(ACCOUNT, "call-1")

    def test_every_value_reads_back_exactly(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        # Integers beyond 64 bits and text beyond ASCII, in a document, an answer and an event:
        # a store keeps the text it is given and hands back that very text.
        huge = 2**70 + 1  # not a power of two: a float would not hold it
        words = "₹ 500 — नमस्ते 😀"
        with uow_factory() as uow:
            ledger = MinuteLedger("acct-exact", LedgerPolicy())
            ledger.grant("bonus", GrantSource.PROMOTIONAL, huge, T0, reference=words)
            uow.ledgers.add(ledger)
            uow.idempotency.put("acct-exact", "key", StoredResponse(words, {"n": huge, "s": words}))
            uow.commit()
        with uow_factory() as uow:
            assert uow.ledgers.get("acct-exact").to_state() == ledger.to_state()
            assert uow.idempotency.get("acct-exact", "key") == StoredResponse(
                words, {"n": huge, "s": words}
            )
        with uow_factory() as uow:  # the outbox is read in a unit of its own (see `Outbox`)
            granted = [e for e in uow.outbox.since(0) if e.name == "MinutesGranted"]
            grants = [e.payload["grant"] for e in granted]
            assert [(g["granted"], g["reference"]) for g in grants] == [(huge, words)]

    def test_a_failed_commit_appends_no_events(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._seed(uow_factory)
        with uow_factory() as uow:
            before = len(uow.outbox.since(0))
            ledger = uow.ledgers.get(ACCOUNT)
            ledger.grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
            ledger.version += 5
            with pytest.raises(ConcurrencyConflict):
                uow.commit()
        with uow_factory() as uow:
            assert len(uow.outbox.since(0)) == before
