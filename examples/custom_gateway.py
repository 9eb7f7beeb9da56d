"""A payment-gateway adapter for "PayLite", a made-up gateway, that passes minutebill's contract.

An adapter translates in both directions: minutebill's requests (amounts in minor units, our
reference, an idempotency key) into the gateway's API calls; the gateway's statuses, webhooks
and errors into `PaymentStatus`, `PaymentEvent` and the `GatewayError` tree. Here PayLite's
HTTP API is played by `PayLiteSandbox`, an in-process stand-in, so the example runs anywhere;
a real adapter has the same shape with an HTTP client in its place.

``tests/examples/test_examples.py`` runs `PaymentGatewayContract` against `PayLiteGateway`
(with `PayLiteDriver`). Run this file to see it serve a checkout: ``python
examples/custom_gateway.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from minutebill import (
    Billing,
    Card,
    Catalog,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    MandateChargeRequest,
    MemoryStore,
    Money,
    NotFound,
    PaymentEvent,
    PaymentEventKind,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    Upi,
    WebhookVerificationError,
)
from minutebill.ports import Clock
from minutebill.testing.fakes import FixedClock, Outcome

Json = dict[str, Any]

# --- PayLite's side: its API (a stand-in for HTTPS calls to the sandbox) ---------------------


class PayLiteApiError(Exception):
    """An error response of PayLite's API: HTTP status and an error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


class PayLiteConnectionTimeout(Exception):
    """The HTTPS request timed out (PayLite may or may not have acted on it)."""


class PayLiteSandbox:
    """PayLite's sandbox API. The payer's UPI address decides the outcome, as in real sandboxes:
    ``success@paylite``, ``failure@paylite``, ``pending@paylite``, ``auth@paylite`` (needs the
    customer), ``timeout@paylite`` (captured, but the first response is lost) and
    ``down@paylite`` (a 503: nothing happens). Mandates approved with `approve_mandate` can be
    charged; INR charges above ₹15,000 need the customer (RBI's e-mandate limit).
    """

    NO_AUTH_LIMIT_PAISE = 1_500_000

    def __init__(self, *, webhook_secret: bytes, clock: Clock) -> None:
        self._secret, self._clock = webhook_secret, clock
        self._mandates: set[str] = set()
        self._payments: dict[str, Json] = {}
        self._done: dict[str, tuple[str, Json]] = {}  # idempotency key -> (request, response)
        self.events: list[tuple[bytes, dict[str, str]]] = []  # webhooks waiting for delivery

    def post(self, path: str, body: Json, *, idempotency_key: str) -> Json:
        """``POST path`` with an ``Idempotency-Key`` header."""
        if body.get("method", {}).get("vpa") == "down@paylite":
            raise PayLiteApiError(503, "service_unavailable")
        fingerprint = json.dumps([path, body], sort_keys=True)
        if idempotency_key in self._done:
            earlier, response = self._done[idempotency_key]
            if earlier != fingerprint:
                raise PayLiteApiError(409, "idempotency_key_reused")
            return response
        if path.endswith("/refunds"):
            response = self._refund(path.split("/")[3], body)
        elif path.startswith("/v1/mandates/") and path.split("/")[3] not in self._mandates:
            raise PayLiteApiError(400, "mandate_not_active")
        else:
            response = self._pay(body)
        self._done[idempotency_key] = (fingerprint, response)
        if body.get("method", {}).get("vpa") == "timeout@paylite":
            raise PayLiteConnectionTimeout(path)
        return response

    def approve_mandate(self, mandate_id: str) -> None:
        """The customer approves a mandate (in the sandbox: at once)."""
        self._mandates.add(mandate_id)

    def get(self, path: str) -> Json:
        """``GET /v1/payments/{id}``."""
        payment = self._payments.get(path.rsplit("/", 1)[-1])
        if payment is None:
            raise PayLiteApiError(404, "payment_not_found")
        return dict(payment)

    def signed_event(
        self, payment_id: str, secret: bytes | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The webhook PayLite sends for the payment's current status."""
        payment = self.get(f"/v1/payments/{payment_id}")
        now = int(self._clock.now().timestamp())
        event = {
            "id": f"evt_{payment_id}_{payment['status']}",
            "type": f"payment.{payment['status']}",
            "created": now,
            "data": payment,
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        mac = hmac.new(secret or self._secret, f"{now}.".encode() + body, hashlib.sha256)
        return body, {"PayLite-Signature": f"t={now},v1={mac.hexdigest()}"}

    def _pay(self, body: Json) -> Json:
        vpa = (body.get("method") or {}).get("vpa", "success@paylite")
        status = {"failure": "failed", "pending": "pending", "auth": "requires_action"}.get(
            vpa.split("@")[0], "captured"
        )
        mandate = "mandate" in body and body["currency"] == "INR"
        if mandate and body["amount"] > self.NO_AUTH_LIMIT_PAISE:
            status = "requires_action"
        now = int(self._clock.now().timestamp())
        payment_id = f"pl_{len(self._payments) + 1:05d}"
        payment = {
            "id": payment_id,
            "amount": body["amount"],
            "currency": body["currency"],
            "status": status,
            "refunded": 0,
            "metadata": body["metadata"],
            "updated": now,
            "captured": now if status == "captured" else None,
            "action_url": f"https://sandbox.paylite.invalid/auth/{payment_id}"
            if status == "requires_action"
            else None,
        }
        self._payments[payment_id] = payment
        self.events.append(self.signed_event(payment_id))
        return dict(payment)

    def _refund(self, payment_id: str, body: Json) -> Json:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise PayLiteApiError(404, "payment_not_found")
        if payment["status"] not in ("captured", "partially_refunded"):
            raise PayLiteApiError(400, "payment_not_captured")
        if body["amount"] > payment["amount"] - payment["refunded"]:
            raise PayLiteApiError(400, "refund_exceeds_captured")
        payment["refunded"] += body["amount"]
        full = payment["refunded"] == payment["amount"]
        payment["status"] = "refunded" if full else "partially_refunded"
        return {
            "id": f"rf_{payment_id}_{payment['refunded']}",
            "payment": payment_id,
            "amount": body["amount"],
            "currency": body["currency"],
            "status": "succeeded",
            "metadata": body["metadata"],
            "updated": int(self._clock.now().timestamp()),
        }


# --- minutebill's side: the adapter ----------------------------------------------------------

_STATUS = {
    "created": PaymentStatus.CREATED,
    "pending": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.ACTION_REQUIRED,
    "captured": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
}
_EVENTS = {
    "payment.pending": PaymentEventKind.PENDING,
    "payment.requires_action": PaymentEventKind.ACTION_REQUIRED,
    "payment.captured": PaymentEventKind.SUCCEEDED,
    "payment.failed": PaymentEventKind.FAILED,
}
_TOLERANCE = timedelta(minutes=5)


def _instant(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


class PayLiteGateway:
    """minutebill's `PaymentGateway` port implemented on PayLite's API."""

    def __init__(self, api: PayLiteSandbox, *, webhook_secret: bytes) -> None:
        self._api, self._secret = api, webhook_secret

    def create_payment(self, request: PaymentRequest) -> GatewayPayment:
        body = self._payment_body(request.amount_minor, request.currency, request.reference)
        body |= {"description": request.description, "customer": request.customer_id}
        if isinstance(request.method, Upi):
            body["method"] = {"type": "upi", "vpa": request.method.vpa}
        elif isinstance(request.method, Card):
            body["method"] = {"type": "card", "brand": request.method.brand}
        return self._payment(
            self._call(self._api.post, "/v1/payments", body, request.idempotency_key)
        )

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        body = self._payment_body(request.amount_minor, request.currency, request.reference)
        body["mandate"] = request.mandate_id
        path = f"/v1/mandates/{request.mandate_id}/charges"
        return self._payment(self._call(self._api.post, path, body, request.idempotency_key))

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        try:
            raw = self._api.get(f"/v1/payments/{gateway_payment_id}")
        except PayLiteApiError as error:
            if error.status == 404:
                raise NotFound("gateway payment", gateway_payment_id) from None
            raise self._translate(error) from None
        return self._payment(raw)

    def refund(self, request: RefundRequest) -> GatewayRefund:
        body = {
            "amount": request.amount_minor,
            "currency": request.currency,
            "metadata": {"reference": request.refund_reference},
            "reason": request.reason,
        }
        path = f"/v1/payments/{request.gateway_payment_id}/refunds"
        raw = self._call(self._api.post, path, body, request.idempotency_key)
        return GatewayRefund(
            refund_id=raw["id"],
            refund_reference=raw["metadata"]["reference"],
            gateway_payment_id=raw["payment"],
            payment_reference=request.payment_reference,
            amount_minor=raw["amount"],
            currency=raw["currency"],
            status=RefundStatus(raw["status"]),
            updated_at=_instant(raw["updated"]),
        )

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        header = next((v for k, v in headers.items() if k.lower() == "paylite-signature"), "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        stamp, given = parts.get("t", ""), parts.get("v1", "")
        expected = hmac.new(self._secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not stamp.isdigit() or not hmac.compare_digest(expected, given):  # before parsing
            raise WebhookVerificationError("PayLite signature does not match the raw body")
        event = json.loads(body)
        data, kind = event["data"], _EVENTS.get(event["type"])
        if kind is None:
            raise WebhookVerificationError(f"unexpected PayLite event {event['type']!r}")
        captured = data["captured"] if kind is PaymentEventKind.SUCCEEDED else None
        return PaymentEvent(
            event_id=event["id"],
            kind=kind,
            payment_reference=data["metadata"]["reference"],
            gateway_payment_id=data["id"],
            occurred_at=_instant(captured or event["created"]),
            amount=Money.from_minor_units(data["amount"], data["currency"])
            if kind is PaymentEventKind.SUCCEEDED
            else None,
        )

    # --- translation ---------------------------------------------------------------------

    @staticmethod
    def _payment_body(amount_minor: int, currency: str, reference: str) -> Json:
        return {"amount": amount_minor, "currency": currency, "metadata": {"reference": reference}}

    def _call(self, send: Any, path: str, body: Json, key: str) -> Json:
        try:
            response: Json = send(path, body, idempotency_key=key)
        except PayLiteConnectionTimeout:
            raise GatewayTimeout(
                f"PayLite did not answer {path}; retry with the same key"
            ) from None
        except PayLiteApiError as error:
            raise self._translate(error, key) from None
        return response

    @staticmethod
    def _translate(error: PayLiteApiError, key: str = "") -> Exception:
        if error.status == 409:
            return IdempotencyConflict(key, "PayLite saw another request with this key")
        if error.status == 404:
            return NotFound("gateway payment", error.code)
        if error.status >= 500:
            return GatewayUnavailable(f"PayLite answered {error}")
        return GatewayRejected(f"PayLite refused the request: {error.code}")

    @staticmethod
    def _payment(raw: Json) -> GatewayPayment:
        return GatewayPayment(
            gateway_payment_id=raw["id"],
            reference=raw["metadata"]["reference"],
            status=_STATUS[raw["status"]],
            amount_minor=raw["amount"],
            currency=raw["currency"],
            updated_at=_instant(raw["updated"]),
            next_action_url=raw["action_url"],
            captured_at=None if raw["captured"] is None else _instant(raw["captured"]),
        )


class PayLiteDriver:
    """Makes outcomes happen in PayLite's sandbox, for `PaymentGatewayContract`."""

    VPAS: ClassVar[dict[Outcome, str]] = {
        Outcome.SUCCEED: "success@paylite",
        Outcome.FAIL: "failure@paylite",
        Outcome.STAY_PENDING: "pending@paylite",
        Outcome.REQUIRE_ACTION: "auth@paylite",
        Outcome.TIME_OUT: "timeout@paylite",
        Outcome.UNAVAILABLE: "down@paylite",
    }
    UNSUPPORTED = frozenset({Outcome.LATE_SUCCESS})
    MANDATE = "mdt_contract"

    def __init__(self, sandbox: PayLiteSandbox) -> None:
        self._sandbox = sandbox

    def payment_request(
        self,
        outcome: Outcome,
        *,
        reference: str,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
    ) -> PaymentRequest:
        return PaymentRequest(
            reference=reference,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            currency=currency,
            customer_id="contract-account",
            description="contract test payment",
            method=Upi(self.VPAS[outcome]),
        )

    def mandate_request(
        self, *, reference: str, idempotency_key: str, amount_minor: int, currency: str
    ) -> MandateChargeRequest:
        self._sandbox.approve_mandate(self.MANDATE)
        return MandateChargeRequest(
            reference=reference,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            currency=currency,
            customer_id="contract-account",
            mandate_id=self.MANDATE,
            description="contract test renewal",
        )

    def settle(self, gateway_payment_id: str) -> None:
        """The sandbox settles at once; a real one might be polled here."""

    def signed_webhook(
        self, gateway_payment_id: str, *, wrong_secret: bool = False
    ) -> tuple[bytes, Mapping[str, str]]:
        return self._sandbox.signed_event(
            gateway_payment_id, b"not-the-secret" if wrong_secret else None
        )


def main() -> None:
    """Sell a *Nexus* add-on through PayLite and deliver its webhook."""
    clock = FixedClock(datetime(2025, 5, 1, 9, 0, tzinfo=UTC))
    sandbox = PayLiteSandbox(webhook_secret=b"whsec_paylite", clock=clock)
    gateway = PayLiteGateway(sandbox, webhook_secret=b"whsec_paylite")
    billing = Billing(
        MemoryStore().unit_of_work, gateway, Catalog.from_file("examples/catalog.toml"), clock
    )
    billing.subscribe("acme", "pro", timezone="Asia/Kolkata")
    result = billing.checkout_bundle("acme", "nexus", Upi("success@paylite"), idempotency_key="n-1")
    for body, headers in sandbox.events:  # what PayLite would POST to the webhook endpoint
        billing.handle_gateway_event(body, headers)
    overview = billing.overview("acme").format("en_IN")
    print(f"Nexus through PayLite: {result.status.value}; {overview['total_minutes']} minutes now")


if __name__ == "__main__":
    main()
