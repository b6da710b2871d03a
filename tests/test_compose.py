"""Tests for supervisor.compose: real upstream trees load, and every bad input is reported precisely."""

from __future__ import annotations

import pickle
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import EXAMPLE_DIRS, UPSTREAM
from teamctl_supervisor.team.compose import (
    WAIT_HOOK,
    Agent,
    ComposeError,
    FrozenMap,
    Problem,
    Team,
    find_root,
    load_team,
)

RUNTIMES = {"claude-code", "codex", "gemini"}


needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="upstream examples not present")


def copy_example(name: str, dest: Path) -> Path:
    """Copy an upstream example and create its workspace dirs, as its README says to."""
    root = dest / name
    shutil.copytree(UPSTREAM / name, root)
    for d in EXAMPLE_DIRS[name]:
        (root / d).mkdir()
    return root


# --------------------------------------------------------------------------------------------------
# Upstream examples


@needs_upstream
@pytest.mark.parametrize(
    ("name", "prefix", "ids", "runtimes"),
    [
        ("hello-team", "a-", ["hello:manager", "hello:dev"], ["claude-code"] * 2),
        (
            "startup-team",
            "startup-",
            ["startup:founder", "startup:product_manager", "startup:eng_lead", "startup:eng_ic",
             "startup:researcher"],
            ["claude-code", "claude-code", "claude-code", "codex", "claude-code"],
        ),
        (
            "newsletter-office",
            "news-",
            ["newsroom:head_editor", "newsroom:news_writer", "newsroom:fact_checker",
             "newsroom:seo_research", "blog-site:web_manager", "blog-site:frontend_dev",
             "blog-site:backend_dev"],
            ["claude-code", "claude-code", "gemini", "gemini", "claude-code", "codex", "codex"],
        ),
    ],
)
def test_upstream_examples_load(tmp_path: Path, name: str, prefix: str, ids: list[str],
                                runtimes: list[str]) -> None:
    root = copy_example(name, tmp_path).resolve()
    team = load_team(root / ".team", known_runtimes=RUNTIMES)
    assert only_unserved(team.warnings)
    assert [a.id for a in team.agents] == ids
    assert [a.runtime for a in team.agents] == runtimes
    assert team.tmux_prefix == prefix
    assert team.team_dir == root / ".team"
    assert team.base_dir == root
    assert team.compose_file == root / ".team" / "team-compose.yaml"
    assert team.mailbox_path == root / ".team" / "state" / "mailbox.db"
    assert team.state_dir == root / ".team" / "state"
    for a in team.agents:
        assert a.role_prompt is not None and a.role_prompt.is_absolute() and a.role_prompt.is_file()
        assert a.role_prompt == root / ".team" / "roles" / f"{a.name}.md"
        assert a.cwd.is_absolute() and a.cwd.is_dir()
        assert a.restart == "always" and a.limit_group == a.runtime
        assert a.source.parent == root / ".team" / "projects"
    managers = [a.name for a in team.agents if a.is_manager]
    assert all(team.agent(m).reports_to is None for m in managers)
    assert team.rate_limits.default_on_hit == ("wait",)
    assert team.rate_limits.hook("wait") == WAIT_HOOK


@needs_upstream
def test_example_details(tmp_path: Path) -> None:
    hello = load_team(copy_example("hello-team", tmp_path) / ".team")
    assert hello.team_dir == hello.projects[0].cwd  # cwd "." is .team itself, as upstream resolves it
    assert hello.agent("dev").reports_to == "manager"
    assert hello.agent("hello:manager").permission_mode == "auto"
    news = load_team(copy_example("newsletter-office", tmp_path) / ".team")
    assert [p.id for p in news.projects] == ["newsroom", "blog-site"]
    assert news.project("blog-site").name == "Blog Site"
    assert news.project("newsroom").cwd == news.team_dir / "newsroom-workspace"
    assert news.budget.daily_usd_limit == 20.0 and news.budget.message_ttl_hours == 72
    startup = load_team(copy_example("startup-team", tmp_path) / ".team")
    assert startup.agent("eng_ic").model == "gpt-5-codex"
    assert [a.name for a in startup.agents if a.is_manager] == ["founder", "product_manager", "eng_lead"]


def only_unserved(warnings: tuple) -> bool:
    """Upstream's known keys draw no did-you-mean; the only warnings say what nothing here serves."""
    return all(w.message.endswith("not applied by this supervisor") for w in warnings)


@needs_upstream
def test_hello_team_loads_in_place() -> None:
    """hello-team's cwd is `.`, so the shared tree itself loads unchanged without copying."""
    team = load_team(UPSTREAM / "hello-team" / ".team", known_runtimes=RUNTIMES)
    assert len(team.agents) == 2 and only_unserved(team.warnings)


@needs_upstream
def test_missing_workspace_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "n"
    shutil.copytree(UPSTREAM / "newsletter-office", root)
    with pytest.raises(ComposeError) as ei:
        load_team(root / ".team")
    keys = {(p.file.name, p.key) for p in ei.value.errors}
    assert keys == {("newsroom.yaml", "project.cwd"), ("blog-site.yaml", "project.cwd")}


# --------------------------------------------------------------------------------------------------
# find_root


def make_root(base: Path) -> Path:
    team = base / ".team"
    team.mkdir(parents=True)
    (team / "team-compose.yaml").write_text("version: 2\nprojects: []\n")
    return team.resolve()


def test_find_root_explicit_variants(tmp_path: Path) -> None:
    team = make_root(tmp_path / "proj")
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert find_root(team, {}, other) == team
    assert find_root(team.parent, {}, other) == team
    assert find_root(str(team.parent), {}, other) == team
    assert find_root("proj", {}, tmp_path) == team  # relative to cwd
    assert find_root("proj/.team", {}, tmp_path) == team


def test_find_root_explicit_wins_over_env_and_does_not_fall_back(tmp_path: Path) -> None:
    a = make_root(tmp_path / "a")
    b = make_root(tmp_path / "b")
    assert find_root(a, {"TEAMCTL_ROOT": str(b)}, b) == a
    assert find_root(tmp_path / "nothing-here", {"TEAMCTL_ROOT": str(b)}, b) is None


def test_find_root_env(tmp_path: Path) -> None:
    a = make_root(tmp_path / "a")
    b = make_root(tmp_path / "b")
    assert find_root(None, {"TEAMCTL_ROOT": str(a.parent)}, b.parent) == a
    assert find_root(None, {"TEAMCTL_ROOT": str(a)}, tmp_path) == a
    assert find_root(None, {"TEAMCTL_ROOT": ""}, b.parent) == b  # empty means unset


def test_find_root_walks_up(tmp_path: Path) -> None:
    team = make_root(tmp_path / "repo")
    nested = tmp_path / "repo" / "src" / "deep" / "er"
    nested.mkdir(parents=True)
    assert find_root(None, {}, nested) == team
    (team / "roles").mkdir()
    assert find_root(None, {}, team / "roles") == team
    assert find_root(None, {}, team) == team


def test_find_root_bare_compose_dir(tmp_path: Path) -> None:
    (tmp_path / "team-compose.yaml").write_text("version: 2\n")
    assert find_root(tmp_path, {}, tmp_path) == tmp_path.resolve()


def test_find_root_none(tmp_path: Path) -> None:
    lonely = tmp_path / "x" / "y"
    lonely.mkdir(parents=True)
    assert find_root(None, {}, lonely) is None


# --------------------------------------------------------------------------------------------------
# A small writable tree for validation tests

COMPOSE = """\
version: 2
supervisor:
  tmux_prefix: t-
projects:
  - file: projects/app.yaml
"""

PROJECT = """\
version: 2
project:
  id: app
  name: App
  cwd: ../work
managers:
  lead:
    runtime: claude-code
    role_prompt: roles/lead.md
workers:
  dev:
    runtime: codex
    reports_to: lead
"""


def write_tree(root: Path, compose: str = COMPOSE, projects: dict[str, str] | None = None,
               roles: tuple[str, ...] = ("lead",), dirs: tuple[str, ...] = ("work",)) -> Path:
    """Write `.team/` under root; return the team dir."""
    team = root / ".team"
    (team / "projects").mkdir(parents=True, exist_ok=True)
    (team / "roles").mkdir(exist_ok=True)
    (team / "team-compose.yaml").write_text(textwrap.dedent(compose))
    for name, text in (projects if projects is not None else {"app": PROJECT}).items():
        (team / "projects" / f"{name}.yaml").write_text(textwrap.dedent(text))
    for r in roles:
        (team / "roles" / f"{r}.md").write_text(f"You are {r}.\n")
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    return team


def problems(team_dir: Path, **kw: object) -> list[Problem]:
    with pytest.raises(ComposeError) as ei:
        load_team(team_dir, **kw)  # type: ignore[arg-type]
    return ei.value.problems


def find(probs: list[Problem], key: str, file: str | None = None, severity: str = "error") -> Problem:
    hits = [p for p in probs if p.key == key and p.severity == severity
            and (file is None or p.file.name == file)]
    assert hits, f"no {severity} for {key!r} in:\n" + "\n".join(map(str, probs))
    return hits[0]


def test_minimal_tree_loads(tmp_path: Path) -> None:
    team = load_team(write_tree(tmp_path))
    assert isinstance(team, Team)
    assert [a.id for a in team.agents] == ["app:lead", "app:dev"]
    dev = team.agent("dev")
    assert dev.role_prompt is None and dev.reports_to == "lead" and not dev.is_manager
    assert dev.cwd == (tmp_path / "work").resolve()
    assert team.warnings == ()


def test_defaults(tmp_path: Path) -> None:
    compose = "version: 2\nprojects:\n  - file: projects/app.yaml\n"
    team = load_team(write_tree(tmp_path, compose=compose))
    assert team.tmux_prefix == "a-"
    assert team.mailbox_path == team.team_dir / "state" / "mailbox.db"
    assert team.rate_limits.fallback_wait_seconds == 1800
    assert team.rate_limits.margin_seconds == 60
    assert team.rate_limits.max_wait_seconds == 8 * 86400
    assert team.budget.warn_threshold_pct == 80 and team.budget.daily_usd_limit is None
    assert team.hook_chain(team.agent("dev")) == (WAIT_HOOK,)


def test_load_accepts_folder_containing_team(tmp_path: Path) -> None:
    write_tree(tmp_path)
    assert load_team(tmp_path).team_dir == (tmp_path / ".team").resolve()


def test_missing_compose_file(tmp_path: Path) -> None:
    probs = problems(tmp_path)
    assert probs[0].file == tmp_path.resolve() / "team-compose.yaml"
    assert "not found" in probs[0].message


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose="version: 2\nprojects:\n  - file: [unclosed\n")
    p = problems(team)[0]
    assert p.file.name == "team-compose.yaml" and "YAML syntax error" in p.message
    assert "line 4" in p.message or "line 3" in p.message


def test_yaml_syntax_error_in_project_file_with_others_still_checked(tmp_path: Path) -> None:
    team = write_tree(tmp_path, projects={"app": "version: 2\nproject: {id: app\n"},
                      compose="version: 3\nprojects:\n  - file: projects/app.yaml\n")
    probs = problems(team)
    assert any(p.file.name == "app.yaml" and "YAML syntax error" in p.message for p in probs)
    find(probs, "version", "team-compose.yaml")


def test_not_a_mapping(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose="- just\n- a list\n")
    assert "expected a mapping" in problems(team)[0].message
    team2 = write_tree(tmp_path / "b", projects={"app": "42\n"})
    assert any(p.file.name == "app.yaml" and "expected a mapping" in p.message for p in problems(team2))


def test_empty_file(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose="")
    assert "empty" in problems(team)[0].message


@pytest.mark.parametrize("version", ["3", "1", "'two'"])
def test_bad_version(tmp_path: Path, version: str) -> None:
    team = write_tree(tmp_path, compose=COMPOSE.replace("version: 2", f"version: {version}"))
    assert "unsupported version" in find(problems(team), "version", "team-compose.yaml").message


def test_missing_version(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose=COMPOSE.replace("version: 2\n", ""))
    find(problems(team), "version", "team-compose.yaml")


@pytest.mark.parametrize("version", ["2", "'2'", "'2.0.0'", "2.0"])
def test_version_2_spellings_accepted(tmp_path: Path, version: str) -> None:
    load_team(write_tree(tmp_path, compose=COMPOSE.replace("version: 2", f"version: {version}")))


def test_missing_projects(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose="version: 2\n")
    assert "missing" in find(problems(team), "projects").message


def test_project_file_missing(tmp_path: Path) -> None:
    team = write_tree(tmp_path, compose=COMPOSE.replace("app.yaml", "nope.yaml"))
    p = find(problems(team), "projects[0].file", "team-compose.yaml")
    assert "not found" in p.message and p.line == 5


@pytest.mark.parametrize("path", ["../outside.yaml", "projects/../../outside.yaml", "/etc/passwd"])
def test_project_file_outside_team_dir(tmp_path: Path, path: str) -> None:
    (tmp_path / "outside.yaml").write_text(PROJECT)
    team = write_tree(tmp_path, compose=COMPOSE.replace("projects/app.yaml", path))
    assert "outside the team dir" in find(problems(team), "projects[0].file").message


def test_duplicate_project_id(tmp_path: Path) -> None:
    compose = COMPOSE + "  - file: projects/app2.yaml\n"
    team = write_tree(tmp_path, compose=compose, projects={"app": PROJECT, "app2": PROJECT})
    assert "duplicate project id 'app'" in find(problems(team), "projects[1].file").message


def test_duplicate_agent_manager_and_worker(tmp_path: Path) -> None:
    proj = PROJECT + "  lead:\n    runtime: codex\n"
    team = write_tree(tmp_path, projects={"app": proj})
    p = find(problems(team), "workers.lead", "app.yaml")
    assert "duplicate agent id 'app:lead'" in p.message and "managers.lead" in p.message


def test_duplicate_yaml_key_is_not_silently_merged(tmp_path: Path) -> None:
    proj = PROJECT + "  dev:\n    runtime: claude-code\n"
    team = write_tree(tmp_path, projects={"app": proj})
    p = find(problems(team), "workers.dev", "app.yaml")
    assert "duplicate key" in p.message and p.line == 14


def test_unknown_runtime_lists_known(tmp_path: Path) -> None:
    team = write_tree(tmp_path, projects={"app": PROJECT.replace("runtime: codex", "runtime: codx")})
    p = find(problems(team, known_runtimes={"claude-code", "codex"}), "workers.dev.runtime", "app.yaml")
    assert "codx" in p.message and "known: claude-code, codex" in p.message
    assert "did you mean 'codex'" in p.message
    load_team(write_tree(tmp_path / "b"), known_runtimes=None)  # no list: anything goes


def test_wrong_types(tmp_path: Path) -> None:
    proj = PROJECT.replace("    runtime: codex\n", "    runtime: codex\n    model: 5\n    effort: [high]\n")
    compose = COMPOSE + "rate_limits:\n  fallback_wait_seconds: soon\n  margin_seconds: -1\n"
    probs = problems(write_tree(tmp_path, compose=compose, projects={"app": proj}))
    assert "must be a string" in find(probs, "workers.dev.model", "app.yaml").message
    find(probs, "workers.dev.effort", "app.yaml")
    assert "must be a number" in find(probs, "rate_limits.fallback_wait_seconds").message
    find(probs, "rate_limits.margin_seconds")


@pytest.mark.parametrize("value", ["0", "-5", "true", ".nan"])
def test_fallback_wait_must_be_positive_number(tmp_path: Path, value: str) -> None:
    compose = COMPOSE + f"rate_limits:\n  fallback_wait_seconds: {value}\n"
    find(problems(write_tree(tmp_path, compose=compose)), "rate_limits.fallback_wait_seconds")


def test_fallback_above_max_wait(tmp_path: Path) -> None:
    compose = COMPOSE + "rate_limits:\n  fallback_wait_seconds: 100\n  max_wait_seconds: 50\n"
    find(problems(write_tree(tmp_path, compose=compose)), "rate_limits.fallback_wait_seconds")


HOOKS = """\
rate_limits:
  default_on_hit: [notify, wait]
  fallback_wait_seconds: 900
  hooks:
    - name: notify
      action: send
      to: lead
      text: "{agent} limited until {resets_at_local}"
    - name: page
      action: webhook
      url_env: SLACK_WEBHOOK
    - name: log
      action: run
      argv: [logger, "-t", teamctl, 5]
budget:
  daily_usd_limit: 20
  per_project_usd_limit: {app: 5}
  tz: Europe/Berlin
  on_cap: [notify]
  on_warn: page
"""


def test_hooks_and_budget_parse(tmp_path: Path) -> None:
    extra = "    reports_to: lead\n    on_rate_limit: [page, wait]\n"
    proj = PROJECT.replace("    reports_to: lead\n", extra)
    team = load_team(write_tree(tmp_path, compose=COMPOSE + HOOKS, projects={"app": proj}))
    rl = team.rate_limits
    assert [h.name for h in rl.hooks] == ["notify", "page", "log", "wait"]  # built-in wait appended
    notify = rl.hook("notify")
    assert notify.action == "send" and notify.to == "app:lead"  # bare name normalised to an id
    assert rl.hook("page").url_env == "SLACK_WEBHOOK" and rl.hook("page").method == "POST"
    assert rl.hook("log").argv == ("logger", "-t", "teamctl", "5") and rl.hook("log").timeout == 10
    assert rl.default_on_hit == ("notify", "wait") and rl.fallback_wait_seconds == 900
    assert [h.name for h in team.hook_chain(team.agent("dev"))] == ["page", "wait"]
    assert [h.name for h in team.hook_chain(team.agent("lead"))] == ["notify", "wait"]
    b = team.budget
    assert b.daily_usd_limit == 20 and b.per_project_usd_limit == {"app": 5.0}
    assert b.project_limit("app") == 5 and b.project_limit("other") is None
    assert b.tz == "Europe/Berlin" and b.on_cap == ("notify",) and b.on_warn == ("page",)
    assert team.warnings == ()


def test_upstream_hook_aliases(tmp_path: Path) -> None:
    compose = COMPOSE + """\
rate_limits:
  hooks:
    - {name: tg, action: send, to: "app:lead", template: "hi {agent}"}
    - {name: top-up, action: run, command: [bin/top-up.sh, "{agent}"]}
    - {name: pager, action: webhook, url: "https://example.com/x", method: put}
budget:
  per_project_usd_limit: 7.5
"""
    team = load_team(write_tree(tmp_path, compose=compose))
    assert team.rate_limits.hook("tg").text == "hi {agent}"
    assert team.rate_limits.hook("top-up").argv == ("bin/top-up.sh", "{agent}")
    assert team.rate_limits.hook("pager").method == "PUT"
    assert team.budget.project_limit("app") == 7.5


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("rate_limits:\n  default_on_hit: [nope]\n", "rate_limits.default_on_hit"),
        ("budget:\n  on_cap: [nope]\n", "budget.on_cap"),
        ("budget:\n  on_warn: nope\n", "budget.on_warn"),
    ],
)
def test_unknown_hook_names_in_compose(tmp_path: Path, snippet: str, key: str) -> None:
    p = find(problems(write_tree(tmp_path, compose=COMPOSE + snippet)), key, "team-compose.yaml")
    assert "unknown hook 'nope'" in p.message and "wait" in p.message


def test_unknown_hook_name_in_on_rate_limit(tmp_path: Path) -> None:
    proj = PROJECT.replace("    reports_to: lead\n", "    reports_to: lead\n    on_rate_limit: waitt\n")
    p = find(problems(write_tree(tmp_path, projects={"app": proj})), "workers.dev.on_rate_limit", "app.yaml")
    assert "did you mean 'wait'" in p.message


def test_bad_hooks(tmp_path: Path) -> None:
    compose = COMPOSE + """\
rate_limits:
  hooks:
    - {name: a, action: explode}
    - {name: b, action: webhook}
    - {name: c, action: run, argv: []}
    - {name: d, action: run, argv: "rm -rf /"}
    - {name: e, action: webhook, url: "file:///etc/passwd"}
    - {name: f, action: send}
    - {name: a, action: wait}
    - {action: wait}
"""
    probs = problems(write_tree(tmp_path, compose=compose))
    assert "unknown action 'explode'" in find(probs, "rate_limits.hooks[0].action").message
    assert "url" in find(probs, "rate_limits.hooks[1].url").message
    assert "non-empty argv" in find(probs, "rate_limits.hooks[2].argv").message
    assert "without a shell" in find(probs, "rate_limits.hooks[3].argv").message
    find(probs, "rate_limits.hooks[4].url")
    find(probs, "rate_limits.hooks[5].to")
    assert "duplicate hook name" in find(probs, "rate_limits.hooks[6].name").message
    find(probs, "rate_limits.hooks[7].name")


def test_send_recipient_checked(tmp_path: Path) -> None:
    hooks = "rate_limits:\n  hooks:\n    - {name: n, action: send, to: %s}\n"
    probs = problems(write_tree(tmp_path, compose=COMPOSE + hooks % "app:dve"))
    assert "did you mean 'app:dev'" in find(probs, "rate_limits.hooks[0].to").message
    team = load_team(write_tree(tmp_path / "b", compose=COMPOSE + hooks % "user:telegram"))
    find(list(team.warnings), "rate_limits.hooks[0].to", severity="warning")


def test_missing_role_prompt(tmp_path: Path) -> None:
    team = write_tree(tmp_path, roles=())
    p = find(problems(team), "managers.lead.role_prompt", "app.yaml")
    assert "not found" in p.message and str(team.resolve() / "roles" / "lead.md") in p.message


def test_project_cwd_missing_or_file(tmp_path: Path) -> None:
    team = write_tree(tmp_path, dirs=())
    assert "does not exist" in find(problems(team), "project.cwd", "app.yaml").message
    (tmp_path / "work").write_text("not a dir")
    assert "not a directory" in find(problems(team), "project.cwd", "app.yaml").message


def test_bad_restart(tmp_path: Path) -> None:
    proj = PROJECT.replace("    reports_to: lead\n", "    reports_to: lead\n    restart: on_failure\n")
    p = find(problems(write_tree(tmp_path, projects={"app": proj})), "workers.dev.restart")
    assert "did you mean 'on-failure'" in p.message


def test_unknown_tz(tmp_path: Path) -> None:
    proj = PROJECT.replace("    reports_to: lead\n", "    reports_to: lead\n    tz: Mars/Olympus\n")
    compose = COMPOSE + "budget:\n  tz: ../../etc/passwd\n"
    probs = problems(write_tree(tmp_path, compose=compose, projects={"app": proj}))
    find(probs, "workers.dev.tz", "app.yaml")
    find(probs, "budget.tz", "team-compose.yaml")


@pytest.mark.parametrize("name", ["dev;rm", "a/b", "-x", ".x", "a b", "x:y", "$(id)", "dev`x`"])
def test_unsafe_agent_names(tmp_path: Path, name: str) -> None:
    proj = PROJECT + f"  {name!r}:\n    runtime: codex\n".replace("'", '"')
    p = find(problems(write_tree(tmp_path, projects={"app": proj})), f"workers.{name}", "app.yaml")
    assert "not allowed" in p.message


@pytest.mark.parametrize("pid", ["../evil", "-rf", ".hidden", "a;b", "a b"])
def test_unsafe_project_ids(tmp_path: Path, pid: str) -> None:
    proj = PROJECT.replace("id: app", f'id: "{pid}"')
    assert "not allowed" in find(problems(write_tree(tmp_path, projects={"app": proj})), "project.id").message


def test_unsafe_runtime_and_prefix(tmp_path: Path) -> None:
    proj = PROJECT.replace("runtime: codex", "runtime: ../../bin/sh")
    compose = COMPOSE.replace("tmux_prefix: t-", "tmux_prefix: 'x;'")
    probs = problems(write_tree(tmp_path, compose=compose, projects={"app": proj}))
    find(probs, "workers.dev.runtime", "app.yaml")
    find(probs, "supervisor.tmux_prefix", "team-compose.yaml")


def test_reports_to_unknown(tmp_path: Path) -> None:
    proj = PROJECT.replace("reports_to: lead", "reports_to: boss")
    p = find(problems(write_tree(tmp_path, projects={"app": proj})), "workers.dev.reports_to", "app.yaml")
    assert "'boss'" in p.message


def test_env_values(tmp_path: Path) -> None:
    proj = PROJECT.replace("    reports_to: lead\n",
                           "    reports_to: lead\n    env:\n      A: x\n      N: 3\n      F: 1.5\n")
    dev = load_team(write_tree(tmp_path, projects={"app": proj})).agent("dev")
    assert dict(dev.env) == {"A": "x", "N": "3", "F": "1.5"}
    with pytest.raises(TypeError):
        dev.env["A"] = "y"  # type: ignore[index]
    bad = PROJECT.replace("    reports_to: lead\n",
                          "    reports_to: lead\n    env:\n      B: true\n      L: [1]\n      bad-name: x\n")
    probs = problems(write_tree(tmp_path / "b", projects={"app": bad}))
    find(probs, "workers.dev.env.B")
    find(probs, "workers.dev.env.L")
    find(probs, "workers.dev.env.bad-name")


def test_agent_own_keys(tmp_path: Path) -> None:
    proj = PROJECT.replace(
        "    reports_to: lead\n",
        "    reports_to: lead\n    restart: never\n    tz: America/New_York\n    limit_group: shared-codex\n"
        "    effort: high\n    model: gpt-5-codex\n    permission_mode: bypass\n",
    )
    dev = load_team(write_tree(tmp_path, projects={"app": proj})).agent("app:dev")
    assert (dev.restart, dev.tz, dev.limit_group, dev.effort, dev.model, dev.permission_mode) == (
        "never", "America/New_York", "shared-codex", "high", "gpt-5-codex", "bypass")


def test_budget_bad_values(tmp_path: Path) -> None:
    compose = COMPOSE + """\
budget:
  daily_usd_limit: lots
  per_project_usd_limit: {app: -1, ghost: 5}
  warn_threshold_pct: 150
"""
    probs = problems(write_tree(tmp_path, compose=compose))
    find(probs, "budget.daily_usd_limit")
    find(probs, "budget.per_project_usd_limit.app")
    assert "no project 'ghost'" in find(probs, "budget.per_project_usd_limit.ghost").message
    find(probs, "budget.warn_threshold_pct")


def test_many_problems_reported_at_once(tmp_path: Path) -> None:
    compose = COMPOSE.replace("version: 2", "version: 9") + "rate_limits:\n  default_on_hit: [ghost]\n"
    proj = PROJECT.replace("runtime: codex", "runtime: 7").replace("reports_to: lead", "reports_to: nobody")
    team = write_tree(tmp_path, compose=compose, projects={"app": proj}, roles=(), dirs=())
    with pytest.raises(ComposeError) as ei:
        load_team(team)
    keys = {(p.file.name, p.key) for p in ei.value.errors}
    assert {
        ("team-compose.yaml", "version"),
        ("team-compose.yaml", "rate_limits.default_on_hit"),
        ("app.yaml", "project.cwd"),
        ("app.yaml", "managers.lead.role_prompt"),
        ("app.yaml", "workers.dev.runtime"),
        ("app.yaml", "workers.dev.reports_to"),
    } <= keys
    text = str(ei.value)
    assert pickle.loads(pickle.dumps(ei.value)).problems == ei.value.problems
    assert f"{len(ei.value.errors)} errors" in text and "workers.dev.reports_to" in text


def test_unknown_key_warning_with_did_you_mean(tmp_path: Path) -> None:
    proj = PROJECT.replace("    runtime: codex\n", "    runtime: codex\n    rol_prompt: roles/lead.md\n")
    compose = COMPOSE + "budgett:\n  daily_usd_limit: 1\nsupervisor_x: 1\n"
    team = load_team(write_tree(tmp_path, compose=compose, projects={"app": proj}))
    w = find(list(team.warnings), "workers.dev.rol_prompt", "app.yaml", severity="warning")
    assert "did you mean 'role_prompt'" in w.message and w.line == 13
    w2 = find(list(team.warnings), "budgett", "team-compose.yaml", severity="warning")
    assert "did you mean 'budget'" in w2.message
    assert str(w2).startswith(f"{team.compose_file}: budgett: ")


def test_upstream_known_keys_do_not_warn(tmp_path: Path) -> None:
    compose = COMPOSE + """\
broker: {type: sqlite, path: state/mb.db}
hitl:
  globally_sensitive_actions: [publish]
  auto_approve_windows: [{action: publish, project: app, scope: "x-*", until: "2026-05-01T09:00:00Z"}]
interfaces:
  - {type: email, name: m, config: {anything: goes}}
budget: {message_ttl_hours: 24}
"""
    proj = PROJECT.replace(
        "    role_prompt: roles/lead.md\n",
        "    role_prompt: roles/lead.md\n    autonomy: low_risk_only\n    can_dm: [dev]\n"
        "    can_broadcast: [all]\n    interfaces: {telegram: {bot_token_env: T, chat_ids_env: C}}\n"
        "    telegram: {x: 1}\n    display_name: Lead\n",
    ) + "channels:\n  - {name: all, members: '*'}\n"
    team = load_team(write_tree(tmp_path, compose=compose, projects={"app": proj}))
    assert only_unserved(team.warnings) and team.warnings  # hitl, interfaces, channels: said, not applied
    assert team.mailbox_path == team.team_dir / "state" / "mb.db"


def test_chain_without_wait_warns(tmp_path: Path) -> None:
    compose = COMPOSE + (
        "rate_limits:\n  default_on_hit: [log]\n  hooks:\n    - {name: log, action: run, argv: [logger, x]}\n"
    )
    team = load_team(write_tree(tmp_path, compose=compose))
    find(list(team.warnings), "rate_limits.default_on_hit", severity="warning")


# --------------------------------------------------------------------------------------------------
# Team API


def test_agent_lookup_and_select(tmp_path: Path) -> None:
    other = PROJECT.replace("id: app", "id: web").replace("name: App", "name: Web")
    compose = COMPOSE + "  - file: projects/web.yaml\n"
    team = load_team(write_tree(tmp_path, compose=compose, projects={"app": PROJECT, "web": other}))
    assert [a.id for a in team.agents] == ["app:lead", "app:dev", "web:lead", "web:dev"]
    assert team.agent("web:dev").project == "web"
    with pytest.raises(KeyError, match="ambiguous"):
        team.agent("dev")
    with pytest.raises(KeyError, match="did you mean 'app:dev'"):
        team.agent("app:dve")
    assert team.select([]) == list(team.agents)
    assert [a.id for a in team.select(["web:dev", "app:lead"])] == ["app:lead", "web:dev"]
    assert [a.id for a in team.select(["web"])] == ["web:lead", "web:dev"]
    assert [a.id for a in team.select(["app:*", "app:dev"])] == ["app:lead", "app:dev"]


def test_dataclasses_are_frozen_and_hashable(tmp_path: Path) -> None:
    team = load_team(write_tree(tmp_path))
    dev = team.agent("dev")
    with pytest.raises(AttributeError):
        dev.name = "x"  # type: ignore[misc]
    assert isinstance(dev, Agent) and len({dev, team.agent("app:dev")}) == 1
    assert pickle.loads(pickle.dumps(dev)) == dev
    assert FrozenMap({"a": "1"}) == {"a": "1"} and hash(FrozenMap({"a": "1"})) == hash(FrozenMap({"a": "1"}))


def test_problem_str() -> None:
    p = Problem(Path("/t/x.yaml"), "workers.dev.runtime", "bad")
    assert str(p) == "/t/x.yaml: workers.dev.runtime: bad"
    assert str(Problem(Path("/t/x.yaml"), "k", "m", "warning", 3)) == "/t/x.yaml: k: warning: m (line 3)"
