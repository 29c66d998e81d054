"""The broker's files on disk: what `pilotshare mqtt credentials` writes and reads back (docs/security.md).

Each file is written whole to a temporary name and renamed, so a broker reloading meanwhile reads the old
file or the new one, never half of one. ``credentials.json`` goes first: it is what the next run keeps
passwords from, so a run stopped half-way is repaired by running it again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path, PurePosixPath

from backend.domain import broker

#: files holding secrets (hashes or passwords) are readable by their owner only
_MODES = {broker.CREDENTIALS_FILE: 0o600, broker.PASSWORD_FILE: 0o600}
_ORDER = [broker.CREDENTIALS_FILE, broker.PASSWORD_FILE, broker.ACL_FILE, broker.CONF_FILE]


def read_accounts(path: Path) -> broker.BrokerAccounts | None:
    """The accounts of a ``credentials.json``, None when there is none yet; CredentialsError if damaged."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return broker.load_accounts(text, str(path))


def write_files(directory: Path, accounts: broker.BrokerAccounts, data_dir: Path | None = None) -> None:
    directory = directory.resolve()
    data = (data_dir or directory / "data").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    files = broker.render(accounts, PurePosixPath(directory), PurePosixPath(data))
    for name in _ORDER:
        target = directory / name
        temporary = directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _MODES.get(name, 0o644))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(files[name])
        os.chmod(temporary, _MODES.get(name, 0o644))
        os.replace(temporary, target)


def reload_broker(pid_file: Path) -> int | None:
    """SIGHUP to the Mosquitto whose pid file this is: it reads its password and ACL files again and
    disconnects clients whose account is gone or changed. The pid, or None when no such broker runs."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return None
    return pid
