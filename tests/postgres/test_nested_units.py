"""Nested units of work on PostgreSQL: each on a pooled connection of its own, independent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.money import Money
from minutebill.domain.wallet import Wallet
from tests.contract.test_nested_units import (
    Factory,
    test_a_nested_reader_sees_what_is_committed_and_the_outer_unit_commits_whole,
    test_a_nested_unit_that_fails_leaves_the_outer_one_whole,
    test_a_unit_that_commits_may_open_inside_a_reader,
)

__all__ = [
    "test_a_nested_reader_sees_what_is_committed_and_the_outer_unit_commits_whole",
    "test_a_nested_unit_that_fails_leaves_the_outer_one_whole",
    "test_a_unit_that_commits_may_open_inside_a_reader",
]


@pytest.fixture
def uow_factory(pg_store: PostgresStore) -> Factory:
    """The store holding wallet ``a`` with ₹100.00 at version 1, as the shared tests expect."""
    with pg_store.unit_of_work() as uow:
        wallet = Wallet("a", "INR")
        wallet.credit(Money("100.00", "INR"), "seed", datetime(2026, 1, 1, tzinfo=UTC))
        uow.wallets.add(wallet)
        uow.commit()
    return pg_store.unit_of_work
