"""The service layer: `Billing`, one method per use case, each inside one unit of work."""

from minutebill.service._billing import Billing

__all__ = ["Billing"]
