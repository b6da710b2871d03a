"""procs.create_time: the start time a watcher stores for its runtime, read from /proc without psutil,
must be the value psutil gives, since `status`, `down` and `up` compare the two to tell a reused pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest
from teamctl_supervisor.agent import procs


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_create_time_from_proc_is_psutils_value_for_a_real_child(child: subprocess.Popen) -> None:
    ours = procs.create_time(child.pid)
    assert ours == psutil.Process(child.pid).create_time()
    assert abs(ours - time.time()) < 60
    assert procs.alive(child.pid, ours)  # the identity check that compares the two


def test_create_time_of_a_process_that_is_gone_is_none(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()
    assert procs.create_time(child.pid) is None


def test_create_time_falls_back_to_psutil_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(path, *args, **kwargs):
        raise FileNotFoundError(path)

    monkeypatch.setattr(procs, "open", no_proc, raising=False)  # the module's own `open` only
    monkeypatch.setattr(procs.os.path, "isdir", lambda path: False)
    monkeypatch.setattr(procs, "_psutil_create_time", lambda pid: 1234.5)
    assert procs.create_time(os.getpid()) == 1234.5
