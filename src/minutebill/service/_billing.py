"""`Billing`: the use cases of minutebill, one method each, each one unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from minutebill._unit_of_work import UnitOfWork
from minutebill.catalog import Catalog
from minutebill.domain.admission import AdmissionPolicy
from minutebill.domain.call_queue import CallQueue
from minutebill.domain.fulfilment import Remedy
from minutebill.domain.money import Money
from minutebill.domain.number_policy import NumberPolicy
from minutebill.domain.proration import ProrationPolicy
from minutebill.domain.tax import TaxPolicy
from minutebill.errors import ValidationError
from minutebill.gateway import PaymentGateway
from minutebill.ports import Clock, EventPublisher
from minutebill.service._calls import CallsMixin
from minutebill.service._due import DueWorkMixin
from minutebill.service._plans import PlansMixin
from minutebill.service._runner import NullPublisher, Runner
from minutebill.service._usage import UsageMixin

__all__ = ["Billing"]


class Billing(CallsMixin, PlansMixin, UsageMixin, DueWorkMixin):
    """Every use case of minutebill, each run as one unit of work.

    Args:
        uow_factory: Opens a unit of work on the store (``SqliteStore(path).unit_of_work``).
        gateway: The payment gateway.
        catalog: Plans, bundles and number offers.
        clock: Where the time comes from (`SystemClock()` in production).
        publisher: Receives committed events (default: none; the outbox keeps them).
        admission: Hold size and past-due rule for starting calls.
        queue: The line of waiting calls (kept in this process).
        proration: How plan changes are prorated.
        tax: The tax policy checkouts are priced under (none by default).
        number_policy: Renewal, hold and release rules for numbers bought from now on.
        remedy: What happens to money that bought something undeliverable (refund default).
        quote_validity: How long a checkout quote may be paid.
        max_attempts: How often a use case is re-run after a concurrency conflict.

    Raises:
        ValidationError: for a quote validity that is not a positive `timedelta`, or fewer
            than one attempt.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        gateway: PaymentGateway,
        catalog: Catalog,
        clock: Clock,
        *,
        publisher: EventPublisher | None = None,
        admission: AdmissionPolicy | None = None,
        queue: CallQueue | None = None,
        proration: ProrationPolicy = ProrationPolicy.BY_SECOND,
        tax: TaxPolicy | None = None,
        number_policy: NumberPolicy | None = None,
        remedy: Remedy = Remedy.REFUND,
        quote_validity: timedelta = timedelta(minutes=30),
        max_attempts: int = 5,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.gateway = gateway
        self.admission = admission or AdmissionPolicy()
        self.queue = queue if queue is not None else CallQueue(max_depth=10_000)
        self.proration = proration
        self.tax = tax or TaxPolicy.none()
        self.number_policy = number_policy or NumberPolicy()
        self.remedy = remedy
        if not isinstance(quote_validity, timedelta) or quote_validity <= timedelta(0):
            raise ValidationError("quote_validity", quote_validity, "a positive timedelta")
        self.quote_validity = quote_validity
        self._runner = Runner(uow_factory, publisher or NullPublisher(), max_attempts)
        self._zones: dict[str, str] = {}
        self._grosses: dict[tuple[str, str], tuple[TaxPolicy, Money]] = {}
        self._last_gross: tuple[Money, TaxPolicy, Money] | None = None
