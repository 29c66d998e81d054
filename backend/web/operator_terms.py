"""A resource's terms on its admin page: maintenance windows (each with the bookings it hits), rate cards
with their validity, and who is qualified to use it (training records). Forms as in
`operator_resources`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from backend.domain.access import Principal, Role
from backend.domain.errors import DomainError, Invalid
from backend.http.deps import EngineDep, PageCaller, SessionDep, Writer
from backend.models.qualification import QualificationCreate
from backend.models.rate import RateCardCreate, RateCardUpdate
from backend.models.resource import MaintenanceWindowCreate
from backend.services.accounts import users
from backend.services.catalog import platforms, qualifications, resources
from backend.services.money import rates
from backend.services.scheduling import repairs
from backend.web.catalog import _local as local  # the booking form's reading of datetime-local
from backend.web.common import validation_errors
from backend.web.operator import check_csrf, need_staff, refusal
from backend.web.operator_resources import act, form_again

router = APIRouter(include_in_schema=False)


def day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(field, "give a date as YYYY-MM-DD") from None


def zone_of(session: Session, resource_id: int) -> ZoneInfo:
    resource = resources.get_resource(session, resource_id)
    return ZoneInfo(platforms.get_platform(session, resource.platform_id).timezone)


@router.post("/operator/resources/{resource_id}/maintenance")
def add_maintenance(
    request: Request,
    engine: EngineDep,
    session: SessionDep,
    who: PageCaller,
    resource_id: int,
    start: Annotated[str, Form(max_length=40)] = "",
    end: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """The window is added even when it hits bookings: the page lists them, and the same use case as
    the API proposes a repair moving them, which the plan page shows for review."""
    caller = need_staff(request, who)
    form = {"start": start, "end": end, "reason": reason}
    try:
        check_csrf(request, csrf_token)
        zone = zone_of(session, resource_id)
        data = MaintenanceWindowCreate.model_validate(
            {"start": local(start, zone, "start"), "end": local(end, zone, "end"), "reason": reason or None}
        )
        session.close()  # the repair's solver may take seconds; hold no connection meanwhile
        _, _, proposal = repairs.add_maintenance_window(engine, caller, resource_id, data)
    except DomainError as exc:
        return form_again(request, who, session, caller, resource_id, "maintenance", form, refusal(exc))
    except ValidationError as exc:
        errors = validation_errors(exc)
        return form_again(request, who, session, caller, resource_id, "maintenance", form, errors)
    repair = f"&repair={proposal.id}" if proposal is not None else ""
    return RedirectResponse(
        f"/operator/resources/{resource_id}?notice=saved{repair}#maintenance", status_code=303
    )


@router.post("/operator/resources/{resource_id}/maintenance/{window_id}/delete")
def delete_maintenance(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    window_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    def change(tx: Session, caller: Principal) -> Any:
        resources.delete_maintenance(tx, caller, resource_id, window_id)

    return act(request, who, session, write, csrf_token, resource_id, "maintenance", {}, change)


@router.post("/operator/resources/{resource_id}/rates")
def add_rate(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    user_class: Annotated[str, Form(max_length=20)] = "external_sme",
    unit: Annotated[str, Form(max_length=10)] = "hour",
    price: Annotated[str, Form(max_length=14)] = "",
    valid_from: Annotated[str, Form(max_length=10)] = "",
    valid_to: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "user_class": user_class,
        "unit": unit,
        "price": price,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }

    def change(tx: Session, caller: Principal) -> Any:
        data = RateCardCreate.model_validate(
            {
                "user_class": user_class,
                "unit": unit,
                "price": price,
                "valid_from": day(valid_from, "valid_from"),
                "valid_to": day(valid_to, "valid_to"),
                "note": note or None,
            }
        )
        return rates.create_rate(tx, caller, resource_id, data)

    return act(request, who, session, write, csrf_token, resource_id, "rates", form, change)


@router.post("/operator/resources/{resource_id}/rates/{rate_id}/end")
def end_rate(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    rate_id: int,
    valid_to: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """A fee standard ends on a day (its history stays: invoices priced by it keep their reason)."""

    def change(tx: Session, caller: Principal) -> Any:
        data = RateCardUpdate(valid_to=day(valid_to, "valid_to"))
        return rates.update_rate(tx, caller, resource_id, rate_id, data)

    return act(request, who, session, write, csrf_token, resource_id, "rates", {"valid_to": valid_to}, change)


@router.post("/operator/resources/{resource_id}/qualifications")
def grant(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    email: Annotated[str, Form(max_length=200)] = "",
    expires_on: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """A training record: the user may now book the resource (until the day given, if any)."""
    form = {"email": email, "expires_on": expires_on, "note": note}

    def change(tx: Session, caller: Principal) -> Any:
        found, _ = users.list_users(tx, caller, Role.sme, None, email.strip(), 0, 2)
        match = [u for u in found if u.email.lower() == email.strip().lower()]
        if not match:
            raise Invalid("email", "no SME user has this e-mail address")
        ends = day(expires_on, "expires_on")
        expires = datetime.combine(ends, datetime.max.time(), zone_of(tx, resource_id)) if ends else None
        data = QualificationCreate(
            user_id=match[0].id or 0, resource_id=resource_id, expires_at=expires, note=note or None
        )
        return qualifications.grant(tx, caller, data)

    return act(request, who, session, write, csrf_token, resource_id, "qualifications", form, change)


@router.post("/operator/resources/{resource_id}/qualifications/{qualification_id}/revoke")
def revoke(
    request: Request,
    session: SessionDep,
    write: Writer,
    who: PageCaller,
    resource_id: int,
    qualification_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    def change(tx: Session, caller: Principal) -> Any:
        qualifications.revoke(tx, caller, qualification_id)

    return act(request, who, session, write, csrf_token, resource_id, "qualifications", {}, change)
