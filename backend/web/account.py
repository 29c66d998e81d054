"""The signed-in person's own account: who they are here, and changing their password (which ends
every other session; this browser's session cookie is renewed and it goes on)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from backend.domain.access import Principal
from backend.domain.errors import AccessDenied, DomainError, Throttled
from backend.http.deps import EngineDep, PageCaller, SessionDep, SettingsDep
from backend.http.sessions import start_session
from backend.i18n import gettext, pick
from backend.models.organization import Organization
from backend.models.platform import Platform
from backend.models.user import User
from backend.services.accounts import login
from backend.web.common import check_form_csrf, form_errors, need_login, render
from backend.web.words import translate

router = APIRouter(include_in_schema=False)

TEMPLATE = "account/index.html"


def _about(session: Session, who: Principal) -> dict[str, object]:
    user = session.get(User, who.user_id)
    organization = session.get(Organization, who.organization_id) if who.organization_id else None
    platform = session.get(Platform, who.platform_id) if who.platform_id else None
    return {
        "user": user,
        "organization": pick(organization.name, organization.name_en) if organization else "",
        "platform": pick(platform.name, platform.name_en) if platform else "",
    }


@router.get("/account")
def account(request: Request, session: SessionDep, who: PageCaller) -> Response:
    caller = need_login(request, who)
    return render(request, caller, TEMPLATE, {**_about(session, caller), "errors": {}})


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    who: PageCaller,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=128)] = "",
    new_password_again: Annotated[str, Form(max_length=128)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    caller = need_login(request, who)
    address = request.client.host if request.client else "unknown"
    errors: dict[str, str] = {}
    status, retry_after = 200, 0
    done = None
    try:
        check_form_csrf(request, csrf_token)
        if new_password != new_password_again:
            errors = {"new_password_again": gettext("The two new passwords differ.")}
        else:
            done = login.change_password(
                engine, settings, caller.user_id, current_password, new_password, address
            )
    except Throttled as exc:
        errors = {"current_password": gettext("Too many wrong passwords; try again in a few minutes.")}
        status = 429
        retry_after = exc.retry_after
    except AccessDenied as exc:
        errors = {"current_password": translate(exc.message.removeprefix("current_password: "))}
        status = 403
    except DomainError as exc:
        errors = form_errors(exc)
        status = 422
    if errors and status == 200:
        status = 422
    context = {**_about(session, caller), "errors": errors, "changed": done is not None}
    response = render(request, caller, TEMPLATE, context, status_code=status)
    if done is not None:  # this browser goes on with a token of the new version; every other one ends
        start_session(request, response, done.access_token, settings.access_token_minutes * 60)
    if status == 429:
        response.headers["Retry-After"] = str(retry_after)
    return response
