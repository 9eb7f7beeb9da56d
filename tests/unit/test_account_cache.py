"""The PostgreSQL store's cache of account documents, against a plain model of its rules.

What the cache hands out is only ever a guess that the store checks (see
``tests/postgres/test_account_cache.py``), but a guess older than what the store committed
would cost every unit of work an attempt: these rules keep it the newest seen.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from minutebill.adapters import StoredDocument
from minutebill.adapters._account_cache import COOLING_UNITS, AccountCache, AccountDocuments

ACCOUNTS = st.sampled_from(["acct-1", "acct-2", "acct-3", "acct-4"])
KINDS = ("ledger", "subscription", "wallet")


def documents(account_id: str, versions: dict[str, int]) -> AccountDocuments:
    return {
        kind: StoredDocument(account_id, "", version, f"{kind}@{version}")
        for kind, version in versions.items()
    }


VERSIONS = st.dictionaries(st.sampled_from(KINDS), st.integers(1, 5), min_size=1)


class CacheMachine(RuleBasedStateMachine):
    """The cache of size 2 against a model: newest documents, least recently stored out."""

    SIZE = 2

    def __init__(self) -> None:
        super().__init__()
        self.cache = AccountCache(self.SIZE)
        self.model: dict[str, AccountDocuments] = {}  # in the order stored
        self.cooling: dict[str, int] = {}

    @rule(account_id=ACCOUNTS, versions=VERSIONS)
    def put(self, account_id: str, versions: dict[str, int]) -> None:
        docs = documents(account_id, versions)
        self.cache.put(account_id, docs)
        known = self.model.pop(account_id, None)
        if known is not None and any(
            kind not in docs or doc.version > docs[kind].version for kind, doc in known.items()
        ):
            docs = known
        self.model[account_id] = docs
        if len(self.model) > self.SIZE:
            del self.model[next(iter(self.model))]

    @rule(account_id=ACCOUNTS)
    def get(self, account_id: str) -> None:
        got = self.cache.get(account_id)
        if account_id in self.cooling:
            assert got is None
            self.cooling[account_id] -= 1
            if not self.cooling[account_id]:
                del self.cooling[account_id]
        else:
            assert got == self.model.get(account_id)

    @precondition(lambda self: len(self.cooling) < self.SIZE)
    @rule(account_id=ACCOUNTS)
    def stale(self, account_id: str) -> None:
        self.cache.stale(account_id)
        self.model.pop(account_id, None)
        self.cooling[account_id] = COOLING_UNITS

    @invariant()
    def holds_at_most_its_size(self) -> None:
        assert len(self.cache) == len(self.model) <= self.SIZE


TestCacheMachine = CacheMachine.TestCase


@given(account_id=ACCOUNTS, first=VERSIONS, second=VERSIONS)
def test_a_document_is_never_replaced_by_an_older_version_of_itself(
    account_id: str, first: dict[str, int], second: dict[str, int]
) -> None:
    cache = AccountCache(8)
    cache.put(account_id, documents(account_id, first))
    cache.put(account_id, documents(account_id, second))

    kept = cache.get(account_id)

    assert kept is not None
    for kind, version in first.items():
        assert kept[kind].version >= version  # a kind once seen stays, at its newest or later


def test_a_stale_account_is_read_under_lock_for_the_cooling_units_then_cached_again() -> None:
    cache = AccountCache(8)
    cache.put("acct-1", documents("acct-1", {"ledger": 1}))
    cache.stale("acct-1")
    cache.put("acct-1", documents("acct-1", {"ledger": 2}))  # a locked read stores it again

    assert [cache.get("acct-1") for _ in range(COOLING_UNITS)] == [None] * COOLING_UNITS
    assert cache.get("acct-1") == documents("acct-1", {"ledger": 2})


@pytest.mark.parametrize("operation", ["put", "stale"])
def test_a_cache_of_size_zero_keeps_nothing(operation: str) -> None:
    cache = AccountCache(0)
    if operation == "put":
        cache.put("acct-1", documents("acct-1", {"ledger": 1}))
    else:
        cache.stale("acct-1")

    assert cache.get("acct-1") is None
    assert len(cache) == 0


def test_an_account_without_documents_is_not_kept() -> None:
    cache = AccountCache(8)
    cache.put("acct-1", {})

    assert cache.get("acct-1") is None
