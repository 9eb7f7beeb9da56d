"""Usage history: the per-call record of consumption, paged, and totals per day and tag."""

from __future__ import annotations

from datetime import date

from minutebill._unit_of_work import UnitOfWork, UsagePage, UsageTotals
from minutebill.domain.ledger import UsageRecord
from minutebill.domain.periods import require_day
from minutebill.domain.text import require_key
from minutebill.errors import ValidationError
from minutebill.service._base import ServiceBase

__all__ = ["UsageMixin"]


class UsageMixin(ServiceBase):
    """Use cases of the Usage tab."""

    def usage_history(
        self, account_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> UsagePage[UsageRecord]:
        """The account's settled calls, newest first, one page at a time.

        Args:
            account_id: The account.
            cursor: The `next_cursor` of the previous page; None for the first page. It is
                opaque: pass it back as it was given.
            limit: Records per page (1 to 500).

        Raises:
            NotFound: for an unknown account.
            ValidationError: for a limit out of range, or a cursor that is not one a page
                returned (edited, made up, not text), alike on every store.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise ValidationError("limit", limit, "between 1 and 500")

        def work(uow: UnitOfWork) -> UsagePage[UsageRecord]:
            self._require_account(uow, account_id)
            return uow.usage.page(account_id, cursor=cursor, limit=limit)

        return self._read(work)

    def usage_by_day(
        self, account_id: str, since: date, until: date, *, tag: str | None = None
    ) -> list[tuple[date, UsageTotals]]:
        """Calls, billable and overage seconds per local day in ``[since, until)``.

        Args:
            account_id: The account.
            since: The first local day (a `datetime.date`; a `datetime` is refused, not
                cut to its date: pass the day in the account's time zone).
            until: The day after the last one, a `datetime.date` too.
            tag: Only the calls with this tag; None for every call.

        Raises:
            NotFound: for an unknown account.
            ValidationError: if `since` or `until` is not a date (or is a datetime), `until`
                is before `since`, or `tag` is not a valid tag (an empty string included).
        """
        _check_days(since, until)
        if tag is not None:
            require_key("tag", tag)

        def work(uow: UnitOfWork) -> list[tuple[date, UsageTotals]]:
            self._require_account(uow, account_id)
            return uow.usage.daily(account_id, since, until, tag=tag)

        return self._read(work)

    def usage_by_tag(self, account_id: str, since: date, until: date) -> dict[str, UsageTotals]:
        """Totals per tag (campaign, agent, ...) over the local days ``[since, until)``.

        Args:
            account_id: The account.
            since: The first local day (a `datetime.date`; a `datetime` is refused).
            until: The day after the last one, a `datetime.date` too.

        Raises:
            NotFound: for an unknown account.
            ValidationError: if `since` or `until` is not a date (or is a datetime), or
                `until` is before `since`.
        """
        _check_days(since, until)

        def work(uow: UnitOfWork) -> dict[str, UsageTotals]:
            self._require_account(uow, account_id)
            return uow.usage.by_tag(account_id, since, until)

        return self._read(work)


def _check_days(since: date, until: date) -> None:
    """Refuse a range of local days that is not two days in order."""
    require_day(since, "since")
    require_day(until, "until")
    if until < since:
        raise ValidationError("until", until, f"before since {since}")
