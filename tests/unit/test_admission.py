"""Call admission: start now, wait in line, or refuse with a reason the host can show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingInterval, Money, OveragePolicy, Plan, PlanFeatures
from minutebill.domain.admission import (
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
from minutebill.domain.call_queue import CallQueue
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.subscriptions import PaymentOutcome, Subscription
from minutebill.errors import (
    IdempotencyConflict,
    InvalidTransition,
    ValidationError,
)

T0 = datetime(2025, 2, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=3)


def plan(code: str, minutes: int, concurrent: int, priority: int, **extra: object) -> Plan:
    return Plan(
        code=code,
        name=code.title(),
        price=Money("1000.00", "INR"),
        interval=BillingInterval.monthly(),
        included_minutes=minutes,
        features=PlanFeatures(
            concurrent_calls=concurrent,
            phone_numbers=1,
            queue_priority=priority,
            **extra,  # type: ignore[arg-type]
        ),
    )


STARTER = plan("starter", 1000, 2, 0)
ENTERPRISE = plan("enterprise", 20000, 5, 10)


class Account:
    """One account's subscription and ledger, and a shared queue, as a host would hold them."""

    def __init__(self, account_id: str, p: Plan, queue: CallQueue) -> None:
        self.ledger = MinuteLedger(account_id)
        self.sub = Subscription.start(account_id, p, T0, ledger=self.ledger)
        self.queue = queue

    def admit(
        self, call_id: str, at: datetime = NOW, **kwargs: object
    ) -> Admitted | Queued | Rejected:
        max_seconds = kwargs.pop("max_seconds", None)
        request = CallRequest(call_id, self.sub.account_id, max_seconds)  # type: ignore[arg-type]
        return admit(
            request,
            at,
            subscription=self.sub,
            ledger=self.ledger,
            queue=self.queue,
            **kwargs,  # type: ignore[arg-type]
        )

    def picture(self) -> tuple[object, ...]:
        return self.sub.to_state(), self.ledger.to_state(), self.queue.waiting()


def accounts(depth: int = 10) -> tuple[Account, Account, CallQueue]:
    queue = CallQueue(depth)
    return Account("acme", STARTER, queue), Account("globex", ENTERPRISE, queue), queue


def unchanged(account: Account, action: Callable[[], object]) -> object:
    before = account.picture()
    account.ledger.pull_events()
    result = action()
    assert account.picture() == before
    assert account.ledger.pull_events() == []
    return result


# --- admitted -------------------------------------------------------------------------------


def test_a_call_with_a_free_slot_and_minutes_starts_with_its_maximum_length_held() -> None:
    acme, _, _ = accounts()
    decision = acme.admit("c1", max_seconds=900)
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 900
    assert acme.ledger.active_calls() == {"c1"}
    assert free_slots(acme.sub, acme.ledger) == 1


@pytest.mark.parametrize(
    "zone", [ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York"), timezone(timedelta(hours=-3))]
)
def test_a_time_in_another_zone_admits_as_the_same_instant_in_utc(zone: tzinfo) -> None:
    in_utc, _, _ = accounts()
    in_zone, _, _ = accounts()
    expected = in_utc.admit("c1", NOW, max_seconds=900)

    decision = in_zone.admit("c1", NOW.astimezone(zone), max_seconds=900)

    assert isinstance(decision, Admitted)
    assert decision == expected
    assert decision.reservation.at.tzinfo is UTC
    assert decision.reservation.expires_at.tzinfo is UTC
    assert in_zone.picture() == in_utc.picture()


def test_without_a_maximum_length_the_policy_s_initial_hold_is_held() -> None:
    acme, _, _ = accounts()
    decision = acme.admit("c1", policy=AdmissionPolicy(initial_hold_seconds=120))
    assert isinstance(decision, Admitted)
    assert decision.reservation.requested == 120


def test_asking_again_for_an_admitted_call_returns_its_hold() -> None:
    acme, _, _ = accounts()
    first = acme.admit("c1")
    assert unchanged(acme, lambda: acme.admit("c1")) == first


def test_an_admitted_call_asked_about_again_keeps_its_hold_whatever_changed_since() -> None:
    acme, _, queue = accounts()
    first = acme.admit("c1", max_seconds=600)
    assert isinstance(first, Admitted)
    # Asked with another maximum length: the hold stands as placed.
    assert unchanged(acme, lambda: acme.admit("c1", max_seconds=900)) == first
    # No platform capacity left: its slot is taken already.
    assert unchanged(acme, lambda: acme.admit("c1", free_capacity=0)) == first
    # The account's slots full and a call of it waiting: still its hold, no place in line.
    assert isinstance(acme.admit("c2"), Admitted)
    assert isinstance(acme.admit("c3"), Queued)
    assert unchanged(acme, lambda: acme.admit("c1")) == first
    assert unchanged(acme, lambda: acme.admit("c1", max_seconds=900)) == first
    assert ("acme", "c1") not in queue
    assert len(queue) == 1
    # The paid period over: the live call keeps its hold; new calls are refused.
    end = acme.sub.current_period.end
    acme.sub.cancel(NOW)
    assert unchanged(acme, lambda: acme.admit("c1", at=end)) == first
    assert acme.admit("c4", at=end) == Rejected(RejectionReason.SUBSCRIPTION_EXPIRED)


def test_a_plan_that_bills_overage_admits_a_call_with_no_minutes_left() -> None:
    queue = CallQueue(5)
    payg = Account(
        "payg",
        plan("payg", 0, 2, 0, overage=OveragePolicy.charge_wallet(Money("1.50", "INR"))),
        queue,
    )
    decision = payg.admit("c1")
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 0


def test_with_no_minutes_and_overage_unfunded_a_call_is_rejected_not_run_or_queued() -> None:
    queue = CallQueue(5)
    payg = Account(
        "payg",
        plan("payg", 0, 1, 0, overage=OveragePolicy.charge_wallet(Money("1.50", "INR"))),
        queue,
    )
    no_minutes = Rejected(RejectionReason.NO_MINUTES)
    assert unchanged(payg, lambda: payg.admit("c1", overage_funded=False)) == no_minutes
    first = payg.admit("c1")  # funded: it runs on overage, and takes the only slot
    assert isinstance(first, Admitted)
    # Unfunded now: the admitted call keeps its hold; a new one neither starts nor waits.
    assert unchanged(payg, lambda: payg.admit("c1", overage_funded=False)) == first
    assert unchanged(payg, lambda: payg.admit("c2", overage_funded=False)) == no_minutes
    assert isinstance(payg.admit("c2"), Queued)  # funded, it waits for the slot


def test_with_minutes_left_unfunded_overage_does_not_stop_a_call() -> None:
    acme, _, _ = accounts()
    decision = acme.admit("c1", max_seconds=600, overage_funded=False)
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 600


# --- queued ---------------------------------------------------------------------------------


def test_a_call_beyond_the_plan_s_concurrent_calls_waits_in_line() -> None:
    acme, _, queue = accounts()
    acme.admit("c1")
    acme.admit("c2")
    decision = acme.admit("c3", max_seconds=600)
    assert isinstance(decision, Queued)
    assert decision.position == 1
    assert decision.call.hold_seconds == 600
    assert decision.call.priority == 0
    assert queue.waiting_for("acme") == 1
    assert unchanged(acme, lambda: acme.admit("c3")) == decision


def test_a_boosted_tier_waits_ahead_of_earlier_calls_when_the_platform_is_full() -> None:
    acme, globex, queue = accounts()
    assert isinstance(acme.admit("a1", free_capacity=0), Queued)
    assert isinstance(acme.admit("a2", free_capacity=0), Queued)
    boosted = globex.admit("g1", free_capacity=0)
    assert isinstance(boosted, Queued)
    assert boosted.position == 1
    assert [c.call_id for c in queue.waiting()] == ["g1", "a1", "a2"]


def test_a_new_call_never_passes_its_own_account_s_waiting_calls() -> None:
    acme, _, _ = accounts()
    acme.admit("a1", free_capacity=0)
    decision = acme.admit("a2")  # a slot is free, but a1 waits
    assert isinstance(decision, Queued)
    assert decision.position == 2


def test_when_a_slot_frees_the_best_waiting_call_starts() -> None:
    acme, _, queue = accounts()
    acme.admit("a1")
    acme.admit("a2")
    acme.admit("a3")
    assert abandon_call("a1", NOW, ledger=acme.ledger, queue=queue)
    waiting = queue.next_admittable(NOW, lambda account: free_slots(acme.sub, acme.ledger) > 0)
    assert waiting is not None
    assert waiting.call_id == "a3"
    decision = admit(waiting, NOW, subscription=acme.sub, ledger=acme.ledger, queue=queue)
    assert isinstance(decision, Admitted)
    assert acme.ledger.active_calls() == {"a2", "a3"}
    assert len(queue) == 0


def test_a_waiting_call_that_still_cannot_start_goes_back_to_its_place() -> None:
    acme, _, queue = accounts()
    acme.admit("a1")
    acme.admit("a2")
    acme.admit("a3")
    acme.admit("a4")
    waiting = queue.pop(NOW)
    assert waiting is not None
    decision = admit(waiting, NOW, subscription=acme.sub, ledger=acme.ledger, queue=queue)
    assert isinstance(decision, Queued)
    assert decision.position == 1
    assert [c.call_id for c in queue.waiting()] == ["a3", "a4"]


def test_a_call_taken_from_the_line_but_still_in_it_is_a_conflict() -> None:
    acme, _, queue = accounts()
    acme.admit("a1", free_capacity=0)
    waiting = queue.get("a1", "acme")
    assert waiting is not None
    with pytest.raises(IdempotencyConflict):
        admit(waiting, NOW, subscription=acme.sub, ledger=acme.ledger, queue=queue)


# --- call ids are unique per account, not across accounts -----------------------------------

SOLO = plan("solo", 1000, 1, 0)


def solo_accounts() -> tuple[Account, Account, CallQueue]:
    """Two accounts with one slot each, both taken: their next calls wait."""
    queue = CallQueue(10)
    a, b = Account("acct-a", SOLO, queue), Account("acct-b", SOLO, queue)
    assert isinstance(a.admit("live"), Admitted)
    assert isinstance(b.admit("live"), Admitted)
    return a, b, queue


def test_two_accounts_waiting_with_the_same_call_id_each_get_their_own_place() -> None:
    a, b, queue = solo_accounts()
    first, second = a.admit("c-1"), b.admit("c-1")
    assert isinstance(first, Queued)
    assert isinstance(second, Queued)
    assert (first.position, first.call.account_id) == (1, "acct-a")
    assert (second.position, second.call.account_id) == (2, "acct-b")
    assert len(queue) == 2
    # Asking again: each account hears about its own call, and nothing changes.
    assert unchanged(b, lambda: b.admit("c-1")) == second
    assert unchanged(a, lambda: a.admit("c-1")) == first


def test_a_call_id_waiting_for_another_account_does_not_make_a_new_call_wait() -> None:
    a, _, queue = solo_accounts()
    assert isinstance(a.admit("c-1"), Queued)
    globex = Account("globex", ENTERPRISE, queue)
    decision = globex.admit("c-1")
    assert isinstance(decision, Admitted)
    assert decision.reservation.call_id == "c-1"
    assert globex.ledger.active_calls() == {"c-1"}
    assert [c.key for c in queue.waiting()] == [("acct-a", "c-1")]


def test_abandoning_a_waiting_call_leaves_another_account_s_call_of_that_id() -> None:
    a, b, queue = solo_accounts()
    a.admit("c-1")
    waiting = b.admit("c-1")
    assert isinstance(waiting, Queued)
    assert abandon_call("c-1", NOW, ledger=a.ledger, queue=queue)
    assert not abandon_call("c-1", NOW, ledger=a.ledger, queue=queue)
    assert a.ledger.active_calls() == {"live"}  # its live call keeps its hold
    assert queue.waiting() == (waiting.call,)
    assert b.admit("c-1") == Queued(1, waiting.call)  # one place ahead now


def test_a_call_taken_from_the_line_starts_while_another_account_s_call_of_its_id_waits() -> None:
    a, b, queue = solo_accounts()
    a.admit("c-1")
    b.admit("c-1")
    assert abandon_call("live", NOW, ledger=b.ledger, queue=queue)
    taken = queue.next_admittable(NOW, lambda account: account == "acct-b")
    assert taken is not None
    assert taken.key == ("acct-b", "c-1")
    decision = admit(taken, NOW, subscription=b.sub, ledger=b.ledger, queue=queue)
    assert isinstance(decision, Admitted)
    assert b.ledger.active_calls() == {"c-1"}
    assert a.ledger.active_calls() == {"live"}
    assert [c.key for c in queue.waiting()] == [("acct-a", "c-1")]


# --- rejected -------------------------------------------------------------------------------


def test_a_full_line_rejects_with_a_reason_and_changes_nothing() -> None:
    acme, _, _ = accounts(depth=1)
    acme.admit("a1", free_capacity=0)
    decision = unchanged(acme, lambda: acme.admit("a2", free_capacity=0))
    assert decision == Rejected(RejectionReason.QUEUE_FULL)


def test_no_minutes_left_rejects_under_a_blocking_plan_and_changes_nothing() -> None:
    queue = CallQueue(5)
    empty = Account("empty", plan("empty", 1, 1, 0), queue)
    assert isinstance(empty.admit("c1", max_seconds=60), Admitted)
    decision = unchanged(empty, lambda: empty.admit("c2"))  # would wait: no minutes to wait for
    assert decision == Rejected(RejectionReason.NO_MINUTES)
    abandon_call("c1", NOW, ledger=empty.ledger, queue=queue)
    empty.ledger.reserve("other", 60, NOW)
    empty.ledger.release("other", NOW)
    bare = Account("bare", plan("bare", 0, 1, 0), queue)
    decision = unchanged(bare, lambda: bare.admit("c3"))
    assert isinstance(decision, Rejected)
    assert decision.reason is RejectionReason.NO_MINUTES
    assert "minutes" in decision.message


def test_seconds_too_few_for_the_shortest_call_do_not_let_a_call_wait_under_a_blocking_plan() -> (
    None
):
    """60/6 with 30 s free and no slot: any call is billed 60 s, so it could never start.

    It is refused now rather than kept in line until it times out; 60 s free let it wait.
    """
    queue = CallQueue(5)
    six = plan("six", 3, 1, 0, rating=BillingIncrement(60, 6))  # 180 s; overage blocks
    short = Account("short", six, queue)
    assert isinstance(short.admit("c1", max_seconds=150), Admitted)  # holds 150 s: 30 s free
    assert short.ledger.available_seconds(NOW) == 30
    decision = unchanged(short, lambda: short.admit("c2"))
    assert decision == Rejected(RejectionReason.NO_MINUTES)
    assert queue.waiting() == ()
    roomy = Account("roomy", six, queue)
    assert isinstance(roomy.admit("c1", max_seconds=120), Admitted)  # 60 s free: a call fits
    assert isinstance(roomy.admit("c2"), Queued)


def test_an_expired_subscription_rejects_calls_with_a_reason_the_host_can_show() -> None:
    acme, _, _ = accounts()
    acme.sub.cancel(NOW)
    end = acme.sub.current_period.end
    assert isinstance(acme.admit("c1", at=end - timedelta(seconds=1)), Admitted)
    # Not yet lapsed by the due-work job, but the paid period is over.
    decision = unchanged(acme, lambda: acme.admit("c2", at=end))
    assert decision == Rejected(RejectionReason.SUBSCRIPTION_EXPIRED)
    acme.sub.lapse(end)
    decision = unchanged(acme, lambda: acme.admit("c3", at=end + timedelta(days=1)))
    assert isinstance(decision, Rejected)
    assert decision.message == "Your plan has expired. Renew or choose a plan to place calls."


def test_past_due_within_grace_admits_unless_the_policy_says_otherwise() -> None:
    acme, _, _ = accounts()
    acme.ledger.grant("bundle", GrantSource.BUNDLE, 600, T0)
    due = acme.sub.current_period.end
    acme.sub.renew(due, PaymentOutcome.FAILED, acme.ledger)
    later = due + timedelta(days=1)
    strict = AdmissionPolicy(admit_past_due=False)
    decision = unchanged(acme, lambda: acme.admit("c1", at=later, policy=strict))
    assert decision == Rejected(RejectionReason.SUBSCRIPTION_PAST_DUE)
    assert isinstance(acme.admit("c2", at=later), Admitted)  # the bundle's minutes
    gone = acme.sub.grace_until
    assert gone is not None
    decision = unchanged(acme, lambda: acme.admit("c3", at=gone))
    assert decision == Rejected(RejectionReason.SUBSCRIPTION_EXPIRED)


def test_a_call_before_the_plan_starts_is_rejected_as_inactive() -> None:
    acme, _, _ = accounts()
    decision = unchanged(acme, lambda: acme.admit("c1", at=T0 - timedelta(seconds=1)))
    assert decision == Rejected(RejectionReason.SUBSCRIPTION_INACTIVE)


def test_every_reason_has_its_own_text() -> None:
    messages = [reason.message for reason in RejectionReason]
    assert all(m.endswith(".") for m in messages)
    assert len(set(messages)) == len(messages)


# --- freeing slots --------------------------------------------------------------------------


def test_abandoning_frees_a_slot_or_a_place_exactly_once() -> None:
    acme, _, queue = accounts()
    acme.admit("a1")
    acme.admit("a2")
    acme.admit("a3")
    assert abandon_call("a3", NOW, ledger=acme.ledger, queue=queue)
    assert not abandon_call("a3", NOW, ledger=acme.ledger, queue=queue)
    assert abandon_call("a1", NOW, ledger=acme.ledger, queue=queue)
    assert not abandon_call("a1", NOW, ledger=acme.ledger, queue=queue)
    assert not abandon_call("never", NOW, ledger=acme.ledger, queue=queue)
    assert acme.ledger.active_calls() == {"a2"}
    assert free_slots(acme.sub, acme.ledger) == 1


def test_a_settled_call_cannot_be_admitted_again() -> None:
    acme, _, _ = accounts()
    acme.admit("a1")
    acme.ledger.settle("a1", timedelta(minutes=2), NOW + timedelta(minutes=2))
    with pytest.raises(InvalidTransition):
        unchanged(acme, lambda: acme.admit("a1"))


@pytest.mark.parametrize("ending", ["settled", "released", "hold expired"])
def test_an_ended_call_is_refused_when_it_would_wait_or_be_rejected(ending: str) -> None:
    acme, _, _ = accounts()
    acme.admit("a1")
    if ending == "settled":
        acme.ledger.settle("a1", timedelta(minutes=2), NOW + timedelta(minutes=2))
    elif ending == "released":
        acme.ledger.release("a1", NOW)
    else:
        acme.ledger.expire_holds(NOW + timedelta(days=1))
    acme.admit("a2")
    acme.admit("a3")  # both slots taken: a new call would wait
    with pytest.raises(InvalidTransition, match=f"start call 'a1' while it is {ending}"):
        unchanged(acme, lambda: acme.admit("a1"))
    acme.sub.cancel(NOW)
    end = acme.sub.current_period.end  # the plan is over: a new call would be rejected
    with pytest.raises(InvalidTransition, match=f"while it is {ending}"):
        unchanged(acme, lambda: acme.admit("a1", at=end))


# --- bad input ------------------------------------------------------------------------------


def test_aggregates_of_another_account_are_refused() -> None:
    acme, globex, queue = accounts()

    def mixed() -> object:
        return admit(
            CallRequest("c1", "acme"), NOW, subscription=globex.sub, ledger=acme.ledger, queue=queue
        )

    def mixed_ledger() -> object:
        return admit(
            CallRequest("c1", "acme"), NOW, subscription=acme.sub, ledger=globex.ledger, queue=queue
        )

    for action in (mixed, mixed_ledger, lambda: acme.admit("c1", free_capacity=-1)):
        with pytest.raises(ValidationError):
            unchanged(acme, action)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: CallRequest("", "acme"), "call_id"),
        (lambda: CallRequest("c", ""), "account_id"),
        (lambda: CallRequest("c", "acme", 0), "max_seconds"),
        (lambda: AdmissionPolicy(initial_hold_seconds=0), "initial_hold_seconds"),
    ],
)
def test_bad_values_are_refused(build: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        build()
    assert error.value.field == field


# --- properties -----------------------------------------------------------------------------


@given(st.lists(st.integers(1, 3600), min_size=1, max_size=12), st.integers(1, 4))
def test_never_more_active_calls_than_the_plan_allows(lengths: list[int], slots: int) -> None:
    queue = CallQueue(50)
    account = Account("acme", plan("p", 100, slots, 0), queue)
    outcomes = [account.admit(f"c{i}", max_seconds=s) for i, s in enumerate(lengths)]
    admitted = [o for o in outcomes if isinstance(o, Admitted)]
    assert len(account.ledger.active_calls()) == len(admitted) <= slots
    held = sum(o.reservation.seconds for o in admitted)
    assert held <= 6000
    assert all(o.reservation.seconds > 0 for o in admitted)
    waiting = [o for o in outcomes if isinstance(o, Queued)]
    assert [w.position for w in waiting] == list(range(1, len(waiting) + 1))
    rejected = [o for o in outcomes if isinstance(o, Rejected)]
    assert all(r.reason is RejectionReason.NO_MINUTES for r in rejected)


def test_an_account_out_of_concurrency_keeps_its_line_position_while_others_start() -> None:
    acme, globex, queue = accounts()
    for i in range(3):
        acme.admit(f"a{i}")
    assert [c.call_id for c in queue.waiting()] == ["a2"]
    assert isinstance(globex.admit("g1"), Admitted)
    assert [c.call_id for c in queue.waiting()] == ["a2"]


def test_a_waiting_call_times_out() -> None:
    acme, _, queue = accounts()
    acme.admit("a1")
    acme.admit("a2")
    acme.admit("a3")
    timed_out = queue.expire(NOW + queue.ttl)
    assert [c.call_id for c in timed_out] == ["a3"]
    assert RejectionReason.TIMED_OUT.message
