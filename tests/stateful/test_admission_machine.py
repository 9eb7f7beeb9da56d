"""Admission as a state machine: accounts on different tiers share a platform and one queue.

Calls arrive, start, end, hang up while waiting or while ringing, and time out. The host's loop
is modelled the way the docs tell hosts to run it: whenever a slot or platform capacity frees,
waiting calls are drained with `CallQueue.next_admittable` before anything else happens. Call
ids are unique per account only: a new call often takes an id another account is using (live,
waiting or ended), so the model knows every call by ``(account_id, call_id)``.

Invariants, after every step: active calls per account never exceed `concurrent_calls`, nor all
of them the platform's capacity; no call is admitted twice; every admitted call holds minutes;
a waiting call is never passed by a call ranked below it (a lower priority, or the same
priority and a later arrival) that took a slot it could have taken; the queue matches a plain
model of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from minutebill import BillingInterval, Money, Plan, PlanFeatures
from minutebill.domain.admission import (
    AdmissionDecision,
    AdmissionPolicy,
    Admitted,
    CallRequest,
    Queued,
    Rejected,
    RejectionReason,
    abandon_call,
    admit,
    free_slots,
)
from minutebill.domain.call_queue import CallQueue, WaitingCall
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.subscriptions import Subscription

T0 = datetime(2025, 5, 1, tzinfo=UTC)
CAPACITY = 3
DEPTH = 3
POLICY = AdmissionPolicy(initial_hold_seconds=120)


def tier(code: str, concurrent: int, priority: int, minutes: int = 30) -> Plan:
    return Plan(
        code=code,
        name=code.title(),
        price=Money("100.00", "INR"),
        interval=BillingInterval.monthly(),
        included_minutes=minutes,
        features=PlanFeatures(
            concurrent_calls=concurrent, phone_numbers=1, queue_priority=priority
        ),
    )


Key = tuple[str, str]  # (account_id, call_id)

TIERS = {
    "starter-a": tier("starter", 1, 0, minutes=4),
    "starter-b": tier("starter", 1, 0),
    "pro": tier("pro", 2, 5),
    "enterprise": tier("enterprise", 3, 10),
    "lapsed": tier("pro", 2, 5),
}


class AdmissionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.queue = CallQueue(DEPTH, timedelta(minutes=2))
        self.subs: dict[str, Subscription] = {}
        self.ledgers: dict[str, MinuteLedger] = {}
        for account, plan in TIERS.items():
            ledger = MinuteLedger(account)
            if account == "lapsed":
                start = T0 - timedelta(days=62)
                sub = Subscription.start(account, plan, start, ledger=ledger)
                sub.cancel(start)
                sub.lapse(sub.current_period.end)
            else:
                sub = Subscription.start(account, plan, T0, ledger=ledger)
            self.subs[account], self.ledgers[account] = sub, ledger
        # The model: calls by (account, call id).
        self.waiting: dict[Key, WaitingCall] = {}
        self.active: set[Key] = set()
        self.ever_admitted: set[Key] = set()
        self.used: set[Key] = set()  # every call that arrived
        self.calls = 0

    def ids_of(self, account: str) -> set[str]:
        return {c for a, c in self.used if a == account}

    def waiting_ids(self) -> list[str]:
        return [c for _, c in self.waiting]

    # --- the host's loop ------------------------------------------------------------------

    def free_capacity(self) -> int:
        return CAPACITY - len(self.active)

    def can_take(self, account: str) -> bool:
        return (
            self.free_capacity() > 0 and free_slots(self.subs[account], self.ledgers[account]) > 0
        )

    def check_no_passing(self, taken: WaitingCall | None, priority: int, account: str) -> None:
        """Before a call takes a slot: nobody ranked ahead of it could have taken that slot."""
        for other in self.queue.waiting():
            ahead = (
                other.rank < taken.rank
                if taken is not None
                else other.priority >= priority  # a new arrival ranks after equal priorities
            )
            if ahead and other.key != (taken.key if taken else None):
                assert not self.can_take(other.account_id), (
                    f"{other.call_id} ({other.account_id}) was passed by a call of {account}"
                )

    def record(self, call_id: str, account: str, decision: AdmissionDecision) -> None:
        event(type(decision).__name__)
        if isinstance(decision, Rejected):
            event(decision.reason.value)
        key = (account, call_id)
        if isinstance(decision, Admitted):
            assert key not in self.ever_admitted, f"{key} admitted twice"
            assert decision.reservation.call_id == call_id
            assert decision.reservation.seconds > 0, f"{key} holds no minutes"
            self.ever_admitted.add(key)
            self.active.add(key)
            self.waiting.pop(key, None)
        elif isinstance(decision, Queued):
            assert decision.call.key == key
            self.waiting[key] = decision.call
        else:
            self.waiting.pop(key, None)

    def drain(self) -> None:
        while (call := self.queue.next_admittable(self.now, self.can_take)) is not None:
            if any(other.rank < call.rank for other in self.queue.waiting()):
                event("a call started ahead of a waiting call that ranks higher")
            self.check_no_passing(call, call.priority, call.account_id)
            decision = admit(
                call,
                self.now,
                subscription=self.subs[call.account_id],
                ledger=self.ledgers[call.account_id],
                queue=self.queue,
                policy=POLICY,
                free_capacity=self.free_capacity(),
            )
            assert not isinstance(decision, Queued), "a call the host could take went back"
            self.record(call.call_id, call.account_id, decision)

    # --- rules ----------------------------------------------------------------------------

    @rule(
        account=st.sampled_from(sorted(TIERS)),
        max_seconds=st.sampled_from([None, 30, 60, 300]),
        data=st.data(),
    )
    def arrive(self, account: str, max_seconds: int | None, data: st.DataObject) -> None:
        # A new id, or one another account has waiting, or one it used (live or ended).
        own = self.ids_of(account)
        others = sorted({c for a, c in self.used if a != account} - own)
        waiting = sorted(set(self.waiting_ids()) - own)
        if bool(waiting) and data.draw(st.booleans(), label="an id waiting for another account"):
            call_id = data.draw(st.sampled_from(waiting), label="call_id")
            event("an id another account has waiting")
        elif bool(others) and data.draw(st.booleans(), label="an id another account used"):
            call_id = data.draw(st.sampled_from(others), label="call_id")
            event("an id another account used")
        else:
            self.calls += 1
            call_id = f"call-{self.calls}"
        self.used.add((account, call_id))
        sub, ledger = self.subs[account], self.ledgers[account]
        before_waiting = len(self.queue)
        slot = self.can_take(account) and not self.queue.waiting_for(account)
        if slot:
            self.check_no_passing(None, sub.plan.features.queue_priority, account)
        decision = admit(
            CallRequest(call_id, account, max_seconds),
            self.now,
            subscription=sub,
            ledger=ledger,
            queue=self.queue,
            policy=POLICY,
            free_capacity=self.free_capacity(),
        )
        if account == "lapsed":
            assert decision == Rejected(RejectionReason.SUBSCRIPTION_EXPIRED)
        elif isinstance(decision, Rejected):
            assert decision.reason in {RejectionReason.NO_MINUTES, RejectionReason.QUEUE_FULL}
            if decision.reason is RejectionReason.QUEUE_FULL:
                assert before_waiting == DEPTH
            else:
                assert ledger.available_seconds(self.now) == 0
        else:
            assert isinstance(decision, Admitted) == slot
        self.record(call_id, account, decision)

    @precondition(lambda self: self.active)
    @rule(data=st.data(), seconds=st.integers(0, 400))
    def end(self, data: st.DataObject, seconds: int) -> None:
        account, call_id = data.draw(st.sampled_from(sorted(self.active)))
        self.active.remove((account, call_id))
        self.ledgers[account].settle(call_id, timedelta(seconds=seconds), self.now)
        self.drain()

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def hang_up_while_ringing(self, data: st.DataObject) -> None:
        account, call_id = data.draw(st.sampled_from(sorted(self.active)))
        self.active.remove((account, call_id))
        ledger = self.ledgers[account]
        assert abandon_call(call_id, self.now, ledger=ledger, queue=self.queue)
        assert not abandon_call(call_id, self.now, ledger=ledger, queue=self.queue)
        self.drain()

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def hang_up_while_waiting(self, data: st.DataObject) -> None:
        account, call_id = data.draw(st.sampled_from(sorted(self.waiting)))
        self.waiting.pop((account, call_id))
        if call_id in self.waiting_ids():
            event("hang-up while another account's call of that id waits")
        ledger = self.ledgers[account]
        assert abandon_call(call_id, self.now, ledger=ledger, queue=self.queue)
        assert not abandon_call(call_id, self.now, ledger=ledger, queue=self.queue)

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        timed_out = self.queue.expire(self.now)
        for call in timed_out:
            assert call.expires_at <= self.now
            assert self.waiting.pop(call.key) == call
        assert all(c.expires_at > self.now for c in self.waiting.values())

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def slots_are_never_exceeded(self) -> None:
        total = 0
        for account, ledger in self.ledgers.items():
            active = ledger.active_calls()
            assert len(active) <= self.subs[account].plan.features.concurrent_calls
            assert active == {c for a, c in self.active if a == account}
            total += len(active)
        assert total <= CAPACITY

    @invariant()
    def every_admitted_call_holds_minutes(self) -> None:
        for account, call_id in self.active:
            hold = self.ledgers[account].reservation(call_id)
            assert hold is not None
            assert hold.seconds > 0

    @invariant()
    def the_queue_matches_the_model(self) -> None:
        assert len(self.queue) <= DEPTH
        live = {c.key for c in self.queue.waiting() if c.expires_at > self.now}
        assert live == {k for k, w in self.waiting.items() if w.expires_at > self.now}
        for key, call in self.waiting.items():
            if call.expires_at > self.now:
                assert self.queue.get(call.call_id, call.account_id) == call
                assert self.queue.by_key[key] == call
        ranks = [c.rank for c in self.queue.waiting()]
        assert ranks == sorted(ranks)
        for account in TIERS:
            assert self.queue.waiting_for(account) == sum(
                1 for w in self.waiting.values() if w.account_id == account
            )

    @invariant()
    def no_waiting_call_could_start(self) -> None:
        """After the host's drain, every waiting call's account is full (or the platform)."""
        for call in self.queue.waiting():
            if call.expires_at > self.now:
                assert not self.can_take(call.account_id)


TestAdmission = AdmissionMachine.TestCase
