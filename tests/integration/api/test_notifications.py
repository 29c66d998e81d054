"""Booking notices leave through the outbox: a real SMTP server gets the e-mails, a real HTTP server the
signed webhook calls; a dead mail server delays them without losing any; two runs never send one twice."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.background import run_periodically
from backend.models.outbox import OutboxMessage, OutboxStatus
from backend.services.notifications.delivery import SMTP_NOT_CONFIGURED, deliver_pending
from backend.settings import Settings
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

V1 = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a real SMTP server and a real webhook receiver ----------------------------------------------


@dataclass
class Inbox:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 Message accepted for delivery"

    def about(self, booking_id: int) -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in self.messages if str(m["Subject"]).endswith(f"#{booking_id}")]


@dataclass
class Receiver:
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    url: str = ""

    def about(self, booking_id: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
        out = [(h, json.loads(b)) for h, b in self.calls]
        return [(h, p) for h, p in out if p["booking_id"] == booking_id]


@pytest.fixture(scope="module")
def inbox(database_url: str) -> Iterator[tuple[Inbox, int]]:
    """One mail server per database kind, since booking ids repeat across them."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def receiver(database_url: str) -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/pilotshare"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- helpers ---------------------------------------------------------------------------------------


def engine_of(api: Api) -> Engine:
    engine: Engine = api.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def settings_with(api: Api, **changes: Any) -> Settings:
    settings: Settings = api.client.app.state.settings  # type: ignore[attr-defined]
    return settings.model_copy(update=changes)


def smtp(api: Api, port: int, **changes: Any) -> Settings:
    return settings_with(api, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5, **changes)


def slot(day: int, hour: int, hours: int = 1) -> tuple[str, str]:
    """Day `day` (0 = Monday 2027-03-01, weekends skipped) at `hour` in Shanghai, lasting `hours`."""
    week, weekday = divmod(day, 5)
    start = datetime(2027, 3, 1, hour, tzinfo=SHANGHAI) + timedelta(weeks=week, days=weekday)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def book(api: Api, role: str, code: str, day: int, hour: int) -> dict[str, Any]:
    start, end = slot(day, hour)
    response = api.call(
        role,
        "POST",
        f"{V1}/bookings",
        {"resource_id": api.ids[f"resource:{code}"], "start": start, "end": end, "purpose": "酶活测试 pilot"},
    )
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


def outbox(api: Api, booking_id: int) -> list[OutboxMessage]:
    with Session(engine_of(api)) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.booking_id == booking_id)
                .order_by(col(OutboxMessage.id))
            )
        )


def email_of(api: Api, role: str) -> str:
    email: str = api.call(role, "GET", f"{V1}/me").json()["email"]
    return email


@pytest.fixture(scope="module")
def webhook(api: Api, receiver: Receiver) -> dict[str, Any]:
    """The demo platform's operator subscribes the receiver to every booking event."""
    response = api.call(
        "operator", "POST", f"{V1}/platforms/{api.ids['platform']}/webhooks", {"url": receiver.url}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- tests -----------------------------------------------------------------------------------------


def test_request_and_approval_reach_the_smes_mailbox_and_the_signed_webhook(
    api: Api, inbox: tuple[Inbox, int], receiver: Receiver, webhook: dict[str, Any]
) -> None:
    mails, port = inbox
    booking = book(api, "sme", "F5-1", day=0, hour=9)
    assert booking["status"] == "requested"
    approved = api.call("operator", "POST", f"{V1}/bookings/{booking['id']}/approve")
    assert approved.status_code == 200, approved.text

    report = deliver_pending(engine_of(api), smtp(api, port))
    assert not report.retrying and not report.failed

    to_sme = mails.about(booking["id"])
    assert [to for to, _ in to_sme] == [[email_of(api, "sme")]] * 2
    subjects = [str(m["Subject"]) for _, m in to_sme]
    assert "Booking requested" in subjects[0] and "Booking approved" in subjects[1]
    approval = to_sme[1][1]
    assert approval["X-PilotShare-Event"] == "booking.approved"
    text = approval.get_content()
    assert "F5-1" in text and "2027-03-01 09:00" in text and "酶活测试" in text

    calls = receiver.about(booking["id"])
    assert [p["event"] for _, p in calls] == ["booking.requested", "booking.approved"]
    for headers, _ in calls:
        assert headers["x-pilotshare-event"] in ("booking.requested", "booking.approved")
    raw = [b for h, b in receiver.calls if json.loads(b)["booking_id"] == booking["id"]]
    for (headers, payload), body in zip(calls, raw, strict=True):
        expected = "sha256=" + hmac.new(webhook["secret"].encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-pilotshare-signature"], expected)
        assert payload["resource"] == "F5-1" and payload["webhook_id"] == webhook["id"]
    rows = outbox(api, booking["id"])
    assert {(r.channel, r.status, r.attempts) for r in rows} == {
        ("email", OutboxStatus.sent, 1),
        ("webhook", OutboxStatus.sent, 1),
    }
    assert len(rows) == 4 and all(r.sent_at is not None for r in rows)


def test_a_dead_mail_server_delays_with_backoff_and_loses_nothing(
    api: Api, inbox: tuple[Inbox, int], webhook: dict[str, Any]
) -> None:
    mails, port = inbox
    booking = book(api, "operator", "F50-1", day=1, hour=10)
    assert booking["status"] == "approved"
    dead = smtp(api, free_port(), outbox_retry_seconds=60)

    before = datetime.now(UTC)
    report = deliver_pending(engine_of(api), dead)
    mail = next(r for r in outbox(api, booking["id"]) if r.channel == "email")
    assert mail.id in report.retrying
    assert mail.status == OutboxStatus.pending and mail.attempts == 1
    assert mail.last_error and "SMTP 127.0.0.1" in mail.last_error
    assert before + timedelta(seconds=55) < mail.next_attempt_at < before + timedelta(seconds=90)
    hook = next(r for r in outbox(api, booking["id"]) if r.channel == "webhook")
    assert hook.status == OutboxStatus.sent  # the broken mail server held up nothing else

    deliver_pending(engine_of(api), dead)  # not due yet: not tried again
    assert next(r for r in outbox(api, booking["id"]) if r.channel == "email").attempts == 1

    later = datetime.now(UTC) + timedelta(minutes=1, seconds=30)
    deliver_pending(engine_of(api), dead, now=later)  # second failure: the delay doubles
    mail = next(r for r in outbox(api, booking["id"]) if r.channel == "email")
    assert mail.attempts == 2 and mail.status == OutboxStatus.pending
    assert mail.next_attempt_at > datetime.now(UTC) + timedelta(seconds=110)

    report = deliver_pending(engine_of(api), smtp(api, port), now=datetime.now(UTC) + timedelta(minutes=5))
    mail = next(r for r in outbox(api, booking["id"]) if r.channel == "email")
    assert mail.id in report.sent and mail.status == OutboxStatus.sent and mail.attempts == 3
    assert len(mails.about(booking["id"])) == 1


def test_gives_up_after_the_last_attempt_and_without_smtp_marks_mail_failed(
    api: Api, webhook: dict[str, Any]
) -> None:
    first = book(api, "operator", "F50-1", day=2, hour=10)
    dead = smtp(api, free_port(), outbox_max_attempts=2, outbox_retry_seconds=1)
    deliver_pending(engine_of(api), dead)
    deliver_pending(engine_of(api), dead, now=datetime.now(UTC) + timedelta(minutes=1))
    mail = next(r for r in outbox(api, first["id"]) if r.channel == "email")
    assert mail.status == OutboxStatus.failed and mail.attempts == 2 and mail.last_error

    second = book(api, "operator", "F50-1", day=2, hour=12)
    report = deliver_pending(engine_of(api), settings_with(api, smtp_host=None))
    rows = outbox(api, second["id"])
    mail = next(r for r in rows if r.channel == "email")
    assert mail.id in report.failed and mail.status == OutboxStatus.failed
    assert mail.last_error == SMTP_NOT_CONFIGURED
    assert next(r for r in rows if r.channel == "webhook").status == OutboxStatus.sent


def test_a_failing_webhook_is_retried_and_later_delivered(
    api: Api, inbox: tuple[Inbox, int], receiver: Receiver, webhook: dict[str, Any]
) -> None:
    _, port = inbox
    booking = book(api, "operator", "HPLC-1", day=3, hour=14)
    receiver.status = 503
    try:
        deliver_pending(engine_of(api), smtp(api, port))
    finally:
        receiver.status = 200
    hook = next(r for r in outbox(api, booking["id"]) if r.channel == "webhook")
    assert hook.status == OutboxStatus.pending and hook.last_error and "HTTP 503" in hook.last_error
    deliver_pending(engine_of(api), smtp(api, port), now=datetime.now(UTC) + timedelta(minutes=2))
    hook = next(r for r in outbox(api, booking["id"]) if r.channel == "webhook")
    assert hook.status == OutboxStatus.sent and hook.attempts == 2
    deliveries = [h["x-pilotshare-delivery"] for h, _ in receiver.about(booking["id"])]
    assert deliveries == [str(hook.id), str(hook.id)]  # a receiver can tell a retry from a new event


def test_two_concurrent_delivery_runs_send_each_message_once(
    api: Api, inbox: tuple[Inbox, int], receiver: Receiver, webhook: dict[str, Any]
) -> None:
    mails, port = inbox
    bookings = [book(api, "operator", "F5-1", day=4, hour=8 + i) for i in range(10)]
    ids = {b["id"] for b in bookings}
    mails.delay = 0.02
    settings = smtp(api, port)
    reports = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        reports.append(deliver_pending(engine_of(api), settings))

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        mails.delay = 0.0
    assert len(reports) == 2
    first, second = reports
    assert not set(first.sent) & set(second.sent)
    for booking_id in ids:
        assert len(mails.about(booking_id)) == 1, booking_id
        assert len(receiver.about(booking_id)) == 1, booking_id
        assert {(r.status, r.attempts) for r in outbox(api, booking_id)} == {(OutboxStatus.sent, 1)}


def test_webhooks_are_managed_by_the_platforms_operators_only(api: Api, receiver: Receiver) -> None:
    url = f"{V1}/platforms/{api.ids['platform']}/webhooks"
    body = {"url": receiver.url + "?only=approved", "events": ["booking.approved"]}
    for role, code in (("anonymous", 401), ("sme", 403), ("auditor", 403), ("other_operator", 403)):
        assert api.call(role, "POST", url, body).status_code == code, role
        assert api.call(role, "GET", url).status_code == code, role
    bad = api.call("operator", "POST", url, {"url": "ftp://example.org", "events": ["booking.lost"]})
    assert bad.status_code == 422 and "url" in bad.json()["detail"]
    created = api.call("admin", "POST", url, body)
    assert created.status_code == 201 and len(created.json()["secret"]) >= 32
    listed = api.call("operator", "GET", url).json()
    assert created.json()["id"] in [h["id"] for h in listed["data"]]
    assert all("secret" not in h for h in listed["data"])
    hook_id = created.json()["id"]
    assert api.call("other_operator", "DELETE", f"{url}/{hook_id}").status_code == 403
    assert api.call("operator", "DELETE", f"{url}/{hook_id}").status_code == 204
    assert api.call("operator", "DELETE", f"{url}/{hook_id}").status_code == 404
    assert hook_id not in [h["id"] for h in api.call("operator", "GET", url).json()["data"]]


def test_webhooks_reach_only_public_addresses_unless_allowed(
    api: Api, inbox: tuple[Inbox, int], receiver: Receiver, webhook: dict[str, Any]
) -> None:
    url = f"{V1}/platforms/{api.ids['platform']}/webhooks"
    app = api.client.app  # type: ignore[attr-defined]
    allowed = app.state.settings
    app.state.settings = allowed.model_copy(update={"webhook_allow_private": False})
    try:
        for target in (
            "http://127.0.0.1:5432/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            receiver.url,
        ):
            refused = api.call("operator", "POST", url, {"url": target})
            assert refused.status_code == 422, target
            assert "url" in refused.json()["detail"] and "internal address" in refused.json()["detail"]
    finally:
        app.state.settings = allowed
    # A hook accepted earlier is checked again before each call: nothing goes out, the message fails.
    _, port = inbox
    booking = book(api, "sme", "F5-1", day=3, hour=9)
    report = deliver_pending(engine_of(api), smtp(api, port, webhook_allow_private=False))
    hooks = [r for r in outbox(api, booking["id"]) if r.channel == "webhook"]
    assert hooks and all(
        r.status == OutboxStatus.failed and "internal address" in (r.last_error or "") for r in hooks
    )
    assert set(report.failed) >= {r.id for r in hooks}
    assert receiver.about(booking["id"]) == []


def test_the_outbox_command_delivers_once_and_exits(api: Api, inbox: tuple[Inbox, int]) -> None:
    mails, port = inbox
    booking = book(api, "operator", "HPLC-1", day=6, hour=9)
    env = {
        **os.environ,
        "PILOTSHARE_DATABASE_URL": settings_with(api).database_url,
        "PILOTSHARE_SMTP_HOST": "127.0.0.1",
        "PILOTSHARE_SMTP_PORT": str(port),
        "PILOTSHARE_WEBHOOK_ALLOW_PRIVATE": "true",  # the test receiver is on 127.0.0.1
    }
    done = subprocess.run(
        [sys.executable, "-m", "pilotshare", "outbox", "deliver", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["sent"] >= 1 and summary["failed"] == 0
    assert len(mails.about(booking["id"])) == 1
    assert next(r for r in outbox(api, booking["id"]) if r.channel == "email").status == OutboxStatus.sent


def test_the_api_background_jobs_deliver_the_outbox(api: Api, inbox: tuple[Inbox, int]) -> None:
    mails, port = inbox
    booking = book(api, "operator", "F50-1", day=7, hour=15)

    async def run_briefly() -> None:
        loop = asyncio.create_task(run_periodically(engine_of(api), 0.1, settings=smtp(api, port)))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if mails.about(booking["id"]):
                break
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop

    asyncio.run(run_briefly())
    assert len(mails.about(booking["id"])) == 1
    assert next(r for r in outbox(api, booking["id"]) if r.channel == "email").status == OutboxStatus.sent
