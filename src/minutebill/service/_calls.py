"""Calls: may this call start, what did it cost, and the line of calls waiting for a slot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.admission import (
    AdmissionDecision,
    Admitted,
    CallRequest,
    abandon_call,
    admit,
)
from minutebill.domain.call_queue import WaitingCall
from minutebill.domain.catalog import OverageMode
from minutebill.domain.ledger import MinuteLedger, UsageRecord
from minutebill.domain.money import Money
from minutebill.domain.overage_funds import OverageFunds
from minutebill.domain.subscriptions import Subscription, SubscriptionStatus
from minutebill.domain.text import require_key
from minutebill.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    ValidationError,
)
from minutebill.service._base import ServiceBase

__all__ = ["CallsMixin"]


class CallsMixin(ServiceBase):
    """Use cases of live calls."""

    def start_call(
        self, account_id: str, call_id: str, *, max_seconds: int | None = None
    ) -> AdmissionDecision:
        """Decide whether a call may start now and, if so, hold its minutes.

        Call ids are not reused: a call that was settled (by `end_call`, with or without a
        hold) is refused for as long as its usage record is kept, and so is one that was
        released or whose hold expired, among the account's last 256 such calls. The usage
        record is looked up by its primary key, ``(account_id, call_id)``, because the ledger
        remembers settled calls only while it is loaded: one extra read per start, a dict
        lookup in memory, an indexed ``SELECT`` on SQLite, and on PostgreSQL one more round
        trip. A record is decoded only for a refused call.

        A call without minutes enough for its length runs on overage if the plan allows it:
        billed in arrears, as long as asked; charged to the wallet, as long as the wallet's
        money that no other live call keeps pays for (with tax), and its hold keeps that money
        until the call ends (`Reservation.funds`). `Reservation.max_seconds` says how long.

        Args:
            account_id: Who pays for the call.
            call_id: The host's id of the call, unique per account.
            max_seconds: The call's maximum length (the hold is of what such a call is billed;
                `Reservation.max_seconds` is the call's cap); None holds the admission
                policy's initial hold.

        Returns:
            `Admitted` (with the hold), `Queued` (with the place in line) or `Rejected`
            (with a reason a host can show). Asking again for the same call returns the same.

        Raises:
            NotFound: for an unknown account.
            ValidationError: for a bad call id or length.
            InvalidTransition: for a call id that was settled, released or whose hold expired
                before (call ids are not reused), whether or not a slot is free. Nothing
                changes: no hold, no place in line.
        """
        request = CallRequest(call_id, account_id, max_seconds)
        at = self._now()

        def work(uow: UnitOfWork) -> AdmissionDecision:
            subscription = self._subscription(uow, account_id)
            ledger = self._ledger(uow, account_id)
            # After the ledger is loaded (on PostgreSQL: locked), so a settlement of this call
            # that committed first is seen; one committing meanwhile makes a hold taken here
            # conflict (the retry sees it), and `admit_waiting` turns away a call queued here.
            _refuse_settled(uow, account_id, call_id, "start")
            if _period_over(ledger, at):
                self._catch_up_plan(uow, subscription, at)
            return admit(
                request,
                at,
                subscription=subscription,
                ledger=ledger,
                queue=self.queue,
                policy=self.admission,
                overage_funded=self._overage_funded(uow, ledger, at),
                overage_funds=self._overage_funds(uow, ledger),
            )

        return self._run(work)

    def end_call(
        self,
        account_id: str,
        call_id: str,
        duration: timedelta,
        *,
        started_at: datetime | None = None,
        tags: Iterable[str] = (),
    ) -> UsageRecord:
        """Rate and debit a finished call (exactly once per call id).

        The hold is debited first, then further grants; seconds no grant covers are overage,
        charged to the wallet when the plan says so (as much as the wallet holds; the rest
        stays recorded on the usage record). Overage billed in arrears waits for the renewal,
        unless the plan has ended: then the wallet pays it the same way. Ending the same call
        again with the same input returns the first record and changes nothing.

        The host reports what happened, so any call it ends is billed as reported, also one
        without a hold: usage imported from call detail records, a call whose hold expired,
        or a call that is still waiting in this process's line (say, an inbound caller who
        heard the hold message, on a platform that bills that). Such a call leaves the line
        once it is settled and is never admitted afterwards. A call that never connected is
        not ended but released (`release_call`): that bills nothing.

        A call ended after the plan's period end, before `run_due` has renewed the plan, has
        the renewal done first, as `run_due` would do it (paid from the wallet, else past
        due): the call is rated on the new period's minutes, whatever the scheduler's lag.
        `start_call` and `admit_waiting` do the same.

        Raises:
            NotFound: for an unknown account.
            ValidationError: for a duration that is negative or longer than
                `MAX_CALL_DURATION` (31 days), a bad time, or tags that are not an iterable of
                non-empty strings (None included: no tags is ``()``).
            IdempotencyConflict: if the call was already ended with other input.
            InvalidTransition: if the call was released (it never connected).
        """
        require_key("call_id", call_id)
        if isinstance(tags, str):  # tuple("abc") would bill the call to tags "a", "b", "c"
            raise ValidationError("tags", tags, "an iterable of strings, not a string")
        try:
            labels = tuple(tags)
        except TypeError:  # None, a number: not an iterable
            raise ValidationError("tags", tags, "an iterable of strings") from None
        at = self._now()

        def settle(uow: UnitOfWork, previous: UsageRecord | None) -> UsageRecord:
            ledger = self._ledger(uow, account_id)
            if previous is None and _period_over(ledger, at):
                # Rate the call on the renewed period's minutes, not as the ended one's overage.
                self._catch_up_plan(uow, self._subscription(uow, account_id), at)
            record = ledger.settle(
                call_id,
                duration,
                at,
                started_at=started_at,
                tags=labels,
                previous=previous,
            )
            if record is previous:
                return record
            uow.usage.add(record, local_day=self._local_day(uow, account_id, at))
            self._charge_overage(uow, ledger, record)
            return record

        try:
            record = self._run(lambda uow: settle(uow, None))
        except IdempotencyConflict as conflict:
            stored_first = conflict
        else:
            self._leave_line(account_id, call_id)
            return record

        # The call was stored already (a retry): replay it against the stored record.
        def replay(uow: UnitOfWork) -> UsageRecord:
            previous = uow.usage.get(account_id, call_id)
            if previous is None:
                raise stored_first
            return settle(uow, previous)

        record = self._run(replay)
        self._leave_line(account_id, call_id)
        return record

    def _leave_line(self, account_id: str, call_id: str) -> None:
        """Take a settled call of `account_id` out of this process's line, if it waits there.

        Done after the commit, so a failed settlement leaves the call waiting. A call that
        waits in another process's line is turned away there by `admit_waiting`.
        """
        self.queue.abandon(call_id, account_id)

    def _overage_funded(self, uow: UnitOfWork, ledger: MinuteLedger, at: datetime) -> bool:
        """Whether a call with no minutes left could be paid for: overage is prepaid.

        Under charge-the-wallet the wallet pays overage as calls end, so a call that would
        run on overage starts only if the wallet holds the first charge such a call incurs,
        tax included: its first billed increment (Pro, 60/60 at INR 1.50 a minute: INR
        1.50), or, if that prices to nothing, the shortest length that costs a minor unit
        (JPY 3 a minute per second: JPY 1, for 10 s; see `OveragePolicy.first_charge`). The
        wallet is read only when no minutes are left (fewer seconds than the shortest call
        is billed count as none: they hold nothing); other overage policies need nothing of
        it, and neither does a rate at which no call costs anything.
        """
        policy = ledger.policy
        overage = policy.overage
        if overage.mode is not OverageMode.CHARGE_WALLET:
            return True
        if ledger.available_seconds(at) >= policy.rating.shortest_billed_seconds:
            return True
        first = overage.first_charge(policy.rating)
        if first is None:  # a rate of zero: overage costs nothing
            return True
        return self._unkept_funds(uow, ledger) >= self._gross(first)

    def _unkept_funds(self, uow: UnitOfWork, ledger: MinuteLedger) -> Money:
        """The wallet's balance less what live calls keep of it for their overage."""
        balance = self._wallet(uow, ledger.account_id).balance
        kept = ledger.earmarked()
        if kept is None:
            return balance
        return balance - kept if kept < balance else Money.zero(balance.currency)

    def _overage_funds(self, uow: UnitOfWork, ledger: MinuteLedger) -> OverageFunds | None:
        """What a call without minutes enough may run on under charge-the-wallet, else None.

        The wallet is read only if the call's hold is partial (`OverageFunds.available`);
        the price of its overage is the rated charge with the tax the wallet pays it with.
        """
        overage = ledger.policy.overage
        if overage.mode is not OverageMode.CHARGE_WALLET:
            return None

        def price(seconds: int) -> Money | None:
            charge = overage.charge_for(seconds)
            return None if charge is None else self._gross(charge)

        return OverageFunds(available=partial(self._unkept_funds, uow, ledger), price=price)

    def _charge_overage(self, uow: UnitOfWork, ledger: MinuteLedger, record: UsageRecord) -> None:
        """Debit the call's overage from the wallet, with tax, as far as the balance goes.

        Not into the money other live calls keep (`Reservation.funds`): a call that ran past
        its cap pays its excess from what no call keeps, and what that cannot pay stays on
        its record, so the calls still running get what they were promised. Under
        charge-the-wallet, always. Billed in arrears, overage waits for the plan's
        renewal, or is taken from the wallet when the plan ends (`_lapse`); a call that ends
        after the plan ended has no renewal left to carry it, so the wallet pays it now.

        The record keeps the rated (net) charge; the wallet, untaxed stored value, pays the
        service with its tax, as for renewals (see `_gross`).
        """
        charge = record.overage_charge
        if charge is None:
            return
        mode = ledger.policy.overage.mode
        if mode is OverageMode.BILL_IN_ARREARS:
            subscription = self._subscription(uow, record.account_id)
            if subscription.status is not SubscriptionStatus.EXPIRED:
                return  # billed with the renewal, or when the plan ends
        elif mode is not OverageMode.CHARGE_WALLET:
            return
        wallet = self._wallet(uow, record.account_id)
        # The call's own hold is gone by now: what is kept is the other calls'.
        payable = min(self._gross(charge), self._unkept_funds(uow, ledger))
        if payable.amount > 0:
            try:
                wallet.debit(
                    payable,
                    f"overage:{record.call_id}",
                    record.settled_at,
                    reason="overage",
                    reference=record.call_id,
                )
            except InsufficientFunds:  # pragma: no cover - payable never exceeds the balance
                return
            ledger.note_overage_paid(record, payable)  # given back if a paid renewal covers it

    def release_call(self, account_id: str, call_id: str) -> bool:
        """Free the slot and minutes of a call that never connected (or stop it waiting).

        Returns:
            True the first time, False when there was nothing to free.

        Raises:
            NotFound: for an unknown account.
            InvalidTransition: if the call was already settled (its usage record is kept);
                nothing changes.
        """
        require_key("call_id", call_id)
        at = self._now()

        def work(uow: UnitOfWork) -> bool:
            ledger = self._ledger(uow, account_id)
            freed = abandon_call(call_id, at, ledger=ledger, queue=self.queue)
            if not freed:  # nothing held or waiting: a settled call is refused, not ignored
                _refuse_settled(uow, account_id, call_id, "release")
            return freed

        return self._run(work)

    def admit_waiting(self, account_id: str) -> list[Admitted]:
        """Start the account's waiting calls that can start now.

        Call it when a call ended or was released (a slot freed), and when minutes or money
        arrived (a bundle or a top-up was paid): calls waiting for those start only here.

        A waiting call that ended meanwhile (settled or released, perhaps by another process
        with a line of its own) leaves the line without being admitted; checking costs one
        lookup of its usage record by primary key per call taken from the line.

        A waiting call that cannot start yet (no minutes left, a wallet that cannot pay its
        first charge, a plan not in service) keeps its place: it starts on a later call
        once minutes or money arrived, or times out.

        Returns:
            The calls admitted now, best-ranked first.
        """
        at = self._now()
        # Calls that timed out are swept by `next_admittable` and kept for the host's
        # `queue.expire`, which reports them: collecting them here would lose them unseen.
        taken: list[WaitingCall] = []  # from the line, by the attempt now running

        def work(uow: UnitOfWork) -> list[Admitted]:
            subscription = self._subscription(uow, account_id)
            ledger = self._ledger(uow, account_id)
            if _period_over(ledger, at):
                self._catch_up_plan(uow, subscription, at)
            admitted: list[tuple[WaitingCall, Admitted]] = []
            try:
                self._take_waiting(uow, subscription, ledger, at, admitted)
            finally:
                taken.extend(waiting for waiting, _ in admitted)
            return [decision for _, decision in admitted]

        def put_back() -> None:
            # The attempt did not commit (the work or the commit failed): its calls go back
            # to their places in line, before a retry takes them again.
            for waiting in taken:
                self.queue.requeue(waiting)
            taken.clear()

        return self._run(work, undo=put_back)

    def _take_waiting(
        self,
        uow: UnitOfWork,
        subscription: Subscription,
        ledger: MinuteLedger,
        at: datetime,
        taken: list[tuple[WaitingCall, Admitted]],
    ) -> None:
        account_id = subscription.account_id
        limit = subscription.plan.features.concurrent_calls
        while True:
            waiting = self.queue.next_admittable(
                at, lambda acc: acc == account_id and ledger.active_count() < limit
            )
            if waiting is None:
                return
            # A call that ended while it waited is out of the line now, and stays out (it is
            # not among the calls put back if this attempt fails): it is never admitted.
            if uow.usage.get(account_id, waiting.call_id) is not None:
                continue
            try:
                decision = admit(
                    waiting,
                    at,
                    subscription=subscription,
                    ledger=ledger,
                    queue=self.queue,
                    policy=self.admission,
                    # Asked per call: the call admitted before may have held the last seconds.
                    overage_funded=self._overage_funded(uow, ledger, at),
                    overage_funds=self._overage_funds(uow, ledger),
                )
            except InvalidTransition:  # released or hold-expired on the ledger meanwhile
                continue
            if not isinstance(decision, Admitted):
                # Rejected (no minutes, nothing in the wallet, plan not in service): only the
                # admitted calls are answered, so the call keeps its place rather than leave
                # the line unseen. It starts once minutes or money arrive, or times out.
                if self.queue.get(waiting.call_id, account_id) is None:
                    self.queue.requeue(waiting)
                return
            taken.append((waiting, decision))


def _period_over(ledger: MinuteLedger, at: datetime) -> bool:
    """Whether `at` is past the ledger's period, so the plan may be due for renewal.

    A cheap guard for the hot paths: the subscription is asked only then.
    """
    period = ledger.period
    return period is not None and at >= period.end


def _refuse_settled(uow: UnitOfWork, account_id: str, call_id: str, action: str) -> None:
    """Refuse `action` on a call the store has a usage record of: call ids are not reused.

    The ledger forgets the calls it settled when it is reloaded; the usage records keep them.
    One lookup by primary key; a record is decoded only when there is one.

    Raises:
        InvalidTransition: if the call was settled.
    """
    if uow.usage.get(account_id, call_id) is not None:
        raise InvalidTransition(f"call {call_id!r}", "settled", action)
