"""The administration commands a new operator types first, and how they answer mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def pilotshare(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTSHARE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pilotshare", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_upgrade_seed_twice_and_create_users(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert pilotshare("db", "upgrade", "--database-url", url).returncode == 0
    first = pilotshare("seed", "demo", "--database-url", url)
    second = pilotshare("seed", "demo", "--database-url", url)
    assert first.returncode == 0 and "operator@jinan-bio.demo" in first.stdout
    assert second.stdout == first.stdout  # idempotent: same logins, nothing duplicated
    made = pilotshare(
        "users",
        "create",
        "--email",
        "op2@jinan-bio.demo",
        "--password",
        "long-enough-1",
        "--role",
        "operator",
        "--platform",
        "jinan-bio",
        "--database-url",
        url,
    )
    assert made.returncode == 0 and "created user" in made.stdout
    again = pilotshare(
        "users",
        "create",
        "--email",
        "op2@jinan-bio.demo",
        "--password",
        "long-enough-1",
        "--role",
        "operator",
        "--platform",
        "jinan-bio",
        "--database-url",
        url,
    )
    assert again.returncode == 2 and "exists already" in again.stderr
    no_org = pilotshare(
        "users",
        "create",
        "--email",
        "x@y.cn",
        "--password",
        "long-enough-1",
        "--role",
        "sme",
        "--org",
        "nobody",
        "--database-url",
        url,
    )
    assert no_org.returncode == 2 and "organization 'nobody' does not exist" in no_org.stderr
    bad_role = pilotshare(
        "users",
        "create",
        "--email",
        "x@y.cn",
        "--password",
        "long-enough-1",
        "--role",
        "boss",
        "--database-url",
        url,
    )
    assert bad_role.returncode == 2 and "role" in bad_role.stderr
    short = pilotshare(
        "users",
        "create",
        "--email",
        "x@y.cn",
        "--password",
        "short",
        "--role",
        "auditor",
        "--database-url",
        url,
    )
    assert short.returncode == 2 and "password" in short.stderr


def test_bad_settings_are_named_not_traced(tmp_path: Path) -> None:
    result = pilotshare(
        "db",
        "upgrade",
        env={"PILOTSHARE_PORT": "abc", "PILOTSHARE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert result.returncode == 2
    assert "PILOTSHARE_PORT" in result.stderr and "Traceback" not in result.stderr
    mysql = pilotshare("db", "upgrade", "--database-url", "mysql://somewhere/db")
    assert mysql.returncode == 2 and "PILOTSHARE_DATABASE_URL" in mysql.stderr


def test_api_refuses_the_published_demo_secret_outside_demo_mode(tmp_path: Path) -> None:
    result = pilotshare("api", "--port", "1", env={"PILOTSHARE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2 and "published demo key" in result.stderr
