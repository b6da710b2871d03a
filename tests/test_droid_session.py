"""droid's session settings file as a structured channel: the real file written by @factory/cli-linux-x64
0.225.2 (its TUI in Airgap mode, against the fake API: tests/fixtures/real_cli/droid-0.225.2/), only this
agent's cwd, read again when it changes; a missing, cut-short or unknown file leaves the screen alone."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.agent.channels.droid_session import droid_slug
from teamctl_supervisor.agent.channels.tailer import ChannelTailer
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.store.mailbox import Store

REAL = Path(__file__).parent / "fixtures" / "real_cli" / "droid-0.225.2" / "session.settings.json"


def _setup(tmp_path: Path) -> tuple[WatchSettings, Path]:
    home, cwd = tmp_path / "home", tmp_path / "work"
    cwd.mkdir()
    factory = home / ".factory"
    folder = factory / "sessions" / droid_slug(cwd.resolve())
    folder.mkdir(parents=True)
    (factory / "settings.json").write_text(json.dumps({"customModels": [{"model": "gpt-4o"}]}))
    state = tmp_path / "state"
    state.mkdir()
    s = WatchSettings(agent_id="p:a", project_id="p", runtime=load_runtime("droid"), argv=("droid",), cwd=cwd,
                      env={"HOME": str(home)}, tz=ZoneInfo("UTC"), mailbox=state / "mailbox.db", state_dir=state)
    return s, folder


def _poll(s: WatchSettings, final: bool = False) -> list:
    with Store(s.mailbox) as st:
        tailer = ChannelTailer(s, st, lambda: 1000.0)
        return tailer.poll(2000.0, final)


def _put(path: Path, text: str | None = None) -> None:
    if text is None:
        shutil.copy(REAL, path)
    else:
        path.write_text(text)
    os.utime(path, (1001.0, 1001.0))


def test_the_session_total_is_read_with_the_model_its_byok_id_stands_for(tmp_path: Path) -> None:
    s, folder = _setup(tmp_path)
    _put(folder / "28972ddd.settings.json")
    (event,) = _poll(s)
    assert (event.model, event.input_tokens, event.output_tokens, event.cached_tokens, event.total,
            event.cached_in_input, event.source) == ("gpt-4o", 2068, 112, 400, True, False, "droid-session")


def test_another_folders_or_an_older_session_is_not_read(tmp_path: Path, caplog) -> None:
    s, folder = _setup(tmp_path)
    other = folder.parent / "-somewhere-else"
    other.mkdir()
    _put(other / "a.settings.json")
    old = folder / "b.settings.json"
    shutil.copy(REAL, old)
    os.utime(old, (900.0, 900.0))  # before this runtime started
    with caplog.at_level(logging.WARNING):
        assert _poll(s) == []
        assert _poll(s, final=True) == []
    assert sum("screen is read alone" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(("text", "said"), [
    ('{"model": "custom:Fake-API-0", "tokenUsage": {"inputTok', None),  # mid-rewrite: read at its next change
    ('{"model": "x", "usage": {"input": 1}}', "unknown format"),
])
def test_a_cut_short_or_unknown_file_gives_nothing(tmp_path: Path, caplog, text: str, said: str | None) -> None:
    s, folder = _setup(tmp_path)
    _put(folder / "c.settings.json", text)
    with caplog.at_level(logging.WARNING):
        assert _poll(s) == []
    warned = [r.getMessage() for r in caplog.records if "screen is read alone" in r.getMessage()]
    assert (said is None and warned == []) or (len(warned) == 1 and said in warned[0])


def test_two_sessions_of_the_same_folder_are_left_alone(tmp_path: Path) -> None:
    s, folder = _setup(tmp_path)
    _put(folder / "d.settings.json")
    _put(folder / "e.settings.json")
    assert _poll(s) == []  # which one is this agent's cannot be told
