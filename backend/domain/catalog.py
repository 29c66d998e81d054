"""Catalog rules: capability tags, typed attributes and attribute-range filters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

AttributeValue = float | int | bool | str

_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def normalize_tags(tags: Iterable[str]) -> list[str]:
    cleaned = set()
    for raw in tags:
        tag = raw.strip().lower()
        if not _TAG.match(tag):
            raise ValueError(f"capability {raw!r} must be a lower-case tag like 'spray-drying'")
        cleaned.add(tag)
    return sorted(cleaned)


def check_attributes(attrs: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    for name, value in attrs.items():
        if not _ATTRIBUTE.match(name):
            raise ValueError(f"attribute name {name!r} must be snake_case like 'volume_l'")
        if isinstance(value, str) and len(value) > 200:
            raise ValueError(f"attribute {name!r}: text values are at most 200 characters")
    return dict(attrs)


@dataclass(frozen=True)
class AttributeFilter:
    """`volume_l:10..100`, `volume_l:10..`, `volume_l:..100`, or an exact `grade:D`."""

    name: str
    low: float | None = None
    high: float | None = None
    equals: str | None = None


def parse_attribute_filter(text: str) -> AttributeFilter:
    name, sep, spec = text.partition(":")
    if not sep or not _ATTRIBUTE.match(name) or not spec:
        raise ValueError(f"attr {text!r}: write name:low..high, name:low.., name:..high or name:value")
    if ".." not in spec:
        return AttributeFilter(name, equals=spec)
    low_text, high_text = spec.split("..", 1)
    try:
        low = float(low_text) if low_text else None
        high = float(high_text) if high_text else None
    except ValueError:
        raise ValueError(f"attr {text!r}: range bounds must be numbers") from None
    if low is None and high is None:
        raise ValueError(f"attr {text!r}: give at least one bound")
    if low is not None and high is not None and low > high:
        raise ValueError(f"attr {text!r}: low bound is above high bound")
    return AttributeFilter(name, low=low, high=high)
