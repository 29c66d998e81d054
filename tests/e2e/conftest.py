"""The whole stack for browser journeys: the demo platform with its history in a real database, its run
data in a real InfluxDB, a real `pilotshare api` process, and Debian's Chromium driven by Playwright.

Every page a journey visits is saved as a screenshot under test-artifacts/screenshots/ (not committed),
and every request the browser makes is recorded, so a journey can prove it never left the app's host.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Request

from backend.adapters.influx import InfluxClient, telemetry_lines
from backend.db import make_engine, unit_of_work, writer
from backend.migrations import upgrade
from backend.services.demo.history import seed_history, settle_last_month
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from simulators.history import run_samples
from tests.support.api_server import running_api
from tests.support.databases import sqlite_database
from tests.support.influxdb import InfluxServer, _server

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("PILOTSHARE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path("test-artifacts/screenshots")
SECRET = "e2e-secret-key-0123456789-abcdefghijklmn"


@dataclass
class Stack:
    url: str
    logins: dict[str, tuple[str, str]]
    settings: Settings
    runs: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="session")
def influx_e2e() -> Iterator[InfluxServer]:
    yield from _server()


@pytest.fixture(scope="session")
def stack(influx_e2e: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with sqlite_database(tmp_path_factory.mktemp("e2e-db")) as database_url:
        upgrade(database_url)
        settings = Settings(
            database_url=database_url, secret_key=SECRET, influx_url=influx_e2e.url, background_seconds=0
        )
        engine = make_engine(settings)
        with unit_of_work(engine) as session:
            logins = {login.role: (login.email, login.password) for login in reversed(seed_demo(session))}
        with unit_of_work(writer(engine)) as session:
            plan = seed_history(session, "jinan-bio")
        client = InfluxClient(settings.influx_url, settings.influx_db)
        client.ensure_database()
        runs = [run.as_dict() for run in plan.runs]
        for run in runs:  # the instruments' reports of each past run, as ingest would have stored them
            samples = [(s["ts"], s["fields"]) for s in run_samples(run)]
            client.write(telemetry_lines(str(run["platform"]), str(run["resource"]), samples))
        client.close()
        with unit_of_work(writer(engine)) as session:
            settle_last_month(session)
        engine.dispose()
        env = {"PILOTSHARE_INFLUX_URL": influx_e2e.url, "PILOTSHARE_LOG_LEVEL": "WARNING"}
        with running_api(database_url, SECRET, **env) as url:
            yield Stack(url, logins, settings, runs)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium", pytrace=False)
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": flags, "headless": True}


@dataclass
class Visit:
    page: Page
    base: str
    requests: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def login(self, email: str, password: str, then: str = "/") -> None:
        self.go("/login?next=" + then)
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_url(self.base + then)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.base) and not url.startswith("data:")]


@pytest.fixture
def visit(page: Page, stack: Stack) -> Visit:
    """A browser tab on the stack; requests to any other host are recorded and refused."""
    seen = Visit(page, stack.url)

    def record(request: Request) -> None:
        seen.requests.append(request.url)

    page.on("request", record)
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(stack.url) else route.abort(),
    )
    return seen
