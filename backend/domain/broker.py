"""Who may do what on the MQTT broker, written as Mosquitto's own files (docs/security.md).

Every client of the broker has an account: one per edge agent, bound to its platform and resource, one for
ingest and one for the backend's command publisher. The rules (docs/architecture.md, "MQTT"):
an agent publishes only its own resource's ``telemetry``, ``status``, ``event`` and ``cmd/ack`` and reads only
its own ``cmd``; only the backend publishes ``cmd``; only ingest reads everything (and the broker's ``$SYS``
counters, to notice drops). Anonymous clients are refused.

Pure code: :func:`issue` decides the accounts (keeping earlier passwords unless rotated) and :func:`render`
turns them into the text of ``passwd``, ``acl``, ``mosquitto.conf`` and ``credentials.json``. Randomness
(passwords, salts) comes in as functions so the tests can pin it.

The ``mosquitto.conf`` fragment also carries the durability every shipped broker runs with (persistence
saved every second, an ingest queue sized for the promised outage; docs/ingest.md, "Nothing lost"), so
that ``listener PORT`` followed by the fragment is the whole configuration, the same for the demo, the
tests, docker compose and deploy/.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

TOPIC_ROOT = "pilotshare/v1"  # edge_agent.protocol.TOPIC_ROOT; the domain imports no other package

INGEST = "ingest"
BACKEND = "backend"
SERVICE_USERNAMES = {INGEST: "pilotshare-ingest", BACKEND: "pilotshare-backend"}

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
CONF_FILE = "mosquitto.conf"
CREDENTIALS_FILE = "credentials.json"

#: Mosquitto 2's password hash: PBKDF2-HMAC-SHA512, 101 rounds, 12-byte salt (as ``mosquitto_passwd``).
PBKDF2_ROUNDS = 101
SALT_BYTES = 12

#: What every shipped broker keeps, and for how long (docs/ingest.md, "Nothing lost").
#: The ingest session may queue 100,000 messages: ten minutes of 150 agents sending one message a second.
MAX_QUEUED_MESSAGES = 100_000
#: Seconds between saves of the broker's state; a crash loses at most what it acknowledged since the last.
AUTOSAVE_SECONDS = 1


class CredentialsError(ValueError):
    """Unusable input for the broker's accounts; the message names what is wrong."""


@dataclass(frozen=True)
class Account:
    username: str
    password: str

    def to_json(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class BrokerAccounts:
    ingest: Account
    backend: Account
    #: ``"<platform code>/<resource code>"`` -> that resource's agent account
    agents: Mapping[str, Account] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            INGEST: self.ingest.to_json(),
            BACKEND: self.backend.to_json(),
            "agents": {key: self.agents[key].to_json() for key in sorted(self.agents)},
        }

    def agent(self, platform: str, resource: str) -> Account:
        key = agent_key(platform, resource)
        try:
            return self.agents[key]
        except KeyError:
            raise CredentialsError(f"no broker account for agent {key!r}") from None


def agent_key(platform: str, resource: str) -> str:
    return f"{platform}/{resource}"


def agent_username(key: str) -> str:
    # '/' never occurs in a code, so the name says unambiguously which platform and resource it is bound to
    return f"agent/{key}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


# --------------------------------------------------------------------------- deciding the accounts


def issue(
    agents: Iterable[tuple[str, str]],
    previous: BrokerAccounts | None = None,
    rotate: Collection[str] = (),
    password: Callable[[], str] = new_password,
) -> BrokerAccounts:
    """The accounts for these (platform, resource) agents plus ingest and backend.

    Earlier passwords stay unless their key (``platform/resource``, ``ingest`` or ``backend``) is in
    ``rotate``; agents no longer listed lose their account (that is how a retired instrument is revoked).
    """
    keys = sorted({agent_key(p, r) for p, r in agents})
    unknown = sorted(set(rotate) - set(keys) - {INGEST, BACKEND})
    if unknown:
        raise CredentialsError(
            f"--rotate {unknown[0]!r}: no such agent (give platform/resource, {INGEST} or {BACKEND})"
        )

    def keep(key: str, username: str, old: Account | None) -> Account:
        if old is not None and key not in rotate and old.username == username:
            return old
        return Account(username, password())

    old_agents = previous.agents if previous else {}
    return BrokerAccounts(
        ingest=keep(INGEST, SERVICE_USERNAMES[INGEST], previous.ingest if previous else None),
        backend=keep(BACKEND, SERVICE_USERNAMES[BACKEND], previous.backend if previous else None),
        agents={key: keep(key, agent_username(key), old_agents.get(key)) for key in keys},
    )


def _account(data: Any, where: str) -> Account:
    if not isinstance(data, dict):
        raise CredentialsError(f"{where}: expected {{'username', 'password'}}")
    username, password = data.get("username"), data.get("password")
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value or any(c in value for c in ":\n\r"):
            raise CredentialsError(f"{where}.{name}: a non-empty string without ':' or line breaks")
    assert isinstance(username, str) and isinstance(password, str)
    return Account(username, password)


def parse_accounts(data: Any, source: str = "credentials.json") -> BrokerAccounts:
    """Read ``credentials.json`` (already parsed); CredentialsError names the bad key."""
    if not isinstance(data, dict):
        raise CredentialsError(f"{source}: expected an object with ingest, backend and agents")
    agents = data.get("agents", {})
    if not isinstance(agents, dict):
        raise CredentialsError(f"{source}: agents: expected an object keyed by 'platform/resource'")
    return BrokerAccounts(
        ingest=_account(data.get(INGEST), f"{source}: {INGEST}"),
        backend=_account(data.get(BACKEND), f"{source}: {BACKEND}"),
        agents={str(k): _account(v, f"{source}: agents[{k!r}]") for k, v in agents.items()},
    )


def load_accounts(text: str, source: str = "credentials.json") -> BrokerAccounts:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CredentialsError(f"{source}: not valid JSON ({exc})") from None
    return parse_accounts(data, source)


# --------------------------------------------------------------------------- Mosquitto's files


def hash_password(password: str, salt: bytes) -> str:
    """The ``$7$`` entry ``mosquitto_passwd`` would write for this password and salt."""
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return f"$7${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _all_accounts(accounts: BrokerAccounts) -> list[Account]:
    return [accounts.ingest, accounts.backend, *(accounts.agents[k] for k in sorted(accounts.agents))]


def password_file(accounts: BrokerAccounts, salt: Callable[[], bytes]) -> str:
    return "".join(f"{a.username}:{hash_password(a.password, salt())}\n" for a in _all_accounts(accounts))


def acl_file(accounts: BrokerAccounts) -> str:
    """Mosquitto's ACL: everything not granted here is denied (a denied publish is silently dropped)."""
    lines = [
        "# Written by `pilotshare mqtt credentials`; rerun it instead of editing (docs/security.md).",
        "",
        "# ingest reads every platform's messages and the broker's counters, and publishes nothing",
        f"user {accounts.ingest.username}",
        f"topic read {TOPIC_ROOT}/#",
        "topic read $SYS/#",
        "",
        "# the backend alone sends commands, and reads their acknowledgements",
        f"user {accounts.backend.username}",
        f"topic write {TOPIC_ROOT}/+/+/cmd",
        f"topic read {TOPIC_ROOT}/+/+/cmd/ack",
    ]
    for key in sorted(accounts.agents):
        root = f"{TOPIC_ROOT}/{key}"
        lines += [
            "",
            f"user {accounts.agents[key].username}",
            *(f"topic write {root}/{channel}" for channel in ("telemetry", "status", "event", "cmd/ack")),
            f"topic read {root}/cmd",
        ]
    return "\n".join(lines) + "\n"


def broker_conf(directory: PurePosixPath, data_dir: PurePosixPath) -> str:
    """The fragment: authentication, access and durability; ``listener PORT`` before it completes it."""
    return "\n".join(
        [
            "# Written by `pilotshare mqtt credentials`; rerun it instead of editing (docs/security.md).",
            "# `listener PORT [ADDRESS]` (and log settings) followed by this file is a whole configuration.",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {directory / PASSWORD_FILE}",
            f"acl_file {directory / ACL_FILE}",
            "",
            "# Nothing acknowledged is lost (docs/ingest.md): state saved every second, and room in the",
            "# ingest session for the longest ingest outage promised; drops are counted in $SYS.",
            "persistence true",
            f"persistence_location {data_dir}/",
            f"autosave_interval {AUTOSAVE_SECONDS}",
            "autosave_on_changes false",
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            "sys_interval 5",
            "",
        ]
    )


def render(
    accounts: BrokerAccounts,
    directory: PurePosixPath,
    data_dir: PurePosixPath | None = None,
    salt: Callable[[], bytes] = lambda: secrets.token_bytes(SALT_BYTES),
) -> dict[str, str]:
    """File name -> text of every file ``pilotshare mqtt credentials`` writes into ``directory``."""
    if not directory.is_absolute() or (data_dir is not None and not data_dir.is_absolute()):
        raise CredentialsError(f"{directory}: the broker's files need absolute paths")
    return {
        PASSWORD_FILE: password_file(accounts, salt),
        ACL_FILE: acl_file(accounts),
        CONF_FILE: broker_conf(directory, data_dir or directory / "data"),
        CREDENTIALS_FILE: json.dumps(accounts.to_json(), indent=2) + "\n",
    }
