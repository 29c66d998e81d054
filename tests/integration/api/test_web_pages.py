"""The live view's page and script: it needs a session, and its script calls real API paths."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.web import STATIC
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration


def test_live_page_needs_a_session_and_its_script_uses_the_cookie(api: Api) -> None:
    page = api.client.get("/live", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Flive"
    script = api.client.get("/static/live.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert 'new EventSource(API + "/stream/twins")' in script.text and "access_token" not in script.text


def test_every_api_path_the_live_script_calls_exists(api: Api) -> None:
    spec = set(api.client.get("/openapi.json").json()["paths"])
    patterns = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in spec]
    source = (STATIC / "live.js").read_text()
    # api("/resources/" + r.id + "/twin") -> /api/v1/resources/1/twin; query strings dropped.
    calls = re.findall(r'(?:api\(|API \+ )"(/[^"?]*)[^"]*"(?: \+ [\w.]+ \+ "(/[^"?]*)")?', source)
    assert len(calls) >= 4, calls
    for head, tail in calls:
        path = "/api/v1" + head + ("1" + tail if tail else "")
        assert any(p.match(path) for p in patterns), f"live.js calls {path}, which the API does not serve"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_live_script_parses() -> None:
    done = subprocess.run(["node", "--check", str(Path(STATIC) / "live.js")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
