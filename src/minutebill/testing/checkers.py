"""Checkers that audit a store after concurrent or interrupted work: did anything get lost?

The minute ledger and the usage history are written in the same unit of work, so after any
number of writers — racing processes, a writer killed mid-commit, a PostgreSQL failover — a
correct store satisfies, for every account:

* the ledger's lifetime ``consumed`` seconds equal the seconds debited by its usage records
  (plus the late usage a paid renewal covered, ``covered``), and its ``overage`` equals their
  overage seconds (no call lost, none counted twice);
* every grant still kept has ``consumed`` equal to the seconds the records debited from it
  (plus the late seconds it covered);
* ``granted == remaining + held + consumed + expired`` for the ledger as a whole;
* every record has ``billable == debited + overage``, belongs to the account, and its call id
  appears once;
* the per-day rollups add up to the records (calls, billable and overage seconds);
* every settlement the caller saw acknowledged is present.

`audit_ledgers` reads all of that through the `UnitOfWork` port only, so it works on any
adapter; `assert_ledgers_match_calls` raises `AssertionError` listing every problem::

    audit = assert_ledgers_match_calls(store.unit_of_work, ["acct-1"], acknowledged={
        "acct-1": ["call-1", "call-2"],
    })
    assert audit.records == 2

A store that loses updates (reads without a lock, writes without checking versions) fails the
first check as soon as two writers interleave; the concurrency tests prove the checker notices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from attrs import frozen

from minutebill._unit_of_work import UnitOfWork

__all__ = ["AccountAudit", "LedgerAudit", "assert_ledgers_match_calls", "audit_ledgers"]


@frozen(kw_only=True)
class AccountAudit:
    """What `audit_ledgers` found for one account.

    Attributes:
        account_id: The account.
        records: Usage records stored for it.
        debited_seconds: Seconds its records debited from grants.
        overage_seconds: Overage seconds on its records.
        ledger_consumed: The ledger's lifetime consumed seconds less the late usage a paid
            renewal covered: what the ledger says the calls debited.
        ledger_overage: The ledger's lifetime overage seconds.
        problems: Each broken invariant, in words (empty when all hold).
    """

    account_id: str
    records: int
    debited_seconds: int
    overage_seconds: int
    ledger_consumed: int
    ledger_overage: int
    problems: tuple[str, ...]


@frozen
class LedgerAudit:
    """The audit of several accounts.

    Attributes:
        accounts: One `AccountAudit` per account, in the order asked for.
    """

    accounts: tuple[AccountAudit, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem found, each prefixed with its account."""
        return tuple(f"{a.account_id}: {p}" for a in self.accounts for p in a.problems)

    @property
    def ok(self) -> bool:
        """True when every invariant holds for every account."""
        return not self.problems

    @property
    def records(self) -> int:
        """Usage records over all accounts."""
        return sum(a.records for a in self.accounts)

    @property
    def lost_seconds(self) -> int:
        """Debited seconds the ledgers do not account for (> 0 means lost updates)."""
        return sum(
            a.debited_seconds - a.ledger_consumed + a.overage_seconds - a.ledger_overage
            for a in self.accounts
        )


def audit_ledgers(
    uow_factory: Callable[[], UnitOfWork],
    account_ids: Iterable[str],
    *,
    acknowledged: Mapping[str, Iterable[str]] | None = None,
    page_size: int = 500,
) -> LedgerAudit:
    """Check that each account's ledger equals the sum of its settled calls.

    Everything is read in one unit of work (nothing is committed), so the audit sees one
    consistent state; run it when no writer is active, or accept that it sees a snapshot.

    Args:
        uow_factory: Opens a unit of work on the store to audit (``store.unit_of_work``).
        account_ids: The accounts to audit.
        acknowledged: Per account, the call ids whose settlement a caller saw succeed; each
            must have a usage record.
        page_size: Records read per page of the usage history.

    Returns:
        The audit; `LedgerAudit.ok` tells whether every invariant held.
    """
    acks = {account: list(calls) for account, calls in (acknowledged or {}).items()}
    with uow_factory() as uow:
        audits = tuple(
            _audit_account(uow, account_id, acks.get(account_id, ()), page_size)
            for account_id in account_ids
        )
    return LedgerAudit(audits)


def assert_ledgers_match_calls(
    uow_factory: Callable[[], UnitOfWork],
    account_ids: Iterable[str],
    *,
    acknowledged: Mapping[str, Iterable[str]] | None = None,
) -> LedgerAudit:
    """`audit_ledgers`, raising when any invariant is broken.

    Returns:
        The audit, for further assertions (record counts).

    Raises:
        AssertionError: listing every problem found.
    """
    audit = audit_ledgers(uow_factory, account_ids, acknowledged=acknowledged)
    if not audit.ok:
        raise AssertionError("store audit failed:\n" + "\n".join(audit.problems))
    return audit


def _all_records(uow: UnitOfWork, account_id: str, page_size: int) -> list[Any]:
    records: list[Any] = []
    cursor: str | None = None
    while True:
        page = uow.usage.page(account_id, cursor=cursor, limit=page_size)
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def _audit_account(
    uow: UnitOfWork, account_id: str, acknowledged: Iterable[str], page_size: int
) -> AccountAudit:
    problems: list[str] = []
    ledger = uow.ledgers.find(account_id)
    records = _all_records(uow, account_id, page_size)
    debited = sum(r.debited_seconds for r in records)
    overage = sum(r.overage_seconds for r in records)
    problems.extend(_record_problems(account_id, records))
    present = {r.call_id for r in records}
    missing = sorted(set(acknowledged) - present)
    if missing:
        problems.append(f"{len(missing)} acknowledged calls missing, e.g. {missing[:5]}")
    problems.extend(_rollup_problems(uow, account_id, records))
    if ledger is None:
        problems.append("no ledger")
        return AccountAudit(
            account_id=account_id,
            records=len(records),
            debited_seconds=debited,
            overage_seconds=overage,
            ledger_consumed=0,
            ledger_overage=0,
            problems=tuple(problems),
        )
    totals = ledger.totals()
    if totals.consumed != debited + totals.covered:
        problems.append(
            f"ledger consumed {totals.consumed}s (late usage covered: {totals.covered}s)"
            f" but the calls debited {debited}s"
        )
    if totals.overage != overage:
        problems.append(f"ledger overage {totals.overage}s but the calls record {overage}s")
    accounted = totals.remaining + totals.held + totals.consumed + totals.expired
    if totals.granted != accounted:
        problems.append(
            f"granted {totals.granted}s != remaining + held + consumed + expired {accounted}s"
        )
    by_grant: Counter[str] = Counter()
    for record in records:
        for debit in record.debits:
            by_grant[debit.grant_id] += debit.seconds
    covered = ledger.covered_seconds()
    problems.extend(
        f"grant {grant.grant_id} consumed {grant.consumed}s"
        f" but the calls debited {by_grant[grant.grant_id]}s from it"
        for grant in ledger.grants()
        if grant.consumed != by_grant[grant.grant_id] + covered.get(grant.grant_id, 0)
    )
    return AccountAudit(
        account_id=account_id,
        records=len(records),
        debited_seconds=debited,
        overage_seconds=overage,
        ledger_consumed=totals.consumed - totals.covered,
        ledger_overage=totals.overage,
        problems=tuple(problems),
    )


def _record_problems(account_id: str, records: list[Any]) -> list[str]:
    problems: list[str] = []
    twice = sorted(c for c, n in Counter(r.call_id for r in records).items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} calls stored twice, e.g. {twice[:5]}")
    for record in records:
        if record.account_id != account_id:
            problems.append(f"call {record.call_id} belongs to {record.account_id}")
        if record.billable_seconds != record.debited_seconds + record.overage_seconds:
            problems.append(f"call {record.call_id}: billable != debited + overage")
    return problems


def _rollup_problems(uow: UnitOfWork, account_id: str, records: list[Any]) -> list[str]:
    days = uow.usage.daily(account_id, date.min, date.max)
    calls = sum(t.calls for _, t in days)
    billable = sum(t.billable_seconds for _, t in days)
    overage = sum(t.overage_seconds for _, t in days)
    expected = (
        len(records),
        sum(r.billable_seconds for r in records),
        sum(r.overage_seconds for r in records),
    )
    if (calls, billable, overage) == expected:
        return []
    found = (calls, billable, overage)
    return [f"daily rollups say (calls, billable, overage) = {found}, the records {expected}"]
