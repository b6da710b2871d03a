"""`up` hands each watcher its part of the compose tree (team/launch_inputs.py): the watcher builds
the same settings from it as from the whole tree, and uses it only while the tree is the one `up`
loaded and the key is the one `up` passed; the runtime never sees the key."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from reliakit import hanging_team, kill_all, team_procs, teamctl
from teamctl_supervisor.agent.settings import settings_for_agent
from teamctl_supervisor.core.descriptors.files import runtime_files
from teamctl_supervisor.store import layout
from teamctl_supervisor.team import launch_inputs
from teamctl_supervisor.team.compose import load_team
from watchkit import make_team, wait_for

EXTRA = ("rate_limits:\n  margin_seconds: 7\n  hooks:\n    - {name: tell, action: send, to: b, text: hit}\n"
         "  default_on_hit: [wait, tell]\nbudget: {daily_usd_limit: 5.5, per_project_usd_limit: {p: 2.25}}\n")


def tree(tmp_path: Path) -> Path:
    team = make_team(tmp_path, {"a": "", "b": "    model: m1\n    restart: never\n    on_rate_limit: [wait]\n"},
                     compose_extra=EXTRA)
    (team / "state").mkdir(mode=0o700)
    return team


def written(team_dir: Path, agent_id: str) -> tuple[object, str | None]:
    team = load_team(team_dir, set(runtime_files(team_dir)))
    stamp = launch_inputs.tree_stamp(team.team_dir, launch_inputs.compose_files(team), launch_inputs.role_files(team))
    return team, launch_inputs.write(team, team.agent(agent_id), stamp)


def test_the_part_gives_the_watcher_the_same_settings_as_the_whole_tree(tmp_path: Path) -> None:
    team, key = written(tree(tmp_path), "p:b")
    part = launch_inputs.read(team.team_dir, "p:b", key)
    assert part == replace(team, agents=(team.agent("p:b"),), warnings=())
    full = settings_for_agent(team, team.agent("p:b"), write_files=False)
    assert settings_for_agent(part, part.agent("p:b"), write_files=False) == full
    assert full.model == "m1" and full.reactor.margin == 7 and full.caps.daily_usd_limit == 5.5
    path = layout.launch_file(team.state_dir, "p-b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def _edit_compose(team: Path) -> None:
    (team / "team-compose.yaml").write_text((team / "team-compose.yaml").read_text() + "# edited\n")


def _edit_project(team: Path) -> None:
    (team / "projects" / "p.yaml").write_text((team / "projects" / "p.yaml").read_text().replace("m1", "m2"))


def _remove_a_role_prompt(team: Path) -> None:
    (team / "roles" / "a.md").unlink()  # another agent's: the whole tree no longer loads


def _add_a_runtime(team: Path) -> None:
    (team / "runtimes" / "other.toml").write_text('name = "other"\n[launch]\nbinary = "x"\n')


@pytest.mark.parametrize("change", [_edit_compose, _edit_project, _remove_a_role_prompt, _add_a_runtime])
def test_a_tree_changed_since_up_is_loaded_again(tmp_path: Path, change) -> None:
    team_dir = tree(tmp_path)
    team, key = written(team_dir, "p:b")
    assert launch_inputs.read(team.team_dir, "p:b", key) is not None
    change(team_dir)
    assert launch_inputs.read(team.team_dir, "p:b", key) is None


def test_only_the_key_up_passed_opens_the_part(tmp_path: Path) -> None:
    team, key = written(tree(tmp_path), "p:b")
    assert key
    for other in (None, "", "0" * 32, key[::-1]):
        assert launch_inputs.read(team.team_dir, "p:b", other) is None
    assert launch_inputs.read(team.team_dir, "p:a", key) is None  # another agent's name


def test_an_agent_with_a_compose_env_gets_no_file(tmp_path: Path) -> None:
    team_dir = make_team(tmp_path, {"a": "    env: {API_TOKEN: s3cret}\n"})
    (team_dir / "state").mkdir(mode=0o700)
    team, key = written(team_dir, "p:a")
    assert key is None
    assert not layout.launch_file(team.state_dir, "p-a").exists()


def test_up_hands_each_watcher_its_part_and_the_runtime_never_sees_the_key(tmp_path: Path) -> None:
    team = hanging_team(tmp_path, 2)
    try:
        assert teamctl(team, "up", "--backend", "process").returncode == 0
        wait_for(lambda: len(team_procs(team)) == 4, what="two watchers and their runtimes")
        for proc in team_procs(team):
            env = proc.environ()
            if "rl-watch" in proc.cmdline():
                agent = env["TEAMCTL_AGENT"]
                part = launch_inputs.read(team.resolve(), agent, env[launch_inputs.LAUNCH_ENV])
                assert part is not None and [a.id for a in part.agents] == [agent]
            else:
                assert launch_inputs.LAUNCH_ENV not in env
                assert psutil.Process(proc.ppid()).cmdline().count("rl-watch") == 1
        assert teamctl(team, "down").returncode == 0
    finally:
        kill_all(team_procs(team))
    assert sorted(os.listdir(team / "state" / "cache" / "launch")) == ["p-a0.json", "p-a1.json"]
