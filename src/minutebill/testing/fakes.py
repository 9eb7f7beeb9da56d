"""Test doubles that implement minutebill's ports: `FakePaymentGateway` and `FixedClock`.

Like httpx's ``MockTransport``, they ship with the library so host applications can test their
checkout without a network or a sandbox account. They keep in-memory state but never read the
wall clock: time comes from the clock you pass in.

```python
from datetime import UTC, datetime
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome

clock = FixedClock(datetime(2024, 5, 1, tzinfo=UTC))
gateway = FakePaymentGateway(secret=b"whsec_test", clock=clock)
gateway.script(Outcome.LATE_SUCCESS)  # the next payment fails, then succeeds 3 minutes later
```
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar

from attrs import define, evolve, field, frozen
from pydantic import ValidationError as PydanticValidationError

from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.periods import to_utc
from minutebill.errors import (
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    NotFound,
    ValidationError,
    WebhookVerificationError,
)
from minutebill.gateway import (
    GatewayPayment,
    GatewayRefund,
    MandateChargeRequest,
    PaymentRequest,
    RefundRequest,
    RefundStatus,
)
from minutebill.ports import Clock
from minutebill.schemas import WebhookPayload, first_error

__all__ = [
    "SIGNATURE_HEADER",
    "FakeGatewayDriver",
    "FakePaymentGateway",
    "FixedClock",
    "Outcome",
    "Webhook",
    "sign",
]

SIGNATURE_HEADER = "X-Minutebill-Signature"
"""The header carrying ``sha256=<hex HMAC-SHA256 of the raw body>``."""


class FixedClock:
    """A `Clock` that says what you tell it: starts at `now`, moves only with `advance`.

    Raises:
        ValidationError: for a naive datetime.
    """

    def __init__(self, now: datetime) -> None:
        self._now = to_utc(now, "now")

    def now(self) -> datetime:
        """The current (fixed) instant, in UTC."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new instant.

        Raises:
            ValidationError: for a negative delta (time does not run backwards).
        """
        if not isinstance(delta, timedelta) or delta < timedelta(0):
            raise ValidationError("delta", delta, "a non-negative timedelta")
        self._now += delta
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to `now` (tests that need an exact instant)."""
        self._now = to_utc(now, "now")


class Outcome(enum.Enum):
    """What the fake does with the next payment it is asked to create or charge.

    For refunds (`FakePaymentGateway.script_refunds`) SUCCEED, FAIL, STAY_PENDING, TIME_OUT
    and UNAVAILABLE mean the same for the refund.
    """

    SUCCEED = "succeed"
    """Captured at once: SUCCEEDED."""
    FAIL = "fail"
    """Declined: FAILED."""
    STAY_PENDING = "stay_pending"
    """PENDING until the test moves it (`FakePaymentGateway.move`)."""
    REQUIRE_ACTION = "require_action"
    """ACTION_REQUIRED (3-D Secure, a UPI approval), with a `next_action_url`."""
    LATE_SUCCESS = "late_success"
    """FAILED now, then SUCCEEDED once the clock passes `late_after` (late authorisation)."""
    TIME_OUT = "time_out"
    """Captured, but the call raises `GatewayTimeout`: the response was lost, not the payment."""
    UNAVAILABLE = "unavailable"
    """The call raises `GatewayUnavailable` and nothing happens."""


def sign(body: bytes, secret: bytes) -> str:
    """The signature header value for `body`: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@frozen
class Webhook:
    """A signed webhook as it would arrive over HTTP: raw body bytes and headers.

    Attributes:
        body: The raw JSON bytes the signature covers.
        headers: Header names and values.
    """

    body: bytes
    headers: Mapping[str, str]

    @property
    def event_type(self) -> str:
        """The payload's ``type`` (for tests that pick webhooks)."""
        return str(json.loads(self.body)["type"])


@define
class _Record:
    payment: GatewayPayment
    refunded_minor: int = 0
    refund_keys: dict[str, tuple[RefundRequest, GatewayRefund]] = field(factory=dict)


_EVENT_OF = {
    PaymentStatus.PENDING: PaymentEventKind.PENDING,
    PaymentStatus.ACTION_REQUIRED: PaymentEventKind.ACTION_REQUIRED,
    PaymentStatus.AUTHORIZED: PaymentEventKind.AUTHORIZED,
    PaymentStatus.SUCCEEDED: PaymentEventKind.SUCCEEDED,
    PaymentStatus.FAILED: PaymentEventKind.FAILED,
    PaymentStatus.CANCELED: PaymentEventKind.CANCELED,
}

_REFUND_STATUS = {
    Outcome.SUCCEED: RefundStatus.SUCCEEDED,
    Outcome.TIME_OUT: RefundStatus.SUCCEEDED,
    Outcome.FAIL: RefundStatus.FAILED,
    Outcome.STAY_PENDING: RefundStatus.PENDING,
}

_FIRST_STATUS = {
    Outcome.SUCCEED: PaymentStatus.SUCCEEDED,
    Outcome.TIME_OUT: PaymentStatus.SUCCEEDED,
    Outcome.FAIL: PaymentStatus.FAILED,
    Outcome.LATE_SUCCESS: PaymentStatus.FAILED,
    Outcome.STAY_PENDING: PaymentStatus.PENDING,
    Outcome.REQUIRE_ACTION: PaymentStatus.ACTION_REQUIRED,
}


class FakePaymentGateway:
    """An in-memory `PaymentGateway` whose outcomes a test scripts.

    Each create or mandate charge takes the next scripted `Outcome` (then `default`); each
    refund call takes the next outcome scripted with `script_refunds` (then SUCCEED), and is
    kept in `refund_calls`. Every status change queues a webhook signed with HMAC-SHA256 over
    its raw body; `take_webhooks` hands over those due by the clock, and the test delivers them
    as it likes — twice, late, reordered. It keeps the promises of `PaymentGateway`:
    idempotency keys, refund limits, constant-time signature checks.

    Args:
        secret: The webhook signing secret.
        clock: Where the fake reads "now" (a `FixedClock` in tests).
        default: The outcome when nothing is scripted.
        late_after: How long a `LATE_SUCCESS` stays FAILED.
        no_auth_limit: Mandate charges above it need the customer (ACTION_REQUIRED); INR
            15,000 by default. Charges in another currency have no such limit.
        echo_refund_reference: Whether refund webhooks carry our refund id (the default) or,
            as Razorpay's and Stripe's may, only the gateway's (``rfnd_...``, the
            `GatewayRefund.refund_id` its refund call answers with). The answer itself
            always echoes ours.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        clock: Clock,
        default: Outcome = Outcome.SUCCEED,
        late_after: timedelta = timedelta(minutes=3),
        no_auth_limit: Money | None = None,
        echo_refund_reference: bool = True,
    ) -> None:
        if not isinstance(secret, bytes) or not secret:
            raise ValidationError("secret", "<secret>", "non-empty bytes")
        self._secret = secret
        self._clock = clock
        self._default = default
        self._late_after = late_after
        self._no_auth_limit = Money("15000.00", "INR") if no_auth_limit is None else no_auth_limit
        self._echo_refund_reference = echo_refund_reference
        self._script: deque[Outcome] = deque()
        self._by_reference: dict[str, Outcome] = {}
        self._payments: dict[str, _Record] = {}
        self._keys: dict[str, tuple[PaymentRequest | MandateChargeRequest, str]] = {}
        self._mandates: set[str] = set()
        self._scheduled: list[tuple[datetime, str, PaymentStatus]] = []
        self._refund_script: deque[Outcome] = deque()
        self._refund_calls: list[RefundRequest] = []
        self._outbox: list[tuple[datetime, Webhook]] = []
        self._serial = 0

    # --- scripting -----------------------------------------------------------------------

    def script(self, *outcomes: Outcome) -> None:
        """Queue outcomes for the next payments created or charged, in order."""
        self._script.extend(outcomes)

    def script_refunds(self, *outcomes: Outcome) -> None:
        """Queue outcomes for the next refund calls, in order (unscripted calls succeed).

        SUCCEED refunds at once; FAIL answers with a FAILED refund (nothing refunded);
        STAY_PENDING answers with a PENDING refund that the fake never settles (its amount
        stays reserved); TIME_OUT refunds, then raises `GatewayTimeout` (the answer is lost,
        not the refund); UNAVAILABLE raises `GatewayUnavailable` and does nothing. A call
        repeating an earlier request's key still takes an outcome: TIME_OUT and UNAVAILABLE
        raise as they say, the others answer with the refund the key made.

        Raises:
            ValidationError: for an outcome that has no meaning for a refund.
        """
        for outcome in outcomes:
            if outcome not in _REFUND_STATUS and outcome is not Outcome.UNAVAILABLE:
                raise ValidationError("outcome", outcome, "not an outcome a refund can have")
        self._refund_script.extend(outcomes)

    @property
    def refund_calls(self) -> tuple[RefundRequest, ...]:
        """Every refund request the fake was sent, in order, whatever became of it."""
        return tuple(self._refund_calls)

    def script_for(self, reference: str, outcome: Outcome) -> None:
        """Make the payment with our `reference` end in `outcome` (wins over the queue)."""
        self._by_reference[reference] = outcome

    def add_mandate(self, mandate_id: str) -> None:
        """Register a mandate that `charge_mandate` accepts."""
        self._mandates.add(mandate_id)

    def move(
        self, gateway_payment_id: str, status: PaymentStatus, reason: str | None = None
    ) -> None:
        """Move a payment to `status` now, as the gateway would, and queue its webhook."""
        self._catch_up()
        self._set_status(self._record(gateway_payment_id), status, reason, self._clock.now())

    def take_webhooks(self) -> list[Webhook]:
        """The webhooks due by the clock, oldest first; they leave the outbox."""
        self._catch_up()
        now = self._clock.now()
        due = [w for at, w in self._outbox if at <= now]
        self._outbox = [(at, w) for at, w in self._outbox if at > now]
        return due

    def webhook_for(self, event: PaymentEvent, *, wrong_secret: bool = False) -> Webhook:
        """A webhook carrying `event`, signed with the fake's secret (or, if asked, another)."""
        body = WebhookPayload.from_event(event).model_dump_json().encode()
        secret = b"forged:" + self._secret if wrong_secret else self._secret
        return Webhook(body, {SIGNATURE_HEADER: sign(body, secret)})

    def payments(self) -> tuple[GatewayPayment, ...]:
        """Every payment created or charged so far, oldest first, as the gateway has it now.

        For tests that show a refused request reached no gateway.
        """
        self._catch_up()
        return tuple(record.payment for record in self._payments.values())

    # --- the port ------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> GatewayPayment:
        """See `PaymentGateway.create_payment`."""
        return self._start(request, method_refused=False)

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        """See `PaymentGateway.charge_mandate`."""
        return self._start(request, method_refused=request.mandate_id not in self._mandates)

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        """See `PaymentGateway.get_payment`."""
        self._catch_up()
        return self._record(gateway_payment_id).payment

    def refund(self, request: RefundRequest) -> GatewayRefund:
        """See `PaymentGateway.refund` (and `script_refunds` for what a call does)."""
        self._catch_up()
        self._refund_calls.append(request)
        outcome = self._refund_script.popleft() if self._refund_script else Outcome.SUCCEED
        if outcome is Outcome.UNAVAILABLE:
            raise GatewayUnavailable("the fake gateway is unavailable (scripted)")
        record = self._record(request.gateway_payment_id)
        known = record.refund_keys.get(request.idempotency_key)
        if known is not None:
            if known[0] != request:
                raise IdempotencyConflict(request.idempotency_key, "a different refund request")
            return self._answer(known[1], outcome)
        payment = record.payment
        if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            raise GatewayRejected(f"payment {payment.gateway_payment_id} captured nothing")
        if request.currency != payment.currency:
            raise GatewayRejected(f"refund currency {request.currency} != {payment.currency}")
        left = payment.amount_minor - record.refunded_minor
        if request.amount_minor > left:
            raise GatewayRejected(f"refund of {request.amount_minor} exceeds the {left} left")
        now = self._clock.now()
        refund = GatewayRefund(
            refund_id=self._next_id("rfnd"),
            refund_reference=request.refund_reference,
            gateway_payment_id=payment.gateway_payment_id,
            payment_reference=payment.reference,
            amount_minor=request.amount_minor,
            currency=request.currency,
            status=_REFUND_STATUS[outcome],
            updated_at=now,
        )
        record.refund_keys[request.idempotency_key] = (request, refund)
        if refund.status is not RefundStatus.FAILED:  # a pending refund keeps its amount
            record.refunded_minor += request.amount_minor
        if refund.status is RefundStatus.SUCCEEDED:
            status = (
                PaymentStatus.REFUNDED
                if record.refunded_minor == payment.amount_minor
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            record.payment = evolve(payment, status=status, updated_at=now)
        event = refund.to_event()
        if event is not None:
            refund_id = event.refund_id if self._echo_refund_reference else refund.refund_id
            self._emit(evolve(event, event_id=self._next_id("evt"), refund_id=refund_id))
        return self._answer(refund, outcome)

    @staticmethod
    def _answer(refund: GatewayRefund, outcome: Outcome) -> GatewayRefund:
        if outcome is Outcome.TIME_OUT:
            raise GatewayTimeout("the fake gateway timed out after taking the refund (scripted)")
        return refund

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """See `PaymentGateway.parse_webhook`."""
        given = None
        if isinstance(headers, Mapping):
            wanted = SIGNATURE_HEADER.lower()
            given = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
        if not isinstance(body, bytes) or not isinstance(given, str):
            raise WebhookVerificationError("missing body bytes or signature header")
        expected = sign(body, self._secret)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise WebhookVerificationError("signature does not match the raw body")
        try:
            payload = WebhookPayload.model_validate_json(body)
        except PydanticValidationError as error:
            where, value, reason = first_error(error.errors())
            if where == "<root>":  # not JSON, or not an object
                reason = f"not a payment webhook: {reason}"
                raise ValidationError("body", body[:80], reason) from None
            raise ValidationError(f"body.{where}", value, reason) from None
        return payload.to_event()

    # --- internals -----------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_{self._serial:06d}"

    def _record(self, gateway_payment_id: str) -> _Record:
        record = self._payments.get(gateway_payment_id)
        if record is None:
            raise NotFound("gateway payment", gateway_payment_id)
        return record

    def _outcome(self, reference: str) -> Outcome:
        if reference in self._by_reference:
            return self._by_reference.pop(reference)
        return self._script.popleft() if self._script else self._default

    def _start(
        self, request: PaymentRequest | MandateChargeRequest, *, method_refused: bool
    ) -> GatewayPayment:
        self._catch_up()
        known = self._keys.get(request.idempotency_key)
        if known is not None:
            earlier, gateway_id = known
            if earlier != request:
                raise IdempotencyConflict(request.idempotency_key, "a different payment request")
            return self._payments[gateway_id].payment
        if method_refused:
            raise GatewayRejected("unknown or revoked mandate")
        outcome = self._outcome(request.reference)
        if outcome is Outcome.UNAVAILABLE:
            raise GatewayUnavailable("the fake gateway is unavailable (scripted)")
        now = self._clock.now()
        status = _FIRST_STATUS[outcome]
        if isinstance(request, MandateChargeRequest) and self._needs_customer(request.amount):
            status = PaymentStatus.ACTION_REQUIRED
        gateway_id = self._next_id("pay")
        record = _Record(
            GatewayPayment(
                gateway_payment_id=gateway_id,
                reference=request.reference,
                status=PaymentStatus.CREATED,
                amount_minor=request.amount_minor,
                currency=request.currency,
                updated_at=now,
            )
        )
        self._payments[gateway_id] = record
        self._keys[request.idempotency_key] = (request, gateway_id)
        reason = "declined by the issuer (scripted)" if status is PaymentStatus.FAILED else None
        self._set_status(record, status, reason, now)
        if outcome is Outcome.LATE_SUCCESS and status is PaymentStatus.FAILED:
            self._scheduled.append((now + self._late_after, gateway_id, PaymentStatus.SUCCEEDED))
        if outcome is Outcome.TIME_OUT:
            raise GatewayTimeout("the fake gateway timed out after taking the payment (scripted)")
        return record.payment

    def _needs_customer(self, amount: Money) -> bool:
        limit = self._no_auth_limit
        return amount.currency == limit.currency and amount > limit

    def _set_status(
        self, record: _Record, status: PaymentStatus, reason: str | None, now: datetime
    ) -> None:
        payment = record.payment
        record.payment = evolve(
            payment,
            status=status,
            updated_at=now,
            failure_reason=reason if status is PaymentStatus.FAILED else None,
            captured_at=(
                now
                if status is PaymentStatus.SUCCEEDED and payment.captured_at is None
                else payment.captured_at
            ),
            next_action_url=(
                f"https://fake-gateway.invalid/act/{payment.gateway_payment_id}"
                if status is PaymentStatus.ACTION_REQUIRED
                else None
            ),
        )
        kind = _EVENT_OF.get(status)
        if kind is None:
            return
        captured = record.payment.captured_at
        at = captured if kind is PaymentEventKind.SUCCEEDED and captured is not None else now
        self._emit(
            PaymentEvent(
                event_id=self._next_id("evt"),
                kind=kind,
                payment_reference=payment.reference,
                gateway_payment_id=payment.gateway_payment_id,
                occurred_at=at,
                amount=payment.amount if kind is PaymentEventKind.SUCCEEDED else None,
                reason=reason if kind is PaymentEventKind.FAILED else None,
            )
        )

    def _emit(self, event: PaymentEvent) -> None:
        self._outbox.append((event.occurred_at, self.webhook_for(event)))

    def _catch_up(self) -> None:
        """Carry out scheduled changes (late successes) that are due by the clock."""
        now = self._clock.now()
        due = sorted(s for s in self._scheduled if s[0] <= now)
        self._scheduled = [s for s in self._scheduled if s[0] > now]
        for at, gateway_id, status in due:
            self._set_status(self._payments[gateway_id], status, None, at)


class FakeGatewayDriver:
    """Drives a `FakePaymentGateway` for `PaymentGatewayContract` (a `MandateDriver`)."""

    MANDATE_ID: ClassVar[str] = "contract-mandate"
    """The mandate `mandate_request` registers with the fake and charges."""

    def __init__(self, fake: FakePaymentGateway) -> None:
        self._fake = fake

    def payment_request(
        self,
        outcome: Outcome,
        *,
        reference: str,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
    ) -> PaymentRequest:
        """A request the fake will end in `outcome` (scripted by reference)."""
        self._fake.script_for(reference, outcome)
        return PaymentRequest(
            reference=reference,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            currency=currency,
            customer_id="contract-account",
            description="contract test payment",
        )

    def mandate_request(
        self, *, reference: str, idempotency_key: str, amount_minor: int, currency: str
    ) -> MandateChargeRequest:
        """A charge the fake collects, on a mandate registered for the contract."""
        self._fake.add_mandate(self.MANDATE_ID)
        self._fake.script_for(reference, Outcome.SUCCEED)
        return MandateChargeRequest(
            reference=reference,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            currency=currency,
            customer_id="contract-account",
            mandate_id=self.MANDATE_ID,
            description="contract test renewal",
        )

    def settle(self, gateway_payment_id: str) -> None:
        """The fake settles at once; nothing to wait for."""
        self._fake.get_payment(gateway_payment_id)

    def signed_webhook(
        self, gateway_payment_id: str, *, wrong_secret: bool = False
    ) -> tuple[bytes, Mapping[str, str]]:
        """A genuine webhook for the payment's current status (or one signed wrongly)."""
        payment = self._fake.get_payment(gateway_payment_id)
        event = payment.to_event()
        if event is None:
            raise ValidationError("gateway_payment_id", gateway_payment_id, "no status to report")
        hook = self._fake.webhook_for(event, wrong_secret=wrong_secret)
        return hook.body, hook.headers
