"""A runtime descriptor's problems are reported all at once; a `runtimes/` folder beside `.team/`,
which nothing reads, is named by `validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeBin, copy_example
from teamctl_supervisor.cli import main
from teamctl_supervisor.core.descriptors.loader import load_descriptor
from teamctl_supervisor.core.errors import DescriptorError

THREE_WRONG = '''\
name = "mine"
tz = "Mars/Olympus"

[launch]
binary = "claude"

[[rate_limit]]
id = "one"
match = 'limit (?P<reset>'
reset = "duration"

[[cost]]
id = "two"
match = 'cost \\$(?P<usd>[0-9.]+)'
colour = "red"
'''


def test_every_problem_of_a_descriptor_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(THREE_WRONG)
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    text = str(info.value)
    assert text.startswith(f"{path}: 3 problems:\n")
    assert "\n  tz: unknown timezone 'Mars/Olympus'" in text
    assert "\n  rate_limit[0].match: regex does not compile" in text
    assert "\n  cost[0].colour: unknown key" in text
    assert [p.where for p in info.value.problems] == ["tz", "rate_limit[0].match", "cost[0].colour"]


def test_a_single_problem_keeps_its_one_line_form(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(THREE_WRONG.replace("Mars/Olympus", "UTC").replace("(?P<reset>'", "(?P<reset>\\d+s)'")
                    .replace('colour = "red"\n', ""))
    load_descriptor(path)  # all three fixed: it loads
    path.write_text(THREE_WRONG.replace("Mars/Olympus", "UTC").replace('colour = "red"\n', ""))
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    assert info.value.where == "rate_limit[0].match"
    assert str(info.value).startswith(f"{path}: rate_limit[0].match: regex does not compile")


def test_validate_lists_all_of_a_team_descriptors_problems(tmp_path: Path, fake_bin: FakeBin,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example("hello-team", tmp_path)
    (root / ".team" / "runtimes").mkdir()
    (root / ".team" / "runtimes" / "claude-code.toml").write_text(THREE_WRONG)
    assert main(["validate", "-C", str(root)]) == 2
    out = capsys.readouterr().out
    assert "3 problems:" in out and "tz: unknown timezone" in out and "cost[0].colour: unknown key" in out


def test_validate_warns_about_a_runtimes_folder_beside_dot_team(tmp_path: Path, fake_bin: FakeBin,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example("hello-team", tmp_path)
    (root / "runtimes").mkdir()
    (root / "runtimes" / "claude-code.toml").write_text(THREE_WRONG)  # never read: no error from it
    assert main(["validate", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    team = (root / ".team").resolve()
    assert (f"{team.parent / 'runtimes'}: warning: ignored: team runtimes are read from {team / 'runtimes'}/"
            in out), out
    assert out.count(": warning: ignored: team runtimes are read from") == 1
    assert main(["up", "--strict", "--backend", "process", "-C", str(root)]) == 2  # up shows it too
    assert "ignored: team runtimes are read from" in capsys.readouterr().err
