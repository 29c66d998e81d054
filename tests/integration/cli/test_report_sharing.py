"""`pilotshare report sharing`: the three formats, bad input named with exit code 2, and a report that
says when it was computed from a tampered log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from backend.db import make_engine, unit_of_work
from backend.services.demo.seed import seed_demo
from backend.settings import Settings

pytestmark = pytest.mark.integration


def pilotshare(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    return subprocess.run(
        [sys.executable, "-m", "pilotshare", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    engine = make_engine(Settings(database_url=database_url))
    with unit_of_work(engine) as session:
        seed_demo(session)
    engine.dispose()
    return database_url


def test_json_csv_and_html(url: str) -> None:
    # A period that may reach into the future: booked time counts up to --as-of, so the report repeats.
    until = ("--as-of", "2026-07-01T00:00:00+08:00")
    period = ("--from", "2026-01-01", "--to", "2026-12-31", *until, "--database-url", url)
    as_json = pilotshare("report", "sharing", *period, "--platform", "jinan-bio")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert [p["platform"] for p in body["platforms"]] == ["jinan-bio"]
    p = body["platforms"][0]
    assert (
        p["period"]["start"] == "2026-01-01T00:00:00+08:00"
        and p["period"]["end"] == "2027-01-01T00:00:00+08:00"
    )
    assert p["effective_hours"] == 0.0 and p["sharing_rate"] is None  # nothing measured yet
    assert body["audit"]["ok"] is True and body["audit"]["events"] == body["audit"]["head_seq"] > 0

    again = json.loads(pilotshare("report", "sharing", *period, "--platform", "jinan-bio").stdout)
    assert again["platforms"][0]["inputs_sha256"] == p["inputs_sha256"]

    as_csv = pilotshare("report", "sharing", *period, "--format", "csv")
    assert as_csv.returncode == 0 and as_csv.stdout.startswith("platform,resource,figure,value\n")
    assert f",,audit.head_hash,{body['audit']['head_hash']}" in as_csv.stdout
    as_html = pilotshare("report", "sharing", *period, "--format", "html")
    assert as_html.returncode == 0 and as_html.stdout.lstrip().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-12-10", "--to", "2026-12-01"),
            "error: --to: 2026-12-01 is before from (2026-12-10)",
        ),
        (
            ("--from", "2026-02-30", "--to", "2026-03-01"),
            "error: --from: not a date (YYYY-MM-DD): '2026-02-30'",
        ),
        (
            ("--from", "2026-01-01", "--to", "2026-01-31", "--platform", "nowhere"),
            "error: --platform: unknown platform code 'nowhere'",
        ),
        (
            ("--from", "2026-01-01", "--to", "2026-01-31", "--format", "pdf"),
            "error: --format: one of json, csv, html (got 'pdf')",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_option(url: str, args: tuple[str, ...], message: str) -> None:
    answer = pilotshare("report", "sharing", *args, "--database-url", url)
    assert answer.returncode == 2, answer.stdout + answer.stderr
    assert answer.stderr.strip() == message
    assert answer.stdout == ""


def test_a_report_from_a_tampered_log_says_so(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(text("UPDATE audit_event SET actor = 'user:1' WHERE seq = 2"))
    engine.dispose()
    answer = pilotshare(
        "report", "sharing", "--from", "2026-01-01", "--to", "2026-01-31", "--database-url", url
    )
    assert answer.returncode == 0
    audit = json.loads(answer.stdout)["audit"]
    assert audit["ok"] is False and audit["first_bad"]["expected_seq"] == 2
    page = pilotshare(
        "report",
        "sharing",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--format",
        "html",
        "--database-url",
        url,
    )
    assert "BROKEN" in page.stdout and "at seq 2" in page.stdout
