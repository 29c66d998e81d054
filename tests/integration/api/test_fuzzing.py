"""Schemathesis against a running API, on SQLite and PostgreSQL: every operation of the OpenAPI document,
called as every kind of caller with inputs generated from the document, answers without a server error
and as the document describes (status, content type, body).

The number of examples per operation is bounded (`PILOTSHARE_FUZZ_EXAMPLES`, default 8) and the
generation is derandomized, so the suite stays within its time budget and a run repeats the one before;
raise the number locally to search further (the probe of issue 13 ran 41,000 cases)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.db import make_engine, unit_of_work
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from tests.support.api_server import running_api
from tests.support.influxdb import InfluxServer

pytestmark = pytest.mark.integration

SECRET = "fuzzing-secret-key-0123456789-abcdefghij"
EXAMPLES = int(os.environ.get("PILOTSHARE_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_target(
    database_url: str, influxdb_session: InfluxServer
) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """A real API process on a seeded database, and a bearer header for each kind of caller."""
    engine = make_engine(Settings(database_url=database_url, secret_key=SECRET))
    with unit_of_work(engine) as session:
        logins = {login.role: login for login in reversed(seed_demo(session))}
    engine.dispose()
    env = {
        "PILOTSHARE_WEBHOOK_ALLOW_PRIVATE": "true",
        "PILOTSHARE_LOGIN_ADDRESS_FAILURES": "100000",
        "PILOTSHARE_INFLUX_URL": influxdb_session.url,  # a private store: telemetry reads answer, never 503
    }
    with running_api(database_url, SECRET, **env) as base:
        roles: dict[str, dict[str, str]] = {"anonymous": {}}
        for role, login in logins.items():
            answer = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": login.email, "password": login.password}
            )
            roles[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        yield base, roles


def _tame(case: Any) -> None:
    """Keep each call short: the optimizer's time limit and an event stream's length are the caller's
    to choose up to minutes, which would only measure patience."""
    body = case.body if isinstance(case.body, dict) else {}
    if case.path.endswith("/schedule/runs") and isinstance(body.get("time_limit"), int | float):
        body["time_limit"] = min(body["time_limit"], 0.5)
    if case.path.endswith("/stream/twins"):
        case.query = {**(case.query or {}), "max_seconds": 0.3, "poll_seconds": 0.2}


def test_every_operation_as_every_caller(fuzz_target: tuple[str, dict[str, dict[str, str]]]) -> None:
    base, roles = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            _tame(case)
            for headers in roles.values():
                case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=60)

        try:
            fuzz()
        except Exception as exc:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)
