"""Which engine a team's mailbox lives on, named by the mailbox path itself.

A SQLite team's mailbox path is its database file. A PostgreSQL team's is a small pointer file,
`state/mailbox.postgres.json` (0600), written by the commands from the compose `broker` block. Every
caller (watchers, `down` from state/ alone, hooks) goes on opening `Store(path)`, and never needs to
know the engine. The pointer holds the URL as compose gives it, never an environment variable's
value: with `url_env`, the variable is read when the mailbox is opened.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .backend_sqlite import SqliteBackend
from .queries import BrokerError
from .safefs import open_private, private_dir, read_nofollow

POINTER = "mailbox.postgres.json"


def is_pointer(path: Path) -> bool:
    return path.name.endswith(".postgres.json")


def write_pointer(path: Path, url: str | None, url_env: str | None) -> None:
    """Write (or refresh) the pointer; left alone when it already says the same."""
    _replace_unless_same(path, json.dumps({"type": "postgres", "url": url, "url_env": url_env}, sort_keys=True) + "\n")


def url_file(pointer: Path) -> Path:
    """Beside the pointer: the value of its `url_env` variable as the last `up` here had it."""
    return pointer.with_name(pointer.name.removesuffix(".json") + ".url")


def write_url_value(pointer: Path, value: str) -> None:
    """`up` hands the variable's value to the watchers it starts through this file (0600, replaced
    whole, never through a link) rather than on tmux's command line, where `ps` would show it (a
    password in the URL) as long as that tmux server runs: tmux keeps its first client's argv."""
    _replace_unless_same(url_file(pointer), value)


def _replace_unless_same(path: Path, text: str) -> None:
    """Write `text` to a private file replaced whole (a reader never sees half of it); left alone
    when it already says the same, so that a repeated `up` touches nothing."""
    try:
        if read_nofollow(path).decode("utf-8", "replace") == text:
            return
    except OSError:
        pass
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def pointer_url(path: Path, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    try:
        data = json.loads(read_nofollow(path))
    except (OSError, ValueError) as exc:
        raise BrokerError(f"{path}: cannot read the PostgreSQL broker pointer ({exc})") from None
    name, url = data.get("url_env"), data.get("url")
    if name and env.get(name):
        return env[name]
    if url:
        return str(url)
    if name:  # a watcher `up` started in tmux: its variable is set empty, the value is in the file
        try:
            return read_nofollow(url_file(path)).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            pass
    raise BrokerError(f"{path}: broker.url_env {name} is not set in this process's environment")


def open_backend(path: Path, recover: bool = False) -> Any:
    """The backend for the mailbox at `path`; psycopg is imported only for a pointer."""
    if not is_pointer(path):
        return SqliteBackend(path, recover)
    from .backend_postgres import PostgresBackend

    return PostgresBackend(lambda: pointer_url(path))
