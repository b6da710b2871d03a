"""The watcher's own command line never carries a role prompt's text (issue 23 item 11): for a CLI that
takes the prompt only as an argument, `up` starts the watcher without the runtime's argv and the
watcher builds it from the tree, reading the prompt from its file."""

from __future__ import annotations

from reliakit import hanging_team, kill_all, team_procs, teamctl
from watchkit import wait_for

SECRET = "Role prompt marker 7713 for the release manager"


def test_a_prompt_passed_as_text_is_in_no_watcher_argv_and_still_reaches_the_runtime(tmp_path):
    team = hanging_team(tmp_path, 1, steps=())
    (team / "roles" / "a0.md").write_text(SECRET)
    desc = team / "runtimes" / "claude-code.toml"
    # a CLI with no file option: the prompt's text is an argument (the fake runtime prints it, then hangs)
    options = '[launch.options]\nrole_prompt_text = ["print:{role_prompt_text}", "hang"]\n\n'
    desc.write_text(desc.read_text().replace("\n[launch]\n", f"\n{options}[launch]\n", 1))
    try:
        up = teamctl(team, "up", "--backend", "process")
        assert up.returncode == 0, up.stdout + up.stderr
        log = team / "state" / "logs" / "p-a0.log"
        wait_for(lambda: log.exists() and SECRET in log.read_text(), what="the prompt printed by the runtime",
                 timeout=60)
        [watcher] = [p for p in team_procs(team) if "rl-watch" in p.cmdline()]
        assert not any(SECRET in arg for arg in watcher.cmdline())
        assert "--" not in watcher.cmdline()
    finally:
        assert teamctl(team, "down").returncode == 0
        kill_all(team_procs(team))
