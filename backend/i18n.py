"""Languages of the web pages: Simplified Chinese by default, English on a switch.

Text goes through gettext catalogs (Babel; `make i18n-extract` refreshes them, `make translations`
compiles them); the message ids are English, so English needs no catalog. The language of the request
being answered lives in a context variable the page middleware sets; dates, numbers and money are
formatted for it, times in the platform's zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "ps_lang"
LOCALES = Path(__file__).parent / "web" / "locales"
_BABEL = {"zh": "zh_Hans_CN", "en": "en_GB"}
_CATALOG = {"zh": "zh_Hans"}
_language: ContextVar[str] = ContextVar("pilotshare_language", default=DEFAULT_LANGUAGE)


def choose_language(asked: str | None, remembered: str | None) -> str:
    """`?lang=` first, then the remembered cookie, then Chinese."""
    for candidate in (asked, remembered):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


@contextmanager
def language(lang: str) -> Iterator[None]:
    token = _language.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


def current_language() -> str:
    return _language.get()


@lru_cache(maxsize=len(LANGUAGES))
def _translations(lang: str) -> NullTranslations:
    catalog = _CATALOG.get(lang)
    if catalog is None:
        return NullTranslations()
    found = Translations.load(str(LOCALES), [catalog], domain="messages")
    return found if isinstance(found, Translations) else NullTranslations()


def catalog_loaded(lang: str) -> bool:
    """Whether the compiled catalog of `lang` was found (`make translations`)."""
    return lang not in _CATALOG or isinstance(_translations(lang), Translations)


def gettext(message: str) -> str:
    return _translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations(current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A word whose translation depends on what it is said of (an *active* alarm is not an *active*
    resource)."""
    return str(_translations(current_language()).pgettext(context, message))


_ = gettext


def N_(message: str) -> str:
    """Marks text for the catalog where it is defined; it is translated where it is shown."""
    return message


def pick(chinese: str | None, english: str | None) -> str:
    """Data in the reader's language where both exist (resource and platform names)."""
    if current_language() == "en" and english:
        return english
    return chinese or english or ""


def when(moment: datetime | None, zone: str = "Asia/Shanghai", pattern: str = "yyyy-MM-dd HH:mm") -> str:
    if moment is None:
        return ""
    return babel_datetime(moment, pattern, tzinfo=ZoneInfo(zone), locale=_BABEL[current_language()])


def money(amount: Decimal | float | int | None) -> str:
    if amount is None:
        return "—"
    return format_currency(amount, "CNY", locale=_BABEL[current_language()])


def number(value: float | int | Decimal | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_BABEL[current_language()])
