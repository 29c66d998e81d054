"""The broker's accounts and files: decided without I/O, kept across reruns, one agent rotated alone."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from pathlib import PurePosixPath

import pytest

from backend.domain import broker

AGENTS = [("jinan-bio", "F5-1"), ("jinan-bio", "SD-1"), ("qd-chem", "R-1")]


def counting_passwords() -> broker.BrokerAccounts:
    counter = itertools.count()
    return broker.issue(AGENTS, password=lambda: f"pw{next(counter)}")


def test_one_account_per_agent_plus_ingest_and_backend() -> None:
    accounts = counting_passwords()
    assert sorted(accounts.agents) == ["jinan-bio/F5-1", "jinan-bio/SD-1", "qd-chem/R-1"]
    assert accounts.agent("jinan-bio", "F5-1").username == "agent/jinan-bio/F5-1"
    usernames = [accounts.ingest.username, accounts.backend.username]
    usernames += [a.username for a in accounts.agents.values()]
    assert len(set(usernames)) == 5
    assert len({a.password for a in [accounts.ingest, accounts.backend, *accounts.agents.values()]}) == 5


def test_a_rerun_keeps_passwords_and_rotation_changes_only_the_one_named() -> None:
    first = counting_passwords()
    again = broker.issue(AGENTS, first)
    assert again == first
    rotated = broker.issue(AGENTS, first, rotate=["jinan-bio/SD-1"])
    assert rotated.agents["jinan-bio/SD-1"] != first.agents["jinan-bio/SD-1"]
    assert {k: v for k, v in rotated.agents.items() if k != "jinan-bio/SD-1"} == {
        k: v for k, v in first.agents.items() if k != "jinan-bio/SD-1"
    }
    assert (rotated.ingest, rotated.backend) == (first.ingest, first.backend)
    assert broker.issue(AGENTS, first, rotate=["ingest"]).ingest != first.ingest


def test_an_agent_gone_from_the_registry_loses_its_account() -> None:
    first = counting_passwords()
    later = broker.issue(AGENTS[:2], first)
    assert "qd-chem/R-1" not in later.agents and later.agents == {
        k: v for k, v in first.agents.items() if k != "qd-chem/R-1"
    }


def test_rotating_an_unknown_agent_is_an_error_naming_it() -> None:
    with pytest.raises(broker.CredentialsError, match="--rotate 'jinan-bio/NOPE': no such agent"):
        broker.issue(AGENTS, rotate=["jinan-bio/NOPE"])


def test_password_hashes_are_mosquittos_pbkdf2_sha512() -> None:
    salt = bytes(range(12))
    entry = broker.hash_password("secret", salt)
    kind, rounds, salt_b64, digest_b64 = entry.split("$")[1:]
    assert (kind, rounds) == ("7", "101") and base64.b64decode(salt_b64) == salt
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)


def test_the_files_grant_each_account_only_its_topics() -> None:
    accounts = counting_passwords()
    files = broker.render(accounts, PurePosixPath("/etc/pilotshare/broker"))
    assert set(files) == {"passwd", "acl", "mosquitto.conf", "credentials.json"}
    acl = files["acl"].split("\n\n")
    agent = next(block for block in acl if "user agent/jinan-bio/F5-1" in block)
    assert agent.splitlines()[1:] == [
        "topic write pilotshare/v1/jinan-bio/F5-1/telemetry",
        "topic write pilotshare/v1/jinan-bio/F5-1/status",
        "topic write pilotshare/v1/jinan-bio/F5-1/event",
        "topic write pilotshare/v1/jinan-bio/F5-1/cmd/ack",
        "topic read pilotshare/v1/jinan-bio/F5-1/cmd",
    ]
    writes_cmd = [b for b in acl if "topic write pilotshare/v1/+/+/cmd\n" in b + "\n"]
    assert len(writes_cmd) == 1 and "user pilotshare-backend" in writes_cmd[0]
    conf = files["mosquitto.conf"]
    assert not any(line.startswith("listener") for line in conf.splitlines())
    assert "allow_anonymous false" in conf
    assert "password_file /etc/pilotshare/broker/passwd" in conf
    assert "persistence_location /etc/pilotshare/broker/data/" in conf
    assert [line.split(":")[0] for line in files["passwd"].splitlines()][:2] == [
        "pilotshare-ingest",
        "pilotshare-backend",
    ]
    assert broker.load_accounts(files["credentials.json"]) == accounts
    assert json.loads(files["credentials.json"])["agents"]["qd-chem/R-1"]["username"] == "agent/qd-chem/R-1"


def test_relative_paths_are_refused() -> None:
    with pytest.raises(broker.CredentialsError, match="absolute paths"):
        broker.render(counting_passwords(), PurePosixPath("broker"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "expected an object"),
        ('{"ingest": {"username": "i"}, "backend": {}}', "ingest.password: a non-empty string"),
        (
            '{"ingest": {"username": "i", "password": "p"}, "backend": {"username": "b", "password": "p"},'
            ' "agents": {"p/r": {"username": "a:b", "password": "x"}}}',
            "agents['p/r'].username",
        ),
    ],
)
def test_a_bad_credentials_file_is_named(text: str, message: str) -> None:
    with pytest.raises(broker.CredentialsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        broker.load_accounts(text)
