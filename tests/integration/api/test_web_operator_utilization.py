"""The utilization page on both databases: resource × day cells of hours measured in use (usage
sessions) against opening hours and against booked time, the figures behind them (GET
/reports/utilization's), the CSV with the same figures, and refusals for a period the wrong way round."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from backend.db import make_engine, unit_of_work
from backend.domain.bookings import BookingStatus
from backend.domain.intervals import Interval
from backend.models.booking import Booking
from backend.models.usage import UsageSession
from backend.settings import Settings
from tests.integration.api.conftest import Api
from tests.integration.api.test_web_operator_queue import OPERATOR
from tests.integration.api.test_web_session import SME, browser, log_in

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 13)  # a Tuesday: the demo platform is open 08:00-20:00


def past_run(
    database_url: str, resource_id: int, platform_id: int, user_id: int, booked: Interval, used: Interval
) -> None:
    """A completed booking of the past and the usage session ingest measured in it (the API books only
    the future, so the past is written as the demo history writes it)."""
    engine = make_engine(Settings(database_url=database_url, secret_key="x" * 40))
    with unit_of_work(engine) as session:
        assert isinstance(session, Session)
        session.add(
            Booking(
                platform_id=platform_id,
                resource_id=resource_id,
                user_id=user_id,
                status=BookingStatus.completed,
                starts_at=booked.start,
                ends_at=booked.end,
                purpose="furnace run",
            )
        )
        start, end = used.start, used.end
        session.add(
            UsageSession(
                resource_id=resource_id,
                platform_id=platform_id,
                started_at=start,
                ended_at=end,
                last_seen_at=end,
                states=["running"],
            )
        )
    engine.dispose()


def test_cells_figures_and_csv(api: Api, database_url: str) -> None:
    resource = api.ids["resource:TF-1"]
    start = datetime(2026, 10, 13, 9, 0, tzinfo=ZONE)
    operator = api.call("operator", "GET", "/api/v1/me").json()["id"]
    booked = Interval(start.astimezone(UTC), (start + timedelta(hours=4)).astimezone(UTC))
    used = Interval(booked.start, booked.start + timedelta(hours=3))
    past_run(database_url, resource, api.ids["platform"], operator, booked, used)
    client = browser(api)
    log_in(client, *OPERATOR)
    page = client.get(f"/operator/utilization?from={DAY}&to={DAY + timedelta(days=6)}")
    assert page.status_code == 200
    data = json.loads(unescape(re.search(r'data-chart="([^"]+)"', page.text).group(1)))  # type: ignore[union-attr]
    assert len(data["days"]) == 7
    y = data["rows"].index("TF-1")
    cell = next(c for c in data["cells"] if c[0] == 0 and c[1] == y)
    assert cell[3:] == [3.0, 12.0, 4.0]  # measured, open, booked hours
    assert cell[2] == 0.25  # against opening hours
    by_booking = client.get(f"/operator/utilization?from={DAY}&to={DAY}&against=booked").text
    again = json.loads(unescape(re.search(r'data-chart="([^"]+)"', by_booking).group(1)))  # type: ignore[union-attr]
    assert next(c for c in again["cells"] if c[1] == y)[2] == 0.75

    export = client.get(f"/operator/utilization.csv?from={DAY}&to={DAY + timedelta(days=6)}")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    tf = next(r for r in rows if r["resource"] == "TF-1" and r["day"] == str(DAY))
    assert (tf["open_hours"], tf["booked_hours"], tf["used_hours"], tf["used_ratio"]) == (
        "12",
        "4",
        "3",
        "0.25",
    )
    assert len(rows) == 7 * len(data["rows"])


def test_who_may_look_and_bad_periods(api: Api) -> None:
    assert browser(api).get("/operator/utilization", follow_redirects=False).status_code == 303
    sme = browser(api)
    log_in(sme, *SME)
    assert sme.get("/operator/utilization").status_code == 403
    client = browser(api)
    log_in(client, *OPERATOR)
    backwards = client.get("/operator/utilization?from=2026-10-10&to=2026-10-01&lang=en")
    assert backwards.status_code == 422 and 'data-field="to"' in backwards.text
