"""Runs one use case as one unit of work: load, decide, save, commit, publish.

A `ConcurrencyConflict` (another writer saved an aggregate first) or a retryable
`PersistenceError` (a lock timeout, a lost connection) re-runs the whole use case on fresh
state, a bounded number of times. Nothing is half done: a unit of work commits all or nothing.
Since every attempt may be re-run, the runner asks a store that offers them for optimistic
units of work (`PostgresStore.unit_of_work`), which may raise the conflict from a read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar, cast

from attrs import field, frozen

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.events import DomainEvent
from minutebill.errors import ConcurrencyConflict, PersistenceError, ValidationError
from minutebill.ports import EventPublisher

__all__ = ["NullPublisher", "Runner"]

T = TypeVar("T")


class NullPublisher:
    """Publishes nowhere; events stay readable in the store's outbox."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Do nothing."""


def _retryable(exc: BaseException) -> bool:
    """A conflict, or a driver error that says another try may succeed (a lock timeout)."""
    if isinstance(exc, ConcurrencyConflict):
        return True
    return isinstance(exc, PersistenceError) and exc.retryable


@frozen
class Runner:
    """Runs work inside units of work from `uow_factory`, retrying conflicts."""

    uow_factory: Callable[[], UnitOfWork]
    publisher: EventPublisher
    max_attempts: int = 5
    _reader: Callable[[], UnitOfWork] = field(init=False)
    _writer: Callable[[], UnitOfWork] = field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError("max_attempts", self.max_attempts, "at least 1")
        object.__setattr__(self, "_reader", _with_option(self.uow_factory, "read_only"))
        object.__setattr__(self, "_writer", _with_option(self.uow_factory, "optimistic"))

    def run(self, work: Callable[[UnitOfWork], T], *, undo: Callable[[], None] | None = None) -> T:
        """Run `work` and commit; publish the committed events; retry on conflicts.

        `undo` is called after every attempt that did not commit (whatever failed, the work or
        the commit), to take back what `work` did outside the store, such as a call taken from
        the in-process queue; it is never called once an attempt committed.
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self._writer() as uow:
                    result = work(uow)
                    events = uow.commit()
            except BaseException as exc:
                if undo is not None:
                    undo()
                if not _retryable(exc) or attempt == self.max_attempts:
                    raise
                continue
            if events:
                self.publisher.publish(events)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` that only reads; nothing is committed.

        With a factory that takes ``read_only=True`` (minutebill's stores do) the unit of work
        reads a snapshot without taking the write lock, so a billing page never waits for
        calls being settled, nor holds them up.
        """
        with self._reader() as uow:
            return work(uow)


def _with_option(factory: Callable[[], UnitOfWork], option: str) -> Callable[[], UnitOfWork]:
    """`factory` asked for units of work with `option` on, if it accepts that keyword."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a callable without a signature: ask for nothing more
        return factory
    if option in parameters:
        return partial(cast("Callable[..., UnitOfWork]", factory), **{option: True})
    return factory
