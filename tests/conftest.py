"""Fixtures shared by all tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from backend.services.accounts import security
from tests.support.databases import MigratedTemplates, database

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(scope="module", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_templates: MigratedTemplates,
) -> Iterator[str]:
    """A database of each supported kind at the newest revision (the test module runs once per kind)."""
    with migrated_templates.database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module", params=DATABASES)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database of each supported kind, for the migrations' own tests."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Argon2id at its lowest cost in the tests' own process. The shipped cost (64 MiB, three passes) is
    a third of a second a hash on this machine, and seeding, logging in and creating users hash about a
    thousand times in a run: minutes of CPU that prove nothing about the code. The hashes are still
    argon2id and carry their parameters, so the API and CLI processes the tests start verify them as
    they verify their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            security, "_hasher", PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
        )
        yield


E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser journeys run last: Playwright's sync API keeps an event loop running in the main thread for
    the rest of the session, and the asyncio tests that would follow refuse to start under it. Every test
    under tests/e2e/ is one, marked or not: a journey file that forgot its `pytestmark` once ran mid-suite
    and failed 32 asyncio tests after it."""
    for item in items:
        if item.path.is_relative_to(E2E) and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
