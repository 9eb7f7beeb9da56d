"""The offers and policies of number documents, parsed once (`ParsedValues`)."""

from __future__ import annotations

from attrs import define, field

from minutebill.domain.catalog import NumberOffer
from minutebill.domain.memo import remember
from minutebill.domain.money import Money
from minutebill.domain.number_policy import NumberPolicy
from minutebill.domain.number_status import offer_from_state, offer_to_state
from minutebill.domain.state import State

__all__ = ["ParsedValues"]


@define
class ParsedValues:
    """Offers and policies already parsed from number documents, to parse each one once.

    A platform's number documents repeat the same few offers and policies thousands of times,
    and parsing them (money, validation) is most of what loading a number costs. A store keeps
    one of these and passes it to every `NumberSubscription.from_state` it calls. The values
    are immutable, so sharing them between subscriptions (and threads) is safe; past `limit`
    distinct values of a kind the cache starts afresh.

    Attributes:
        limit: How many distinct offers (and, separately, policies) to remember.
    """

    limit: int = 256
    _offers: dict[tuple[object, ...], tuple[NumberOffer, State, Money]] = field(
        init=False, factory=dict
    )
    _policies: dict[tuple[object, ...], tuple[NumberPolicy, State]] = field(
        init=False, factory=dict
    )

    def offer(self, state: State) -> NumberOffer:
        """The `NumberOffer` that `offer_to_state` encoded as `state`."""
        return self.offer_parts(state)[0]

    def policy(self, state: State) -> NumberPolicy:
        """The `NumberPolicy` that `NumberPolicy.to_state` encoded as `state`."""
        return self.policy_parts(state)[0]

    def offer_parts(self, state: State) -> tuple[NumberOffer, State, Money]:
        """The offer, its canonical state (`offer_to_state` of it) and fee, parsed once."""
        try:
            monthly, upfront = state["monthly_fee"], state["upfront_fee"]
            months = state["interval_months"]
            key = (
                state["code"],
                state["country"],
                state["kind"],
                tuple(state["capabilities"]),
                monthly["amount"],
                monthly["currency"],
                upfront["amount"],
                upfront["currency"],
                months,
                type(months),
            )
            found = self._offers.get(key)
        except (KeyError, TypeError):  # malformed: let the parser say what is wrong
            offer = offer_from_state(state)
            return offer, offer_to_state(offer), offer.period_fee
        if found is None:
            offer = offer_from_state(state)
            found = (offer, offer_to_state(offer), offer.period_fee)
            remember(self._offers, key, found, self.limit)
        return found

    def policy_parts(self, state: State) -> tuple[NumberPolicy, State]:
        """The policy and its canonical state, parsed once."""
        key = _policy_key(state)
        if key is None:  # malformed: let the parser say what is wrong
            policy = NumberPolicy.from_state(state)
            return policy, policy.to_state()
        found = self._policies.get(key)
        if found is None:
            policy = NumberPolicy.from_state(state)
            found = (policy, policy.to_state())
            remember(self._policies, key, found, self.limit)
        return found


def _policy_key(state: State) -> tuple[object, ...] | None:
    """What tells policy documents apart, or None for one to leave to the parser.

    Equal values of other types (``True == 1``, ``0 == False``) must not share a parsed
    policy: a document whose durations are not ints, or whose notice flag is not a bool, is
    parsed every time (the parser refuses what it must).
    """
    try:
        limit = state["mandate_limit"]
        grace, lead = state["grace_period_seconds"], state["pre_debit_notice_lead_seconds"]
        sends = state["gateway_sends_notice"]
        if type(grace) is not int or type(lead) is not int or type(sends) is not bool:
            return None
        key = (
            grace,
            state["held_fee"],
            state["payment_order"],
            lead,
            sends,
            None if limit is None else (limit["amount"], limit["currency"]),
        )
        hash(key)  # a list where a text belongs is the parser's to refuse
    except (KeyError, TypeError):
        return None
    return key
