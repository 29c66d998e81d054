"""The broker's accounts from the resource registry: the use case of `pilotshare mqtt credentials`.

Every resource an agent can stand beside (instruments and venues that are not retired) gets an account;
ingest and the backend get theirs. Passwords written before are kept unless rotated, and an agent whose
resource left the registry loses its account (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.adapters import broker_files
from backend.db import unit_of_work
from backend.domain import broker
from backend.models.platform import Platform
from backend.models.resource import Resource, ResourceKind, ResourceStatus


@dataclass(frozen=True)
class CredentialsWritten:
    directory: Path
    accounts: broker.BrokerAccounts
    added: list[str]
    removed: list[str]
    rotated: list[str]


def registered_agents(session: Session) -> list[tuple[str, str]]:
    """(platform code, resource code) of every resource that publishes through an agent."""
    rows = session.exec(
        select(Platform.code, Resource.code)
        .join(Platform, col(Resource.platform_id) == col(Platform.id))
        .where(col(Resource.kind) != ResourceKind.line, col(Resource.status) != ResourceStatus.retired)
    ).all()
    return sorted((p, r) for p, r in rows)


def write_credentials(
    engine: Engine, directory: Path, rotate: Collection[str] = (), data_dir: Path | None = None
) -> CredentialsWritten:
    with unit_of_work(engine) as session:
        agents = registered_agents(session)
    previous = broker_files.read_accounts(directory / broker.CREDENTIALS_FILE)
    accounts = broker.issue(agents, previous, rotate)
    broker_files.write_files(directory, accounts, data_dir)
    before = set(previous.agents) if previous else set()
    return CredentialsWritten(
        directory=directory.resolve(),
        accounts=accounts,
        added=sorted(set(accounts.agents) - before) if previous else [],
        removed=sorted(before - set(accounts.agents)),
        rotated=sorted(rotate),
    )


def service_login(credentials: Path, who: str) -> tuple[str, str] | None:
    """Ingest's or the backend's username and password from ``credentials.json``; None without the file."""
    accounts = broker_files.read_accounts(credentials)
    if accounts is None:
        return None
    account = accounts.ingest if who == broker.INGEST else accounts.backend
    return account.username, account.password
