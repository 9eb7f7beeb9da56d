"""The account documents a PostgreSQL store saw last, so a settlement needs one round trip.

A unit of work on PostgreSQL locks an account's subscription, ledger and wallet together and
reads them (``SELECT … FOR UPDATE``): a round trip before any decision, another for the writes
and ``COMMIT``. When this process was the last to commit the account, as it is for a platform
that routes an account's calls to one app server, that read returns what the process already
knows. So a store keeps each account's documents as it last read or committed them; a unit
of work decides on those, and its next message to the server (its writes and ``COMMIT``, for
a settlement) starts with a statement that locks the same rows in the same order and checks
that their versions are still the ones it decided on. If another server changed the account
meanwhile, the check raises, nothing is written, and the use case runs again on a locked read
(`ConcurrencyConflict`, which the service retries). Rows are locked no later than before, by
the statement that precedes any other read or write of the unit, so the lock order, and the
freedom from deadlocks it gives, stays that of the locked read.

An account that many servers settle at once would fail that check nearly every time, a wasted
attempt each; after a failed check the account is read under lock for the next
`COOLING_UNITS` units of work of this process, then the cache is tried again.
"""

from __future__ import annotations

import threading

from minutebill.adapters._transaction import StoredDocument

__all__ = ["COOLING_UNITS", "AccountCache", "AccountDocuments"]

AccountDocuments = dict[str, StoredDocument]
"""One account's one-per-account documents that exist, by kind."""

COOLING_UNITS = 64
"""Units of work of an account that read under lock after its cached documents were stale."""


class AccountCache:
    """The last known documents of up to `size` accounts (thread-safe; 0 keeps none).

    The least recently stored account is dropped first. A document is never replaced by an
    older version of itself, so a thread that stores what it committed after another thread
    committed a newer version leaves the newer one.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._accounts: dict[str, AccountDocuments] = {}
        self._cooling: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, account_id: str) -> AccountDocuments | None:
        """The account's documents to decide on, or None: read them under lock."""
        if not self._size:
            return None
        with self._lock:
            cooling = self._cooling.get(account_id)
            if cooling is None:
                return self._accounts.get(account_id)
            if cooling > 1:
                self._cooling[account_id] = cooling - 1
            else:
                del self._cooling[account_id]
            return None

    def put(self, account_id: str, documents: AccountDocuments) -> None:
        """Remember the account's documents as read under lock or committed."""
        if not self._size or not documents:
            return
        with self._lock:
            known = self._accounts.pop(account_id, None)
            if known is not None and any(
                kind not in documents or doc.version > documents[kind].version
                for kind, doc in known.items()
            ):
                documents = known  # a newer commit was stored first: keep it
            self._accounts[account_id] = documents
            if len(self._accounts) > self._size:
                del self._accounts[next(iter(self._accounts))]

    def stale(self, account_id: str) -> None:
        """Forget the account, and read it under lock for a while (see the module)."""
        if not self._size:
            return
        with self._lock:
            self._accounts.pop(account_id, None)
            self._cooling[account_id] = COOLING_UNITS
            if len(self._cooling) > self._size:
                del self._cooling[next(iter(self._cooling))]
