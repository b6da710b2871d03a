"""agent/ptyspawn.py starts the runtime as pexpect did: the full path as argv[0], the pty as its
controlling terminal at the asked size, no fd of ours leaked, the same errors when it cannot start."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from teamctl_supervisor.agent.ptyspawn import SpawnError, spawn, which
from watchkit import wait_for

PROBE = r"""
import fcntl, os, struct, sys, termios
rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
print(f"argv0={sys.argv[0]} size={rows}x{cols} sid={os.getsid(0) == os.getpid()} tty={os.ttyname(0)} "
      f"cwd={os.getcwd()} pwd={os.environ.get('PWD')} env={os.environ.get('PROBE_ENV')} fds={fds}", flush=True)
"""


def _read_all(fd: int) -> str:
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO once the child side is closed
            break
        if not data:
            break
        out += data
    return out.decode()


def test_the_child_runs_under_its_own_pty_with_the_full_path_the_size_and_no_fd_of_ours(tmp_path: Path) -> None:
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_w, True)  # an inheritable fd of ours still does not reach the runtime
    folder = tmp_path / "bin"
    folder.mkdir()
    probe = folder / "probe"
    probe.write_text(f"#!{sys.executable}\n{PROBE}")
    probe.chmod(0o700)
    # PWD: the watcher's own folder, not the runtime's (a Bun-built CLI would take its project from it)
    env = {"PATH": f"{tmp_path / 'nothing'}:{folder}:/usr/bin:/bin", "PROBE_ENV": "yes", "PWD": str(folder)}
    try:
        pid, fd = spawn(["probe"], str(tmp_path), env, 33, 111)
    finally:
        os.close(leak_r)
        os.close(leak_w)
    try:
        text = _read_all(fd)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert f"argv0={probe} " in text  # the full path, found on the runtime's PATH
    assert "size=33x111 sid=True tty=/dev/pts/" in text
    assert f"cwd={tmp_path} pwd={tmp_path} env=yes fds=[0, 1, 2, 3]" in text  # 3: the listing's own fd
    assert env["PWD"] == str(folder)  # the caller's mapping is left as it was


def test_a_command_not_on_the_runtime_path_is_the_error_pexpect_raised(tmp_path: Path) -> None:
    with pytest.raises(SpawnError) as caught:
        spawn(["no-such-runtime-xyz"], str(tmp_path), {"PATH": str(tmp_path)}, 24, 80)
    assert str(caught.value) == "The command was not found or was not executable: no-such-runtime-xyz."


def test_an_exec_that_fails_in_the_child_is_raised_in_the_parent_with_its_errno(tmp_path: Path) -> None:
    script = tmp_path / "bad-interpreter"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(OSError) as caught:
        spawn([str(script)], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 24, 80)
    assert caught.value.errno == 2
    assert "No such file or directory" in str(caught.value)


def test_a_preexec_failure_is_raised_in_the_parent(tmp_path: Path) -> None:
    def refuse() -> None:
        raise ValueError("refused before exec")

    with pytest.raises(ValueError, match="refused before exec"):
        spawn(["true"], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 24, 80, refuse)


def test_which_answers_as_shutil_which(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    (tmp_path / "folder").mkdir(mode=0o700)
    path = os.pathsep.join([str(tmp_path), str(tmp_path), "/usr/bin", "/bin"])
    for name in ("tool", "plain", "folder", "sh", "no-such-tool-xyz"):
        assert which(name, path) == shutil.which(name, path=path), name
    assert which("sh", "") is None
    assert which("sh") == shutil.which("sh")


def test_the_runtime_ends_when_the_pty_is_closed(tmp_path: Path) -> None:
    pid, fd = spawn(["sleep", "30"], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 24, 80)
    os.close(fd)  # the terminal hangs up: SIGHUP to the session leader

    def ended() -> bool:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid

    wait_for(ended, timeout=30, what="the runtime's end after its pty closed")
