"""The live view of the instruments: cards the page's script keeps current from the twins, the twin
stream and the alarms (all through the API with the visitor's session cookie), each card with the key
signals of its kind of instrument (`signals`), a sparkline, connection, interlock and pending setpoints."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from backend.http.deps import PageCaller
from backend.web.common import need_login, render
from backend.web.signals import catalog

router = APIRouter(include_in_schema=False)


@router.get("/live")
def live(request: Request, who: PageCaller) -> Response:
    context = {"catalog": json.dumps(catalog(), ensure_ascii=False, separators=(",", ":"))}
    return render(request, need_login(request, who), "live.html", context)
