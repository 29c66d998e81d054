"""The live view of the instruments: a page whose script reads the twins through the API and the twin
stream with the visitor's session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from backend.http.deps import PageCaller
from backend.web.common import need_login, render

router = APIRouter(include_in_schema=False)


@router.get("/live")
def live(request: Request, who: PageCaller) -> Response:
    return render(request, need_login(request, who), "live.html")
