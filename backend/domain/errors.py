"""Errors raised by rules and use cases. They say what is wrong in the caller's terms; each delivery layer
(JSON API, web pages, command line) decides how to show them (`backend.http.errors` maps them to HTTP)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    pass


class AccessDenied(DomainError):
    pass


class Conflict(DomainError):
    pass


class Unavailable(DomainError):
    """A service the use case needs (InfluxDB, the broker) does not answer; trying again later may work."""


class Throttled(DomainError):
    """Too many attempts lately; `retry_after` says in how many seconds to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule; `field` names what to fix."""

    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__(f"{field}: {message}", field=field, **details)
        self.field = field
