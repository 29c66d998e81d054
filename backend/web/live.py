"""The live view of the instruments: cards the page's script keeps current from the twins, the twin
stream and the alarms (all through the API with the visitor's session cookie), each card with the key
signals of its kind of instrument (`signals`), a sparkline, connection, interlock, pending setpoints and
its open alarms; an operator of the platform (or an administrator) acknowledges an active alarm in place."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from backend.domain.access import Principal, Role
from backend.domain.alarms import AlarmAction
from backend.domain.errors import Conflict, DomainError
from backend.http.deps import PageCaller, Writer
from backend.http.errors import status_of
from backend.i18n import gettext
from backend.models.common import Id
from backend.services.telemetry import alarms
from backend.web.common import need_login, render
from backend.web.operator import check_csrf
from backend.web.signals import catalog
from backend.web.words import translate

router = APIRouter(include_in_schema=False)


def acknowledges(who: Principal) -> str:
    """Whose alarms the visitor may acknowledge, for the script: `*` (an administrator), a platform's id
    (its operator), or nobody."""
    if who.role is Role.admin:
        return "*"
    if who.role is Role.operator and who.platform_id is not None:
        return str(who.platform_id)
    return ""


@router.get("/live")
def live(request: Request, who: PageCaller) -> Response:
    caller = need_login(request, who)
    context = {
        "catalog": json.dumps(catalog(), ensure_ascii=False, separators=(",", ":")),
        "acknowledges": acknowledges(caller),
        "reads_rules": caller.role is not Role.sme,  # the alarm-rule pages refuse SMEs
    }
    return render(request, caller, "live.html", context)


def refusal(exc: DomainError) -> str:
    if isinstance(exc, Conflict):  # acknowledged or cleared meanwhile, by someone else or the system
        return gettext("This alarm is no longer active; the page shows its state now.")
    return translate(exc.message)


@router.post("/live/alarms/{alarm_id}/ack")
def acknowledge(
    request: Request,
    write: Writer,
    who: PageCaller,
    alarm_id: Id,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Someone is on it. The page's script asks for JSON and gets the alarm as the API shows it (or the
    refusal in the reader's language); a plain form post goes back to the page."""
    caller = need_login(request, who)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        check_csrf(request, csrf_token)
        with write() as session:
            alarm = alarms.decide(session, caller, alarm_id, AlarmAction.ack)
    except DomainError as exc:
        if not wants_json:
            raise
        return JSONResponse({"detail": refusal(exc)}, status_code=status_of(exc))
    if not wants_json:
        return RedirectResponse("/live", status_code=303)
    return JSONResponse(alarm.model_dump(mode="json"))
