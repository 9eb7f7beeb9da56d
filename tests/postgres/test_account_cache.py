"""Units of work that decide on the account documents a store cached, then lock and check them.

Two stores on one schema stand for two app servers. Whatever the cache holds, a use case sees
the account as it is: a stale cache costs an attempt (retried under lock), never a wrong
balance, a lost settlement or an error decided on an old state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from minutebill.adapters._account_cache import COOLING_UNITS
from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.grants import GrantSource
from minutebill.errors import ConcurrencyConflict, InvalidTransition, ValidationError
from minutebill.service import Billing
from minutebill.testing.checkers import audit_ledgers
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog
from tests.postgres.test_contract import round_trips

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)


class _Server:
    """One app server: a store with one connection, and the service on it."""

    def __init__(self, dsn: str, schema: str, *, cached_accounts: int = 4096) -> None:
        self.store = PostgresStore(
            dsn, schema=schema, min_size=1, max_size=1, cached_accounts=cached_accounts
        )
        self.clock = FixedClock(T0)
        gateway = FakePaymentGateway(secret=b"whsec-cache", clock=self.clock)
        self.billing = Billing(self.store.unit_of_work, gateway, reference_catalog(), self.clock)

    def trips(self, action: Callable[[], object]) -> int:
        return round_trips(self.store, action)

    def used_seconds(self, account_id: str) -> int:
        with self.store.unit_of_work() as uow:  # a locked read: always the stored ledger
            return int(uow.ledgers.get(account_id).snapshot(T0).used_seconds)


def _cached_by_a_then_changed_by_b(a: _Server, b: _Server) -> None:
    """acct-1 on Enterprise, its call c1 settled by a (which caches it), then c2 by b."""
    a.billing.subscribe("acct-1", "enterprise", timezone="UTC")
    a.billing.end_call("acct-1", "c1", MINUTE)  # a has the account cached
    b.billing.end_call("acct-1", "c2", MINUTE)  # ... and b changes it


@pytest.fixture
def servers(pg_dsn: str, pg_schema: str) -> Iterator[tuple[_Server, _Server]]:
    first = _Server(pg_dsn, pg_schema)
    second = _Server(pg_dsn, pg_schema)
    try:
        yield first, second
    finally:
        first.store.close()
        second.store.close()


def test_a_settlement_on_an_account_another_server_changed_is_run_again_under_lock(
    servers: tuple[_Server, _Server],
) -> None:
    a, b = servers
    _cached_by_a_then_changed_by_b(a, b)

    # a's first try fails its check (one message and its rollback, nothing written), the
    # second reads under lock, then commits.
    assert a.trips(lambda: a.billing.end_call("acct-1", "c3", MINUTE)) == 2 + 2

    assert a.used_seconds("acct-1") == 3 * 60  # every call once
    assert audit_ledgers(a.store.unit_of_work, ["acct-1"]).ok
    # For a while (the retry above was the first) a reads the account under lock; then it
    # tries its cache again.
    for n in range(COOLING_UNITS - 1):
        assert a.trips(partial(a.billing.end_call, "acct-1", f"w{n}", MINUTE)) == 2
    assert a.trips(lambda: a.billing.end_call("acct-1", "cached-again", MINUTE)) == 1
    assert a.used_seconds("acct-1") == (3 + COOLING_UNITS) * 60


def test_an_error_decided_on_stale_documents_is_raised_only_once_checked(
    servers: tuple[_Server, _Server],
) -> None:
    a, b = servers
    a.billing.subscribe("acct-1", "pro", timezone="UTC")
    later = T0 + timedelta(days=45)
    a.clock.set(later)
    b.clock.set(later)
    a.billing.run_due(later)  # nothing paid for pro: it expired, as a's cache remembers
    with pytest.raises(InvalidTransition, match="expired"):
        a.billing.cancel("acct-1")
    b.billing.subscribe("acct-1", "enterprise", timezone="UTC")

    # On a's cache acct-1 has expired, and cancelling it is refused; the check finds that the
    # account changed, and the use case runs again on what is stored.
    overview = a.billing.cancel("acct-1")

    assert (overview.plan_code, overview.status) == ("enterprise", "canceled")


def test_an_optimistic_unit_of_work_raises_the_conflict_and_writes_nothing(
    servers: tuple[_Server, _Server],
) -> None:
    a, b = servers
    _cached_by_a_then_changed_by_b(a, b)
    before = b.used_seconds("acct-1")

    def give_minutes() -> None:
        with a.store.unit_of_work(optimistic=True) as uow:
            ledger = uow.ledgers.get("acct-1")  # a's cached copy: one call behind
            assert ledger.snapshot(T0).used_seconds == before - 60
            ledger.grant("gift", GrantSource.BUNDLE, 600, T0)
            uow.commit()

    with pytest.raises(ConcurrencyConflict, match="acct-1"):
        give_minutes()

    with a.store.unit_of_work() as uow:  # not optimistic: what is stored, never a conflict
        stored = uow.ledgers.get("acct-1").totals()
    assert b.used_seconds("acct-1") == before
    assert stored.granted == 20_000 * 60  # the plan's minutes, not the gift


def _decide_on_the_ledger(store: PostgresStore) -> None:
    """An optimistic unit of work that reads acct-1's ledger, then fails on what it read."""
    with store.unit_of_work(optimistic=True) as uow:
        uow.ledgers.get("acct-1")
        raise LookupError("decided on the cached ledger")


def test_an_error_on_current_documents_is_raised_as_it_is(
    servers: tuple[_Server, _Server],
) -> None:
    a, _ = servers
    a.billing.subscribe("acct-1", "enterprise", timezone="UTC")
    a.billing.end_call("acct-1", "c1", MINUTE)

    with pytest.raises(LookupError, match="decided"):
        _decide_on_the_ledger(a.store)


def test_an_error_on_stale_documents_becomes_a_conflict(
    servers: tuple[_Server, _Server],
) -> None:
    a, b = servers
    _cached_by_a_then_changed_by_b(a, b)

    with pytest.raises(ConcurrencyConflict) as raised:
        _decide_on_the_ledger(a.store)

    causes = []
    error: BaseException | None = raised.value
    while error is not None:
        causes.append(type(error))
        error = error.__context__
    assert LookupError in causes  # the error decided on the stale ledger, kept as the context


def test_a_store_keeps_at_most_the_accounts_it_is_sized_for(pg_dsn: str, pg_schema: str) -> None:
    one = _Server(pg_dsn, pg_schema, cached_accounts=1)
    try:
        one.billing.subscribe("acct-1", "enterprise", timezone="UTC")
        one.billing.subscribe("acct-2", "enterprise", timezone="UTC")
        one.billing.end_call("acct-1", "c1", MINUTE)
        assert one.trips(lambda: one.billing.end_call("acct-1", "c2", MINUTE)) == 1
        one.billing.end_call("acct-2", "c1", MINUTE)  # takes acct-1's place

        assert one.trips(lambda: one.billing.end_call("acct-1", "c3", MINUTE)) == 2
    finally:
        one.store.close()


@pytest.mark.parametrize("size", [-1, 1.5, "64", True, None])
def test_a_bad_cache_size_is_refused(pg_dsn: str, pg_schema: str, size: object) -> None:
    with pytest.raises(ValidationError, match="cached_accounts"):
        PostgresStore(pg_dsn, schema=pg_schema, cached_accounts=size)  # type: ignore[arg-type]
