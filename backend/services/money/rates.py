"""Rate cards: a resource's published fee standard per user class and unit, versioned by dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from backend.domain.access import Principal, ensure_manages_platform
from backend.domain.bookings import hourly_price
from backend.domain.errors import Conflict, Invalid
from backend.domain.intervals import Interval
from backend.models.rate import RateCard, RateCardCreate, RateCardUpdate, RateUnit, UserClass
from backend.services import audit
from backend.services.catalog.resources import get_resource
from backend.services.common import apply_changes, get_or_404


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


def _check_no_overlap(session: Session, card: RateCard) -> None:
    for other in session.exec(
        select(RateCard).where(
            RateCard.resource_id == card.resource_id,
            RateCard.user_class == card.user_class,
            RateCard.unit == card.unit,
        )
    ):
        if other.id != card.id and _overlaps(
            card.valid_from, card.valid_to, other.valid_from, other.valid_to
        ):
            raise Conflict(
                f"valid_from: rate {other.id} for {card.user_class}/{card.unit} already applies "
                f"from {other.valid_from} to {other.valid_to or 'open end'}; end it first",
                conflicting_rate=other.id,
            )


def _audit(session: Session, who: Principal | None, action: str, card: RateCard, platform_id: int) -> None:
    """Published fee standards are evidence for the evaluation (management): every change is logged."""
    audit.append(
        session,
        f"rate.{action}",
        ("rate", card.id or 0),
        actor=who.user_id if who is not None else None,
        platform_id=platform_id,
        payload={
            **card.model_dump(exclude={"created_at"}, warnings=False),
            "price": card.price.quantize(Decimal("0.01")),
        },
    )


def list_rates(session: Session, resource_id: int, on: date | None = None) -> list[RateCard]:
    get_resource(session, resource_id)
    cards = session.exec(
        select(RateCard)
        .where(RateCard.resource_id == resource_id)
        .order_by(col(RateCard.user_class), col(RateCard.valid_from))
    ).all()
    if on is not None:
        cards = [c for c in cards if c.valid_from <= on and (c.valid_to is None or on <= c.valid_to)]
    return list(cards)


def create_rate(session: Session, who: Principal | None, resource_id: int, data: RateCardCreate) -> RateCard:
    resource = get_resource(session, resource_id)
    if who is not None:
        ensure_manages_platform(who, resource.platform_id)
    card = RateCard.model_validate(data, update={"resource_id": resource_id})
    _check_no_overlap(session, card)
    session.add(card)
    session.flush()
    _audit(session, who, "create", card, resource.platform_id)
    return card


def _card(session: Session, resource_id: int, rate_id: int) -> RateCard:
    card = get_or_404(session, RateCard, rate_id, "rate")
    if card.resource_id != resource_id:
        raise Invalid("rate_id", f"rate {rate_id} belongs to another resource")
    return card


def update_rate(
    session: Session, who: Principal, resource_id: int, rate_id: int, data: RateCardUpdate
) -> RateCard:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    card = _card(session, resource_id, rate_id)
    apply_changes(card, data.model_dump(exclude_unset=True))
    if card.valid_to is not None and card.valid_to < card.valid_from:
        raise Invalid("valid_to", "must not be before valid_from")
    _check_no_overlap(session, card)
    session.add(card)
    session.flush()
    _audit(session, who, "update", card, resource.platform_id)
    return card


def delete_rate(session: Session, who: Principal, resource_id: int, rate_id: int) -> None:
    resource = get_resource(session, resource_id)
    ensure_manages_platform(who, resource.platform_id)
    card = _card(session, resource_id, rate_id)
    _audit(session, who, "delete", card, resource.platform_id)
    session.delete(card)
    session.flush()


def price_of(session: Session, resource_id: int, user_class: UserClass, slot: Interval) -> Decimal | None:
    """The hourly fee of `slot` by the rate card valid on its first day; None when none applies."""
    asked = {"resource_id": resource_id, "user_class": user_class, "day": slot.start.date()}
    price = session.exec(_hourly_price(), params=asked).first()
    return None if price is None else hourly_price(slot, price)


@cache
def _hourly_price() -> Any:
    """Built once with parameters: every booking asks it."""
    day: Any = bindparam("day")
    return select(col(RateCard.price)).where(
        RateCard.resource_id == bindparam("resource_id"),
        RateCard.user_class == bindparam("user_class"),
        RateCard.unit == RateUnit.hour,
        col(RateCard.valid_from) <= day,
        or_(col(RateCard.valid_to).is_(None), col(RateCard.valid_to) >= day),
    )


def hourly_prices(
    session: Session, resource_ids: Sequence[int], user_class: UserClass, on: date
) -> dict[int, Decimal]:
    """Resource id -> its hourly fee for `user_class` valid on `on` (the catalog shows it); one query."""
    if not resource_ids:
        return {}
    cards = session.exec(
        select(RateCard).where(
            col(RateCard.resource_id).in_(resource_ids),
            RateCard.user_class == user_class,
            RateCard.unit == RateUnit.hour,
            col(RateCard.valid_from) <= on,
            or_(col(RateCard.valid_to).is_(None), col(RateCard.valid_to) >= on),
        )
    ).all()
    return {card.resource_id: card.price for card in cards}
