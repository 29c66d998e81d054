"""The one Jinja environment, made by a factory: the web pages and the printable reports share it.

It has gettext (`jinja2.ext.i18n`, in the language of the request being answered, see `backend.i18n`)
and filters for the platform's zone (`when`), money in yuan (`money`), numbers (`number`) and data in
the reader's language (`pick`)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend import i18n

TEMPLATES = Path(__file__).parent / "web" / "templates"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(when=i18n.when, money=i18n.money, number=i18n.number)
    env.globals.update(pick=i18n.pick, current_language=i18n.current_language)
    return env
