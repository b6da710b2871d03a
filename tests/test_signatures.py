"""Tests for supervisor.signatures: descriptor loading, validation messages, regex hazards, overrides."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.core.descriptors import files as descriptor_files
from teamctl_supervisor.core.descriptors import loader as signatures
from teamctl_supervisor.core.descriptors.loader import (
    Action,
    DescriptorError,
    load_descriptor,
    load_runtime,
    regex_hazard,
    runtime_files,
)
from teamctl_supervisor.core.lazyre import LazyPattern
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
FAKE = Path(__file__).parent / "fakes" / "runtimes" / "fake.toml"

HEAD = """\
name = "tst"

[launch]
binary = "tst-cli"
"""

FIRST_RATE_LIMIT = """
[[rate_limit]]
id = "first"
match = 'usage limit reached'
keywords = ["usage limit"]
"""


def write(tmp: Path, body: str, name: str = "tst.toml") -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_fake_descriptor_loads_every_table() -> None:
    rt = load_descriptor(FAKE)
    assert rt.name == "fake"
    assert [s.id for s in rt.rate_limits] == ["usage-limit", "session-limit", "retrying", "quota-dialog"]
    assert [s.id for s in rt.costs] == ["session-total"]
    assert [s.id for s in rt.dialogs] == ["trust"] and rt.dialogs[0].send == "1\r"
    assert len(rt.ignores) == 1
    by_id = {s.id: s for s in rt.rate_limits}
    assert by_id["retrying"].action is Action.RECORD
    assert by_id["session-limit"].action is Action.RESUME
    assert by_id["session-limit"].resume_keys == "continue\r"
    assert by_id["quota-dialog"].lookahead == 2 and by_id["quota-dialog"].follow is not None
    assert rt.costs[0].total is True
    assert rt.launch.resume_args == ("print:resumed-session",)


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, '[launch]\nbinary = "x"\n', name="my-cli.toml")
    assert load_descriptor(path).name == "my-cli"


# Each case: the text after HEAD + FIRST_RATE_LIMIT, the expected `where`, a fragment of the message.
BAD_TABLES = {
    "unknown-key": ("""
        [[rate_limit]]
        id = "second"
        mach = 'x'
        """, "rate_limit[1].mach", "unknown key (did you mean 'match'?)"),
    "bad-regex": ("""
        [[rate_limit]]
        id = "second"
        match = 'usage (limit'
        """, "rate_limit[1].match", "does not compile"),
    "missing-reset-group": ("""
        [[rate_limit]]
        id = "second"
        match = 'limit hit, resets (?P<when>.{1,20})'
        reset = "clock"
        """, "rate_limit[1].reset_group", "'reset' is not in `match`"),
    "reset-group-not-in-follow": ("""
        [[rate_limit]]
        id = "second"
        match = 'quota exceeded'
        reset = "clock"
        lookahead = 1
        follow = 'resets at (?P<at>.{1,20})'
        """, "rate_limit[1].reset_group", "is not in `match` or `follow`"),
    "unknown-signature-tz": ("""
        [[rate_limit]]
        id = "second"
        match = 'x'
        tz = "Mars/Olympus_Mons"
        """, "rate_limit[1].tz", "unknown timezone 'Mars/Olympus_Mons'"),
    "bad-action": ("""
        [[rate_limit]]
        id = "second"
        match = 'x'
        action = "pause"
        """, "rate_limit[1].action", "must be stop, resume, record or block"),
    "bad-reset-kind": ("""
        [[rate_limit]]
        id = "second"
        match = 'x (?P<reset>.{1,9})'
        reset = "sometime"
        """, "rate_limit[1].reset", "must be one of"),
    "lookahead-too-large": ("""
        [[rate_limit]]
        id = "second"
        match = 'x'
        lookahead = 6
        follow = 'y'
        """, "rate_limit[1].lookahead", "0..5"),
    "lookahead-negative": ("""
        [[rate_limit]]
        id = "second"
        match = 'x'
        lookahead = -1
        """, "rate_limit[1].lookahead", "0..5"),
    "lookahead-bool": ("""
        [[rate_limit]]
        id = "second"
        match = 'x'
        lookahead = true
        """, "rate_limit[1].lookahead", "0..5"),
    "follow-without-lookahead": ("""
        [[rate_limit]]
        id = "second"
        match = 'quota exceeded'
        reset = "clock"
        follow = 'resets at (?P<reset>.{1,20})'
        """, "rate_limit[1].follow", "needs `lookahead`"),
    "hazardous-regex": ("""
        [[rate_limit]]
        id = "second"
        match = '(a+)+b'
        """, "rate_limit[1].match", "nested unbounded repetition"),
    "cost-without-figures": ("""
        [[cost]]
        id = "ok"
        match = 'cost: (?P<usd>[0-9.]+)'

        [[cost]]
        id = "figureless"
        match = 'cost: \\$[0-9.]+'
        """, "cost[1].match", "usd, input or output"),
    "in-place-not-a-total": ("""
        [[cost]]
        id = "footer"
        match = '\\$(?P<usd>[0-9.]+) spent'
        in_place = true
        """, "cost[0].in_place", "needs `total = true`"),
    "dialog-without-send": ("""
        [[dialog]]
        id = "ok"
        match = 'trust'
        send = "y"

        [[dialog]]
        id = "no-send"
        match = 'continue\\?'
        """, "dialog[1].send", "non-empty string of keys"),
    "ignore-unknown-key": ("""
        [[ignore]]
        match = 'a'

        [[ignore]]
        match = 'b'
        keyword = ["b"]
        """, "ignore[1].keyword", "did you mean 'keywords'?"),
}


@pytest.mark.parametrize(("body", "where", "message"), BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_bad_signature_table_names_file_table_index_and_key(tmp_path: Path, body: str, where: str,
                                                           message: str) -> None:
    path = write(tmp_path, HEAD + FIRST_RATE_LIMIT + textwrap.dedent(body))
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    assert info.value.file == path
    assert info.value.where == where
    assert str(info.value).startswith(f"{path}: {where}: ")
    assert message in str(info.value)


def test_a_team_override_of_a_builtin_name_is_still_checked_in_full_at_load(tmp_path: Path) -> None:
    """Only the shipped descriptors compile lazily: a team's file with a built-in's name is the team's."""
    (tmp_path / "runtimes").mkdir()
    path = write(tmp_path / "runtimes", HEAD + FIRST_RATE_LIMIT + textwrap.dedent(BAD_TABLES["bad-regex"][0]),
                 name="claude-code.toml")
    with pytest.raises(DescriptorError) as info:
        load_runtime("claude-code", tmp_path)
    assert (info.value.file, info.value.where) == (path, "rate_limit[1].match")
    assert "does not compile" in str(info.value)


def test_builtin_descriptors_compile_on_first_use_and_pass_the_full_check() -> None:
    """Built-ins are not compiled at load (a watcher that never sees a keyword never imports the regex
    engine); loaded with lazy=False each one passes every check a team's file gets, groups included."""
    for path in (signatures.generic_patterns_path(), *sorted(signatures.BUILTIN_DIR.glob("*.toml"))):
        generic = path == signatures.generic_patterns_path()
        lazy, strict = load_descriptor(path, generic=generic), load_descriptor(path, generic=generic, lazy=False)
        lazy_sigs = lazy.rate_limits + lazy.costs + lazy.dialogs + lazy.ignores
        strict_sigs = strict.rate_limits + strict.costs + strict.dialogs + strict.ignores
        assert lazy_sigs and len(lazy_sigs) == len(strict_sigs)
        for sig, full in zip(lazy_sigs, strict_sigs, strict=True):
            assert isinstance(sig.regex, LazyPattern) and not sig.regex.is_compiled, (path.name, sig.id)
            assert sig.regex.pattern == full.regex.pattern
            assert sig.regex.groupindex == full.regex.groupindex  # compiles it, with the same engine and flags
            assert sig.regex.flags == full.regex.flags
            if full.follow is not None:
                assert sig.follow.pattern == full.follow.pattern and sig.follow.groupindex == full.follow.groupindex


BAD_TOP = {
    "unknown-top-key": ('nmae = "x"\n[launch]\nbinary = "x"\n', "nmae", "did you mean 'name'?"),
    "unknown-launch-key": ('[launch]\nbinnary = "x"\n', "launch.binnary", "did you mean 'binary'?"),
    "unknown-top-tz": ('tz = "Not/AZone"\n[launch]\nbinary = "x"\n', "tz", "unknown timezone"),
    "missing-launch": ('name = "x"\n', "launch", "missing table [launch]"),
    "unknown-option": ('[launch]\nbinary = "x"\n[launch.options]\nmodle = ["--m"]\n', "launch.options.modle",
                       "unknown setting"),
    "rate-limit-not-array": ('[launch]\nbinary = "x"\n[rate_limit]\nmatch = "x"\n', "rate_limit",
                             "array of tables"),
}


@pytest.mark.parametrize(("text", "where", "message"), BAD_TOP.values(), ids=BAD_TOP.keys())
def test_bad_top_level_names_file_and_key(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    assert (info.value.file, info.value.where) == (path, where)
    assert str(path) in str(info.value) and message in str(info.value)


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[launch\nbinary = 'x'\n")
    with pytest.raises(DescriptorError, match="TOML syntax") as info:
        load_descriptor(path)
    assert info.value.file == path


def test_case_sensitive_signature_does_not_fold_case(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + """
        [[rate_limit]]
        id = "exact"
        match = 'Usage Limit Reached'
        case_sensitive = true
        """)
    regex = load_descriptor(path).rate_limits[0].regex
    assert regex.search("Usage Limit Reached") and not regex.search("usage limit reached")


# -- regex hazards ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [r"(a+)+", r"(.*)*", r".*.*.*x", r"(?:\s*\w+)+$", r"(x|y+)*z",
                                     r".{0,5000}.+.*x.*", r"(?=(a+)+)b"])
def test_regex_hazard_rejects_backtracking_shapes(pattern: str) -> None:
    assert regex_hazard(pattern) is not None


@pytest.mark.parametrize("pattern", [r"(?>(a+)+)b", r"(?:x(a+)+y)++"], ids=["atomic-group", "possessive"])
def test_regex_hazard_sees_nested_repeats_inside_atomic_and_possessive_groups(pattern: str) -> None:
    # Both take exponential time on "x" + "a" * 30 + "c" (python 3.11 supports the syntax).
    assert regex_hazard(pattern) is not None


@pytest.mark.parametrize("pattern", [
    r"usage limit reached(?:\s*[·∙|]\s*resets\s+(?P<reset>[^\n]{1,60}))?",
    r"rate limit.*resets at (?P<reset>.+)",
    r"Claude AI usage limit reached\|(?P<reset>\d{10,13})",
    r'"code":\s*429\b',
    r"quota exceeded for (?P<model>[a-z0-9.-]+)",
    r"session cost: \$(?P<usd>[0-9.,]+) \((?P<input>[0-9.,kKmM]+) in, (?P<output>[0-9.,kKmM]+) out\)",
    r"(?:try again|retry) in (?P<reset>\d+(?:\.\d+)? ?(?:s|ms|seconds?|minutes?))",
    r".{0,200}limit.{0,200}",
])
def test_regex_hazard_accepts_typical_signatures(pattern: str) -> None:
    assert regex_hazard(pattern) is None


# -- runtime files and overrides -----------------------------------------------------------------------


@pytest.fixture
def builtin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private built-in runtimes dir, so the test does not depend on which built-ins ship."""
    d = tmp_path / "builtin"
    d.mkdir()
    (d / "alpha.toml").write_text('aliases = ["a", "al"]\n[launch]\nbinary = "alpha-builtin"\n'
                                  "[[rate_limit]]\nid = 'builtin-hit'\nmatch = 'builtin limit'\n")
    (d / "beta.toml").write_text('[launch]\nbinary = "beta-builtin"\nargs = ["--tui"]\n')
    monkeypatch.setattr(descriptor_files, "BUILTIN_DIR", d)
    return d


def test_team_runtime_file_overrides_builtin(tmp_path: Path, builtin_dir: Path) -> None:
    team = tmp_path / "team"
    (team / "runtimes").mkdir(parents=True)
    team_alpha = team / "runtimes" / "alpha.toml"
    team_alpha.write_text('[launch]\nbinary = "alpha-team"\n[[rate_limit]]\nid = "team-hit"\nmatch = "x"\n')
    (team / "runtimes" / "a.toml").write_text('[launch]\nbinary = "a-team"\n')
    files = signatures.runtime_files(team)
    assert files["alpha"] == team_alpha
    assert files["beta"] == builtin_dir / "beta.toml"
    assert files["a"] == team / "runtimes" / "a.toml"  # a team file beats a built-in alias
    assert signatures.runtime_files(None)["al"] == builtin_dir / "alpha.toml"
    rt = load_runtime("alpha", team, generic=False)
    assert rt.launch.binary == "alpha-team"
    assert [s.id for s in rt.rate_limits] == ["team-hit"]
    assert load_runtime("beta", team, generic=False).launch.args == ("--tui",)


def test_unknown_runtime_lists_known_names(tmp_path: Path, builtin_dir: Path) -> None:
    with pytest.raises(DescriptorError, match="unknown runtime 'gamma'.*alpha"):
        load_runtime("gamma", tmp_path, generic=False)


def test_legacy_yaml_override_loads_and_matches(tmp_path: Path, builtin_dir: Path) -> None:
    team = tmp_path / "team"
    (team / "runtimes").mkdir(parents=True)
    (team / "runtimes" / "beta.yaml").write_text(textwrap.dedent("""\
        rate_limit_patterns:
          - match: 'Claude AI usage limit reached'
            resets_at_capture: 'reached\\|(\\d{10})'
          - match: 'rate limited'
            resets_in_capture: 'try again in (\\d+ minutes)'
          - match: 'overloaded'
        """))
    rt = load_runtime("beta", team, generic=False)
    assert rt.launch.binary == "beta-builtin"  # launch settings come from the built-in of that name
    assert [s.id for s in rt.rate_limits] == ["yaml-0", "yaml-1", "yaml-2"]
    sc = Scanner(rt, tz=ZoneInfo("UTC"), clock=lambda: NOW)
    events = sc.feed(b"Claude AI usage limit reached|1741100000\n"
                     b"Error: rate limited, try again in 30 minutes\n"
                     b"server overloaded\n")
    assert [e.kind for e in events] == [EventKind.RATE_LIMIT] * 3
    assert [e.signature for e in events] == ["yaml-0", "yaml-1", "yaml-2"]
    assert events[0].resets_at == datetime.fromtimestamp(1741100000, UTC)
    assert events[1].resets_at == NOW + timedelta(minutes=30)
    assert events[2].resets_at is None


def test_legacy_yaml_unknown_key_is_named(tmp_path: Path, builtin_dir: Path) -> None:
    team = tmp_path / "team"
    (team / "runtimes").mkdir(parents=True)
    path = team / "runtimes" / "legacy.yaml"
    path.write_text("rate_limit_patterns:\n  - match: 'x'\n    resets_capture: 1\n")
    with pytest.raises(DescriptorError) as info:
        load_runtime("legacy", team, generic=False)
    assert info.value.file == path
    assert info.value.where == "rate_limit_patterns[0].resets_capture"


def test_aliases_are_read_from_the_top_level_and_again_after_an_edit(tmp_path: Path) -> None:
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    desc = runtimes / "mycli.toml"
    desc.write_text('name = "mycli"\naliases = [\n  "mc",\n  "my-cli",\n]\n\n[launch]\nbinary = "mycli"\n')
    files = runtime_files(tmp_path)
    assert files["mc"] == files["my-cli"] == files["mycli"] == desc
    desc.write_text('name = "mycli"\naliases = ["mycli2"]\n\n[launch]\nbinary = "mycli"\n')
    files = runtime_files(tmp_path)
    assert "mycli2" in files and "mc" not in files
