"""A private sshd on 127.0.0.1 for the tests, standing for another host: Debian's openssh-server with
its own config, host key and authorized key in a temp dir, started on a free port, stopped by pid.
The client side is an ssh config file handed to teamctl through TEAMCTL_SSH."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SshHost:
    def __init__(self, env: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="teamctl-sshd-"))
        self.port = _free_port()
        for name in ("hostkey", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / name)], check=True)
        shutil.copy(self.dir / "id.pub", self.dir / "authorized_keys")
        setenv = " ".join(f'"{k}={v}"' for k, v in env.items())
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir / 'hostkey'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\nAuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            f"PermitRootLogin prohibit-password\nSetEnv {setenv}\n")
        host_pub = (self.dir / "hostkey.pub").read_text().split()
        (self.dir / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        (self.dir / "ssh_config").write_text(
            f"Host 127.0.0.1\n  IdentityFile {self.dir / 'id'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.dir / 'known_hosts'}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ssh_command(self) -> str:
        return f"ssh -F {self.dir / 'ssh_config'}"

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(self.dir / "sshd_config"),
                                      "-E", str(self.dir / "sshd.log")])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen: {(self.dir / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def serve(tmp_path: Path, **env: str) -> Iterator[SshHost]:
    """A started host for a fixture to yield: the fake runtimes and this interpreter on its PATH, `env`
    in its sessions (FAKE_RUNS_FILE under `tmp_path`); destroyed afterwards."""
    fakes = Path(__file__).resolve().parent / "fakes"
    host = SshHost({"PATH": f"{fakes}:{Path(sys.executable).parent}:/usr/bin:/bin",
                    "FAKE_RUNS_FILE": str(tmp_path / "runs-b"), **env})
    host.start()
    try:
        yield host
    finally:
        host.destroy()
