"""A migrated, seeded API per database kind, and logged-in callers of every role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.db import make_engine, unit_of_work
from backend.main import create_app
from backend.services.demo.seed import seed_demo
from backend.settings import Settings
from tests.support.influxdb import InfluxServer, influxdb_session  # noqa: F401

pytestmark = pytest.mark.integration

ROLES = ["anonymous", "admin", "operator", "other_operator", "sme", "other_sme", "auditor"]


@dataclass
class Api:
    client: TestClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def as_(self, role: str) -> dict[str, str]:
        return self.headers.get(role, {})

    def call(self, role: str, method: str, url: str, json: Any = None) -> Any:
        return self.client.request(method, url, json=json, headers=self.as_(role))

    def admin(self, method: str, url: str, json: Any = None) -> Any:
        response = self.call("admin", method, url, json)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def login(client: TestClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def api(database_url: str, influxdb_session: InfluxServer) -> Iterator[Api]:  # noqa: F811
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key-0123456789-abcdefghijkl",
        demo_mode=False,
        background_seconds=0,
        webhook_allow_private=True,  # the tests' webhook receivers listen on 127.0.0.1
        influx_url=influxdb_session.url,  # a private, empty store: telemetry reads answer, never 503
        # its own database in the shared server: the module runs once per database kind, and what one
        # run writes must not show in the next one's reads
        influx_db=f"api_{uuid.uuid4().hex[:8]}",
    )
    engine = make_engine(settings)
    with unit_of_work(engine) as session:
        logins = {login.role: login for login in reversed(seed_demo(session))}
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        a = Api(client)
        for role in ("admin", "operator", "sme", "auditor"):
            a.headers[role] = login(client, logins[role].email, logins[role].password)
        a.ids["platform"] = a.admin("GET", "/api/v1/platforms?q=jinan-bio")["data"][0]["id"]
        a.ids["sme_org"] = client.get("/api/v1/me", headers=a.headers["sme"]).json()["organization_id"]
        other = a.admin(
            "POST",
            "/api/v1/platforms",
            {
                "code": "qingdao-mat",
                "name": "青岛新材料中试基地",
                "city": "青岛",
                "city_en": "Qingdao",
                "industry": "新材料",
                "industry_en": "New materials",
            },
        )
        a.ids["other_platform"] = other["id"]
        a.admin(
            "POST",
            "/api/v1/users",
            {
                "email": "op2@qingdao-mat.demo",
                "password": "other-operator-1",
                "full_name": "Qian",
                "role": "operator",
                "platform_id": other["id"],
            },
        )
        a.headers["other_operator"] = login(client, "op2@qingdao-mat.demo", "other-operator-1")
        smes = a.admin("GET", "/api/v1/organizations?kind=sme")["data"]
        other_sme = next(o for o in smes if o["id"] != a.ids["sme_org"])
        a.ids["other_sme_org"] = other_sme["id"]
        a.admin(
            "POST",
            "/api/v1/users",
            {
                "email": "member@other-sme.demo",
                "password": "other-sme-pass-1",
                "full_name": "Other SME",
                "role": "sme",
                "organization_id": other_sme["id"],
            },
        )
        a.headers["other_sme"] = login(client, "member@other-sme.demo", "other-sme-pass-1")
        resources = a.admin("GET", "/api/v1/resources?platform=jinan-bio&limit=100")["data"]
        a.ids.update({f"resource:{r['code']}": r["id"] for r in resources})
        yield a
