"""`OutboxHorizon` against a model database: no reader ever counts on a position in flight.

The machine plays the database: transactions get increasing ids, take positions from one
sequence (only after their id, as the schema's column default ensures), and end in any order.
Probes read the sequence and then the transactions in progress; readers note the horizon's
settled position and then take snapshots (the set of transactions ended by then). Whatever the
interleaving, a reader's settled position covers only transactions its snapshot saw end, and
once every transaction has ended a probe settles everything.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from minutebill.adapters._outbox_horizon import OutboxHorizon, in_progress


class HorizonMachine(RuleBasedStateMachine):
    """Transactions, probes and readers interleaved at will."""

    running = Bundle("running")
    readers = Bundle("readers")
    checked = Bundle("checked")

    @initialize()
    def start(self) -> None:
        self.horizon = OutboxHorizon(keep=4)  # small: dropping old probes must stay safe
        self.next_id = 100
        self.last_position = 0
        self.positions: dict[int, list[int]] = {}  # transaction -> positions it took
        self.ended: set[int] = set()

    @rule(target=running)
    def begin(self) -> int:
        self.next_id += 1
        self.positions[self.next_id] = []
        return self.next_id

    @rule(transaction=running)
    def take_position(self, transaction: int) -> None:
        if transaction not in self.ended:
            self.last_position += 1
            self.positions[transaction].append(self.last_position)

    @rule(transaction=consumes(running))
    def end(self, transaction: int) -> None:  # commit or roll back: ended either way
        self.ended.add(transaction)

    @rule()
    def probe(self) -> None:
        in_progress = set(self.positions) - self.ended
        self.horizon.record(self.last_position, in_progress)

    @rule(target=readers)
    def take_snapshot(self) -> tuple[int, frozenset[int]]:
        return self.horizon.settled, frozenset(self.ended)  # noted first, then the snapshot

    @rule(target=checked, reader=consumes(readers))
    def check(
        self, reader: tuple[int, frozenset[int]]
    ) -> tuple[int, frozenset[int], frozenset[int]]:
        """Ask the snapshot which waiting transactions had ended (probes may come meanwhile)."""
        noted, ended_then = reader
        return noted, ended_then, self.horizon.waiting(noted) & ended_then

    @rule(reader=consumes(checked))
    def read(self, reader: tuple[int, frozenset[int], frozenset[int]]) -> None:
        noted, ended_then, seen_ended = reader
        settled = self.horizon.settle(noted, seen_ended)
        for transaction, taken in self.positions.items():
            if any(p <= settled for p in taken):
                assert transaction in ended_then, (transaction, taken, settled)

    @invariant()
    def settled_positions_are_ended(self) -> None:
        settled = self.horizon.settled
        for transaction, taken in self.positions.items():
            if any(p <= settled for p in taken):
                assert transaction in self.ended

    def teardown(self) -> None:
        # Liveness: with every transaction ended, one probe settles all that was handed out.
        self.ended.update(self.positions)
        self.probe()
        assert self.horizon.settled == self.last_position


TestHorizonMachine = HorizonMachine.TestCase


@st.composite
def snapshot_texts(draw: st.DrawFn) -> tuple[str, frozenset[int]]:
    xmin = draw(st.integers(min_value=3, max_value=2**40))
    running = draw(st.frozensets(st.integers(min_value=xmin, max_value=xmin + 50), max_size=5))
    xmax = max(running, default=xmin) + draw(st.integers(min_value=0, max_value=5))
    listed = ",".join(map(str, sorted(running)))
    return f"{min(running, default=xmin)}:{xmax}:{listed}", running


def test_a_snapshot_and_the_ids_above_its_xmax_are_in_progress() -> None:
    assert in_progress("748:751:748,750", 751) == frozenset({748, 750})
    assert in_progress("751:751:", 751) == frozenset()
    assert in_progress("748:751:748", 754) == frozenset({748, 751, 752, 753})


def test_probes_past_the_limit_are_dropped_oldest_first() -> None:
    horizon = OutboxHorizon(keep=2)
    for last in (5, 6, 7):
        horizon.record(last, {last * 10})
    assert horizon.waiting(0) == {60, 70}
    assert horizon.settle(0, {70}) == 7  # the newest alone settles all below it


def test_a_probe_recorded_while_a_reader_checks_its_snapshot_does_not_count() -> None:
    horizon = OutboxHorizon()
    assert horizon.waiting(0) == frozenset()  # the reader has nothing to ask its snapshot
    horizon.record(10, {5})  # meanwhile another thread's probe: 5 may hold a position <= 10
    assert horizon.settle(0, frozenset()) == 0  # 5 was not seen to end: 10 is not settled
    assert horizon.settled == 0
    assert horizon.settle(0, {5}) == 10


@given(snapshot_texts())
def test_any_snapshot_text_parses_to_its_transactions(case: tuple[str, frozenset[int]]) -> None:
    text, running = case
    xmax = int(text.split(":")[1])
    assert in_progress(text, xmax) == running
