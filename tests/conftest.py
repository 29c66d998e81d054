"""Fixtures shared by all tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import database

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of each supported kind (the test module runs once per kind)."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


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
