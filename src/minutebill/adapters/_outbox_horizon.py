"""How far a PostgreSQL outbox reader may read without ever skipping an event.

Outbox positions come from a sequence, which hands a position out when a transaction inserts
its event, not when it commits. So of two concurrent commits, the one holding the smaller
positions may become visible second, and a reader that simply followed the positions it could
see would move its cursor past them and never read them.

A position is **settled** once every transaction that holds it, or any smaller one, has
ended: committed, so every snapshot taken afterwards sees its rows, or rolled back for good.
A reader that returns only settled positions never skips one. To find them, a store takes
**probes**: it reads the sequence's last value, and then (in a later statement, so a later
snapshot) the ids of the transactions in progress. A writing transaction takes its id before
its positions (the schema's column default makes sure), so every transaction that holds a
position at or below that value is, at the probe, either ended or in that list. Once each
of those has ended, everything up to the value is settled.

`OutboxHorizon` keeps a store's probes and the settled position they have shown. A reader
counts on a probe only if every transaction in its list had ended before the reader's snapshot
was taken (the snapshot tells). A probe taken after the snapshot never qualifies (its list
holds transactions still in progress after it, and an empty list settles at once, for readers
that come later), so a reader whose snapshot is older than the newest commits never counts on
rows it cannot see.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import NamedTuple

__all__ = ["OutboxHorizon", "Probe", "in_progress"]


class Probe(NamedTuple):
    """The sequence's last value, and the transactions in progress right after reading it."""

    last: int
    running: frozenset[int]


class OutboxHorizon:
    """The settled outbox position of one store, shared by its threads.

    Args:
        keep: How many unsettled probes to remember (older ones are dropped: the newer ones
            settle at least as far once their transactions end).

    Attributes:
        settled: Every position up to this one is settled. A reader notes it before its
            snapshot is taken and may count on it (read without the lock: one attribute).
    """

    def __init__(self, keep: int = 64) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._probes: list[Probe] = []
        self.settled = 0

    def record(self, last: int, running: Collection[int]) -> None:
        """Remember a probe: `last` read first, then the transactions `running`."""
        with self._lock:
            if not running:  # nothing in progress could hold a position at or below `last`
                self._advance(last)
            elif last > self.settled:
                self._probes.append(Probe(last, frozenset(running)))
                del self._probes[: -self._keep]

    def waiting(self, settled: int) -> frozenset[int]:
        """The transactions whose end would settle positions past `settled`."""
        with self._lock:
            return frozenset(x for p in self._probes if p.last > settled for x in p.running)

    def settle(self, settled: int, ended: Collection[int]) -> int:
        """The settled position for a snapshot taken after the horizon was `settled`.

        Args:
            settled: The horizon as the reader noted it before its snapshot.
            ended: Transactions the reader's snapshot shows ended, from those
                `waiting(settled)` named. A probe counts only if every transaction in its list
                is among them, so a probe another thread records meanwhile, whose transactions
                the snapshot was never asked about, never counts.

        Returns:
            The highest position up to which every transaction ended before the snapshot;
            the store's horizon moves there too (ended before the snapshot is ended now).
        """
        seen_ended = frozenset(ended)
        with self._lock:
            for probe in self._probes:
                if probe.last > settled and probe.running <= seen_ended:
                    settled = probe.last
            self._advance(settled)
        return settled

    def _advance(self, settled: int) -> None:
        if settled > self.settled:
            self.settled = settled
            self._probes = [p for p in self._probes if p.last > settled]


def in_progress(snapshot: str, next_id: int) -> frozenset[int]:
    """The transactions that may have been running when a snapshot was taken.

    Those its ``txid_current_snapshot()`` text (``xmin:xmax:xip``) lists, and every id from
    its ``xmax`` (one past the last transaction that had ended) up to `next_id`, an id taken
    after the snapshot: the snapshot does not list those, though they may have been running.
    """
    _, xmax, listed = snapshot.split(":")
    return frozenset(int(x) for x in listed.split(",") if x).union(range(int(xmax), next_id))
