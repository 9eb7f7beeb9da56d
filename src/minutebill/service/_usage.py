"""Usage history: the per-call record of consumption, paged, and totals per day and tag."""

from __future__ import annotations

from datetime import date

from minutebill._unit_of_work import UnitOfWork, UsagePage, UsageTotals
from minutebill.domain.ledger import UsageRecord
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
            cursor: The `next_cursor` of the previous page; None for the first page.
            limit: Records per page (1 to 500).

        Raises:
            NotFound: for an unknown account.
            ValidationError: for a bad cursor or limit.
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

        Raises:
            NotFound: for an unknown account.
            ValidationError: if `until` is before `since`.
        """
        if until < since:
            raise ValidationError("until", until, f"before since {since}")

        def work(uow: UnitOfWork) -> list[tuple[date, UsageTotals]]:
            self._require_account(uow, account_id)
            return uow.usage.daily(account_id, since, until, tag=tag)

        return self._read(work)

    def usage_by_tag(self, account_id: str, since: date, until: date) -> dict[str, UsageTotals]:
        """Totals per tag (campaign, agent, ...) over the local days ``[since, until)``.

        Raises:
            NotFound: for an unknown account.
            ValidationError: if `until` is before `since`.
        """
        if until < since:
            raise ValidationError("until", until, f"before since {since}")

        def work(uow: UnitOfWork) -> dict[str, UsageTotals]:
            self._require_account(uow, account_id)
            return uow.usage.by_tag(account_id, since, until)

        return self._read(work)
