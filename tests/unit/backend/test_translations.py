"""Every text of the pages has its Chinese: the catalog covers what the code and templates say, with no
empty translation and placeholders kept."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOG = ROOT / "backend/web/locales/zh_Hans/LC_MESSAGES/messages.po"


def _ids(path: Path) -> dict[str, str]:
    """msgid -> msgstr; a word said of something in particular (msgctxt) as `context|msgid`."""
    with path.open("rb") as f:
        catalog = read_po(f)
    out = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        text = message.string[0] if isinstance(message.string, tuple) else message.string
        out[f"{message.context}|{key}" if message.context else key] = text or ""
    return out


def test_every_entry_is_translated_with_its_placeholders() -> None:
    entries = _ids(CATALOG)
    assert entries, "empty catalog"
    empty = sorted(k for k, v in entries.items() if not v.strip())
    assert not empty, f"untranslated: {empty[:10]}"
    for source, chinese in entries.items():
        wanted = set(re.findall(r"\{\w+\}|%\(\w+\)d", source))
        assert wanted <= set(re.findall(r"\{\w+\}|%\(\w+\)d", chinese)), f"placeholders lost in {source!r}"


def test_the_catalog_covers_every_text_of_the_pages(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "N_",
            "-o",
            str(fresh),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    missing = sorted(set(_ids(fresh)) - set(_ids(CATALOG)))
    assert not missing, f"run `make i18n-extract` and translate: {missing[:10]}"
