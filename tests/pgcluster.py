"""A private PostgreSQL server for the tests: Debian's postgresql package, a cluster in a temp dir,
on 127.0.0.1 at a free port, owned by an unprivileged user (initdb refuses root), stopped by pid.

Each test gets a database of its own (`fresh_url`), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("Debian's postgresql package is not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


def _running(pid: int) -> bool:
    """Alive and not a zombie (a postmaster reparented to a subreaper test process is reaped here)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="teamctl-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "teamctl", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.pid: int | None = None

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.root)

    @property
    def url(self) -> str:
        return f"postgresql://teamctl@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
                  " -c max_connections=300 -c full_page_writes=off", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Fast shutdown by pid (SIGINT), waiting until the postmaster is gone."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _running(self.pid):
            time.sleep(0.05)
        self.pid = None

    def fresh_url(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://teamctl@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# -- fixtures (a test module takes them with `pg, mailbox_at = pgcluster.pg, pgcluster.mailbox_at`) ----

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pg() -> object:
    cluster = Cluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
def mailbox_at(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """A function giving a fresh team's mailbox path on either engine: state/mailbox.db, or the
    pointer state/mailbox.postgres.json to a database of its own on the session's cluster."""
    from teamctl_supervisor.store.broker import POINTER, write_pointer

    def make(root: Path = tmp_path) -> Path:
        if request.param == "sqlite":
            return root / "state" / "mailbox.db"
        cluster = request.getfixturevalue("pg")
        path = root / "state" / POINTER
        write_pointer(path, cluster.fresh_url(), None)
        return path
    make.engine = request.param  # type: ignore[attr-defined]
    return make
