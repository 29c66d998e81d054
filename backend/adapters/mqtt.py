"""What the backend's MQTT clients (ingest, the command dispatcher) share: where the broker is, how to
log in and whether to speak TLS, all from one `mqtt://` or `mqtts://` URL (docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

TLS_SCHEMES = ("mqtts", "ssl")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    #: user and password from the URL (`mqtt://user:pass@host`); a client's own account overrides them
    login: tuple[str, str] | None

    @classmethod
    def of(cls, url: str) -> Broker:
        parts = urlparse(url)
        tls = parts.scheme in TLS_SCHEMES
        login = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls, login)

    def __str__(self) -> str:  # for logs: never the password
        return f"{self.host}:{self.port}"


def prepare(
    client: mqtt.Client, broker: Broker, login: tuple[str, str] | None, ca_file: Path | None = None
) -> None:
    """Give `client` its credentials (its own account, else the URL's) and, for `mqtts://`, TLS that
    trusts `ca_file` (a private CA, such as the demo's) or else the system's CAs."""
    account = login or broker.login
    if account is not None:
        client.username_pw_set(*account)
    if broker.tls:
        client.tls_set(ca_certs=str(ca_file) if ca_file else None)
