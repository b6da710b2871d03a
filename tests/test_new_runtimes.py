"""The opencode, copilot and droid runtimes (issue 14 item 4): each descriptor loads with the full check,
cites its package for every table, builds the documented command lines; `teamctl signatures audit` of
the pinned package leaves no real limit, quota or cost line uncovered; and the lines as each CLI draws
them (bytes captured from the real CLIs against the fake API, ANSI and cursor moves included, or built
from the package's own template where only a vendor account could show them) give the expected events
through the Scanner rl-watch uses, while the look-alikes give none.

The four audits (opencode and droid executables, copilot's unpacked runtime.node and cli-main.js) are
CPU-bound (~15-20 s each): they start together when the module starts and are read by the audit tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from realcli import copilot as copilot_cli
from realcli.install import binary, pins
from realcli.opencode import dead_proxy_env
from teamctl_supervisor.agent.budget import find_price, load_prices
from teamctl_supervisor.agent.launch import build_argv
from teamctl_supervisor.core.descriptors.loader import BUILTIN_DIR, load_descriptor, load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.core.usage import read_text

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
RUNTIMES = ("opencode", "copilot", "droid")
#: the package each descriptor's comments must cite, as pins.toml pins it
CITED = {"opencode": "opencode-linux-x64", "copilot": "@github/copilot-linux-x64", "droid": "@factory/cli-linux-x64"}


def scan(runtime: str, data: bytes, now: datetime = NOW) -> list:
    scanner = Scanner(load_runtime(runtime), tz=ZoneInfo("UTC"), clock=lambda: now)
    return scanner.feed(data) + scanner.finish()


def hits(runtime: str, data: bytes) -> list:
    return [e for e in scan(runtime, data) if e.kind is EventKind.RATE_LIMIT]


def one_hit(runtime: str, data: bytes, signature: str, action: str, reset: timedelta | None):
    found = hits(runtime, data)
    assert found, f"{runtime}: no hit in {data[:200]!r}"
    assert {e.signature for e in found} == {signature}, [(e.signature, e.raw) for e in found]
    event = found[0]
    assert event.action.value == action
    assert event.resets_at == (None if reset is None else NOW + reset), (event.reset_text, event.raw)
    return event


def costs(runtime: str, data: bytes) -> list:
    return [e for e in scan(runtime, data) if e.kind is EventKind.COST]


def dialogs(runtime: str, data: bytes) -> list[tuple[str, str]]:
    return [(e.signature, e.send) for e in scan(runtime, data) if e.kind is EventKind.DIALOG]


# ------------------------------------------------------------------------------------------------
# The audits, started once for the module (four processes at once)


def _audit_targets() -> dict[str, tuple[str, Path]]:
    package = copilot_cli.package_dir()  # the executable holds only a loader: the CLI is its gzipped asset
    return {"opencode": ("opencode", binary("opencode")), "droid": ("droid", binary("droid")),
            "copilot-runtime": ("copilot", package / "prebuilds" / "linux-x64" / "runtime.node"),
            "copilot-tui": ("copilot", package / "cli-main.js")}


@pytest.fixture(scope="module", autouse=True)
def audits() -> Iterator[dict[str, dict]]:
    procs = {key: subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "signatures", "audit", runtime,
                                    str(path), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key, (runtime, path) in _audit_targets().items()}
    reports: dict[str, dict] = {}

    class Reports(dict):
        def __missing__(self, key: str) -> dict:
            out, err = procs[key].communicate(timeout=360)
            assert procs[key].returncode == 0, err
            reports[key] = json.loads(out)
            return reports[key]

    try:
        yield Reports()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()


# ------------------------------------------------------------------------------------------------
# Descriptors


@pytest.mark.parametrize("name", RUNTIMES)
def test_descriptor_loads_with_the_full_check_and_cites_its_pinned_package_for_every_table(name: str) -> None:
    path = BUILTIN_DIR / f"{name}.toml"
    strict = load_descriptor(path, lazy=False)
    assert strict.name == name and load_runtime(name).name == name
    assert strict.rate_limits and strict.costs and strict.dialogs and strict.ignores
    pin = pins()[name]
    assert pin["package"] == CITED[name]
    lines = path.read_text(encoding="utf-8").splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("[[")]
    assert len(tables) >= 8
    for i in tables:
        j = i
        while j > 0 and lines[j - 1].startswith("#"):
            j -= 1
        comment = " ".join(lines[j:i])
        assert f"{pin['package']} {pin['version']}" in comment, f"{path.name}:{i + 1} {lines[i]}: no citation"


def test_launch_lines_use_each_cli_s_documented_flags(tmp_path: Path) -> None:
    prompt = tmp_path / "role.md"
    prompt.write_text("You are the tester.\n")
    oc = load_runtime("opencode")
    assert build_argv(oc, model="fakeapi/gpt-4o", permission_mode="bypass") == [
        "opencode", "--model", "fakeapi/gpt-4o", "--auto"]
    assert oc.launch.resume_args == ("--continue",)
    cp = load_runtime("copilot")
    assert build_argv(cp, model="gpt-5.4", effort="high", mcp_config=tmp_path / "mcp.json",
                      permission_mode="auto") == [
        "copilot", "--model", "gpt-5.4", "--reasoning-effort", "high", "--additional-mcp-config",
        f"@{tmp_path / 'mcp.json'}", "--allow-all-tools"]
    assert cp.launch.resume_args == ("--continue",) and build_argv(cp, permission_mode="plan")[-1] == "--plan"
    dr = load_runtime("droid")
    assert build_argv(dr, role_prompt=prompt, permission_mode="auto") == [
        "droid", "--append-system-prompt-file", str(prompt), "--auto", "medium"]
    assert dr.launch.resume_args == ("--resume", "--last")
    assert load_runtime("github-copilot").name == "copilot" and load_runtime("factory-droid").name == "droid"


@pytest.mark.parametrize(("name", "flags"), [
    ("opencode", ["--continue", "--model", "--auto", "--agent"]),
    ("copilot", ["--continue", "--model", "--reasoning-effort", "--additional-mcp-config", "--allow-all-tools",
                 "--plan", "--yolo"]),
    ("droid", ["--resume", "--last", "--append-system-prompt-file", "--auto", "--use-spec"]),
])
def test_the_flags_the_descriptor_passes_are_in_the_pinned_cli_s_help(name: str, flags: list[str],
                                                                      tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TERM": "dumb", "COPILOT_OFFLINE": "true",
           "COPILOT_AUTO_UPDATE": "false", "COPILOT_PKG_CACHE_HOME": str(copilot_cli.pkg_cache()),
           "OPENCODE_DISABLE_MODELS_FETCH": "1", **dead_proxy_env()}  # loopback only
    done = subprocess.run([str(binary(name)), "--help"], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    shown = done.stdout + done.stderr
    for flag in flags:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", shown), f"{name} --help lacks {flag}"


def test_droid_s_default_model_has_a_price_so_its_tokens_are_not_recorded_at_usd_0() -> None:
    price = find_price(load_prices(), "gpt-5.6-sol")  # `droid exec --help`: "(default: gpt-5.6-sol)"
    assert price is not None and price.input > 0 and price.output > 0


# ------------------------------------------------------------------------------------------------
# Audits: every real limit/quota/cost string covered; every uncovered notice read and put aside

#: uncovered "notice" strings of each package, read one by one: not the model provider's limit (the
#: CLI's own resources, libraries bundled in, other services, docs), or a bare message that is only
#: ever drawn inside a line another signature covers (tested below as drawn).
REVIEWED = {
    "opencode": [
        r"JSPI stack|Memory limit|memory limit reached|File size limit|CPU time limit|Disk quota|recursion groups|"
        r"signature exceeded the limits|EntityReplacer|Precision limit|find-my-way|route rate-limit|length limit"
        r" was reached|breakpoint limit|Concurrency Limit|Concurrent export|^MDB_|OS file watch|\|Overloaded$|"
        r"Bandwidth Limit Exceeded|^429 Too Many Requests$|JIT stack|heap limit|match limit|matching depth|"
        r"Rescan throttled",  # runtime, libraries, HTTP status names (the engine limits new in 1.19.5)
        r"^Homebrew can't install OpenCode",  # 1.19.5's updater: a formula not yet published
        r"^Hub with a higher rate limit|^Hub is rate limiting",  # model registry downloads
        r"implement rate limiting|GPT 6 Astra|Paths are still syncing|tool-call limit",  # prompts, docs
        r"^show token usage and cost statistics$|^Total Cost$",  # `opencode stats`: all sessions' totals
        r"^(?:Too Many Requests|Rate limit exceeded|Quota exceeded\. Check your plan and billing details\.|"
        r"exceeded your current quota)$",  # provider messages: covered as drawn (retry row, error box, Error:)
    ],
    "droid": [
        r"JSPI stack|[Mm]emory limit|CPU time limit|File size limit|Dis[ck] quota|recursion groups|signature "
        r"exceeded the limits|Bandwidth Limit Exceeded|^Too Many Requests$|^Rate Limit Exceeded$|^Rate limit "
        r"exceeded$|^Quota exceeded$|Entity expansion|InM[BP] limit|maxResolution|maxMemoryUsage|cache limit "
        r"reached|Search depth limit|JIT stack|match limit|matching depth|heap limit|allocation limit|budget "
        r"exhausted \(|Local variables rate-limit|length limit was reached|Concurrency Limit|Concurrent export|"
        r"engine may otherwise be used|Space limit exceeded|Hub with a higher rate limit|WorkOS JWKS",
        r"[Tt]oken usage|^Show token usage and cost details$|errors:agent\.overloaded|currently overloaded|network "
        r"issues|Context limit exceeded|resource limit|Script (?:output|outstanding)|Mission event log|Feature "
        r"retry limit|active Cloud session limit|^When limit is reached$|rate limiting avoidance|avoid rate limit",
        r"^(?:Compute limit reached|Usage limit reached|Rate limited by model provider)$",  # automation labels
        r"^(?:rate limit|quota exceeded|model is getting throttled|usage limit reached|Unrecoverable 402: usage "
        r"limit reached)$",  # classifier substrings and the session-failure reason: covered as drawn below
    ],
    "copilot-runtime": [
        r"rate limited by Git|redirect limit|slow-stream retry|Reconnect budget|Space limit|watcher quota|Sentry "
        r"reporting|[Mm]emory limit|output token limit|per-turn send limit|receipt budget|Sidekick trigger|"
        r"^Quota exceeded$|byte limit was reached|Capture group count|Loop count|^Hub |Too many search results|"
        r"token usage|Automatically switch to the Auto model|Auto-fall-back|Surface the rate-limit error",
        r"^Rate limit hit \(À$|^Rate limited\. Pausing À$|^\(current limit resets in ~À$|^quota exhausted \(À$",
        # Rust format pieces of lines covered whole (tested as drawn below); "quota exhausted (N available)"
        # is the footer's quota state, not a hit
    ],
    "copilot-tui": [
        r"Try again (?:later|in)|diagnostic variant|highest predicted limit|^exceeded the quota$|token usage|"
        r"Pro\+? .{0,4}(?:CfI|additional usage)|reached its limit of|^Rate limit exceeded$|^Tokens used$",
        # plugin installs, voice, the component gallery's sample tables and quota mockups, session headroom
    ],
}

#: strings that must be covered, and by which kind of table
MUST_COVER = {
    "opencode": {
        "Free usage exceeded, subscribe to Go": "rate_limit",
        "Free usage exceeded": "rate_limit",
        "{…} reached. It will reset in {…}. To continue using this model now, enable usage from your available "
        "balance": "rate_limit",
        "Usage limit reached. To continue using this model now, enable usage from your available balance":
            "rate_limit",
        "Go limit reached": "dialog",
        "Free limit reached": "dialog",
        "Provider is overloaded": "ignore",
    },
    "droid": {
        "Standard Usage limit reached. Select an option below to continue using Droid.{…}": "rate_limit",
        "Your model provider's usage quota is exhausted. Wait for the reset, raise the limit with your provider, "
        "or switch to another model with `/model`.": "rate_limit",
        "Your organization has reached its monthly compute usage limit. Please try again next month or contact "
        "support to increase your limit.": "rate_limit",
        "The service is currently experiencing high demand. Please try again in a moment.": "rate_limit",
        "⚠ Credit Limit Reached": "dialog",
        "Cancel and wait for rate limits to reset": "dialog",
        "Your standard model budget is exhausted. You have been switched to {…} (Droid Core) to continue this "
        "session as per your overage preference. To set your preferences, run the `/limits` slash command.":
            "ignore",
        "The model provider rate limited the request.": "ignore",
    },
    "copilot-runtime": {
        "You've hit your rate limit.": "rate_limit",
        "You've hit the rate limit for this model.": "rate_limit",
        "You've hit your session rate limit.": "rate_limit",
        "You've reached your weekly rate limit.": "rate_limit",
        "Session limits exhausted before another model call could run.abort": "ignore",
        "Hub is temporarily rate limiting requests. Try again later.": "ignore",
    },
    "copilot-tui": {
        "You've been rate limited on the current model. Would you like to switch to auto mode to continue?":
            "dialog",
        "Credit limit reached ({…}). Autopilot objective paused u2014 resume with /autopilot --max-ai-credits <N>.":
            "ignore",
        "Auto recommends Balance to help your quota last longer": "ignore",
        "GitHub is rate limiting downloads.": "ignore",
    },
}


def _english(text: str) -> bool:
    """Not a translated locale entry (droid and opencode ship their UI in 30+ languages)."""
    return '":"' not in text and sum(c.isascii() for c in text) > 0.9 * len(text)


@pytest.mark.timeout(400)  # four audits of 100 MB executables at once: past 120 s on a loaded machine
@pytest.mark.parametrize("key", list(REVIEWED))
def test_audit_of_the_pinned_package_leaves_no_real_limit_uncovered(audits: dict[str, dict], key: str) -> None:
    report = audits[key]
    strings = {s["text"]: s for s in report["strings"]}
    for text, kind in MUST_COVER[key].items():
        assert text in strings, f"{key}: the audit no longer lists {text!r}"
        assert strings[text]["covered"], f"{key}: {text!r} is uncovered"
        assert kind in {c["kind"] for c in strings[text]["covers"]}, (text, strings[text]["covers"])
    reviewed = [re.compile(p) for p in REVIEWED[key]]
    unread = sorted(s["text"] for s in report["strings"] if s["notice"] and not s["covered"] and _english(s["text"])
                    and not any(p.search(s["text"]) for p in reviewed))
    assert unread == [], f"{key}: uncovered notices nobody has read: {unread}"
    assert report["summary"]["limit"]["covered"] >= len([k for k in MUST_COVER[key].values() if k != "ignore"]) // 2


def test_the_copilot_strings_glued_to_their_codes_are_matched_whole() -> None:
    """runtime.node stores `quota_exceededYou've run out of ...` (code and message glued: the audit reads it
    as code); the messages themselves are in the package and hit."""
    data = (copilot_cli.package_dir() / "prebuilds" / "linux-x64" / "runtime.node").read_bytes()
    for message in (b"You've run out of your included AI credits for the month.",
                    b"You've reached your additional usage limit for your plan.",
                    b"You've reached the spending limit for this session. Start a new session to continue.",
                    b"Rate limited. Pausing ", b" before continuing.", b" (current limit resets in ~"):
        assert message in data, message
    # the executable itself is the loader: its strings hold none of these (an audit of it finds no limit line)
    exe = binary("copilot").read_bytes()
    assert b"copilot.tgz" in exe and b"COPILOT_SEA_EXTRACT_ONLY" in exe
    assert b"You've hit your rate limit." not in exe and b"Failed to get response from the AI model" not in exe


# ------------------------------------------------------------------------------------------------
# opencode 1.18.33: lines as drawn

# captured (TUI 120x40, a 429 rate_limit from the fake API): the status row's first frame, the spinner
# drawn over the start of the message, the countdown not drawn yet
OC_RETRY_ROW = (b"\x1b[38;3H\x1b[38;5;15m\x1b[48;5;232m \x1b[0m\x1b[38;4H\x1b[38;5;236m\x1b[48;5;232m\xe2\xac\x9d"
                b"\x1b[38;5H\x1b[0m\x1b[38;5H\x1b[38;5;168m\x1b[48;5;232mRate\x1b[0m\x1b[38;9H\x1b[38;5;236m"
                b"\x1b[48;5;232m\xe2\xac\x9d\x1b[38;10H\x1b[0m\x1b[38;10H\x1b[38;5;168m\x1b[48;5;232mlimit reached "
                b"for gpt-4o in organization org-fakeapi on requests per min (R\xe2\x80\xa6\x1b[38;86H (click to "
                b"expand) [retrying attemp\x1b[39;4H\x1b[38;5;15m\x1b[48;5;232m \x1b[0m\x1b[39;5H\x1b[38;5;168m"
                b"\x1b[48;5;232m#1]\x1b[0m\r\n")
# captured (TUI 200x50, a 429 insufficient_quota with retry-after 0): a later attempt, countdown included
OC_RETRY_ROW_WIDE = (b"\x1b[49;13H\x1b[38;5;168m\x1b[48;5;232mYou exceeded your current quota, please check your plan "
                     b"and billing details. For\xe2\x80\xa6\x1b[49;94H (click to expand) [retrying in 1s attempt #4]"
                     b"\x1b[0m\x1b[49;142H\x1b[38;5;15m\r\n")
# captured (TUI 120x40, after the five retries): the error box of the message
OC_ERROR_BOX = (b"\x1b[7;3H\x1b[38;5;168m\x1b[48;5;233m\xe2\x94\x83\x1b[0m\x1b[7;4H\x1b[38;5;15m\x1b[48;5;233m  \x1b[0m"
                b"\x1b[7;6H\x1b[38;5;8m\x1b[48;5;233mRate limit reached for gpt-4o in organization org-fak\x1b[0m"
                b"\x1b[8;3H\x1b[38;5;168m\x1b[48;5;233m\xe2\x94\x83\x1b[0m\x1b[8;4H\x1b[38;5;15m\x1b[48;5;233m  "
                b"\x1b[0m\x1b[8;6H\x1b[38;5;8m\x1b[48;5;233m1. Please try again in 297s. Visit https://platform.o"
                b"\x1b[0m\x1b[9;3H\r\n")
# captured (TUI 200x50 with the provider priced): footer and sidebar, the session's total
OC_FOOTER = (b"\x1b[49;123H\x1b[38;5;8m\x1b[48;5;232m1.3K (1%) \xc2\xb7\x1b[49;134H $0.42\x1b[0m\x1b[49;142H\r\n")
OC_SIDEBAR = (b"\x1b[8;159H\x1b[38;5;15m\x1b[48;5;233m  \x1b[0m\x1b[8;161H\x1b[38;5;8m\x1b[48;5;233m"
              b"$1.07 spent\x1b[0m\r\n")
# captured (`opencode run --format json`, one step)
OC_STEP = (b'{"type":"step_finish","timestamp":1796203073584,"sessionID":"ses_dc9f43807ffeuv7ND8zIemJ19Z","part":'
           b'{"id":"prt_2360bd028001D0islbFKiGAjIQ","reason":"stop","snapshot":"1935a2c2c1d552500ad98d8aaa2a7b49079'
           b'62486","messageID":"msg_2360bcb30001Ecwu0DsU9CulYo","sessionID":"ses_dc9f43807ffeuv7ND8zIemJ19Z","type"'
           b':"step-finish","tokens":{"total":1290,"input":1034,"output":56,"reasoning":0,"cache":{"write":0,'
           b'"read":200}},"cost":0.003395}}\n')


def _tui_row(text: str, row: int = 38) -> bytes:
    """A status row as OpenTUI draws it (spinner cells, then the message in the error color)."""
    return (f"\x1b[{row};4H\x1b[38;5;238m\x1b[48;5;232m⬝⬝⬝⬝■\x1b[{row};10H\x1b[0m\x1b[38;5;168m"
            f"\x1b[48;5;232m{text}\x1b[0m\r\n").encode()


def test_opencode_retry_row_of_a_limit_is_recorded_the_cli_retries_by_itself() -> None:
    event = one_hit("opencode", OC_RETRY_ROW, "opencode-retrying-limit", "record", None)
    assert "[retrying" in event.raw
    one_hit("opencode", OC_RETRY_ROW_WIDE, "opencode-retrying-limit", "record", timedelta(seconds=1))
    # SessionRetry's own message for a Gemini quota, with a countdown of minutes and seconds
    one_hit("opencode", _tui_row("gemini is way too hot right now [retrying in 1m 8s attempt #2]"),
            "opencode-retrying-limit", "record", timedelta(minutes=1, seconds=8))


def test_opencode_go_usage_limit_carries_its_reset_and_free_usage_stops() -> None:
    text = ("5-hour usage limit reached. It will reset in 3 hours 12 minutes. To continue using th… (click to expand)"
            " [retrying in 3h 12m attempt #1]")
    one_hit("opencode", _tui_row(text), "opencode-go-usage-limit", "record", timedelta(hours=3, minutes=12))
    one_hit("opencode", _tui_row("Usage limit reached. It will reset in 1 day 4 hours. To continue using this model"
                                 "… [retrying in ~1 day attempt #1]"),
            "opencode-go-usage-limit", "record", timedelta(days=1, hours=4))
    one_hit("opencode", _tui_row("Free usage exceeded, subscribe to Go [retrying in 2s attempt #1]"),
            "opencode-free-usage", "stop", None)


def test_opencode_gave_up_error_box_is_resumed_at_the_provider_s_reset() -> None:
    event = one_hit("opencode", OC_ERROR_BOX, "opencode-gave-up", "resume", timedelta(seconds=297))
    assert event.raw.startswith("┃")
    box = "\x1b[7;3H\x1b[38;5;168m┃\x1b[7;4H  \x1b[7;6H{}\x1b[0m\r\n"
    for message in ("Quota exceeded. Check your plan and billing details.", "Too Many Requests", "Rate limit exceeded"):
        one_hit("opencode", box.format(message).encode(), "opencode-gave-up", "resume", None)


def test_opencode_run_error_and_json_error_stop_the_run() -> None:
    # captured (`opencode run`, stderr)
    line = (b"\x1b[91m\x1b[1mError: \x1b[0mYou exceeded your current quota, please check your plan and billing "
            b"details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/"
            b"error-codes/api-errors.\n")
    one_hit("opencode", line, "opencode-run-error", "stop", None)
    one_hit("opencode", b"\x1b[91m\x1b[1mError: \x1b[0mRate limit reached for gpt-4o in organization org-x on tokens"
                        b" per min (TPM). Please try again in 20s.\n", "opencode-run-error", "stop",
            timedelta(seconds=20))
    # captured (`opencode run --format json`), retry-after set by the provider
    event = (b'{"type":"error","timestamp":1796199908168,"sessionID":"ses_x","error":{"name":"APIError","data":'
             b'{"message":"Rate limit reached","statusCode":429,"isRetryable":true,"responseHeaders":{"content-type"'
             b':"application/json","retry-after":"297","server":"BaseHTTP/0.6"}}}}\n')
    one_hit("opencode", event, "opencode-json-error-429", "stop", timedelta(seconds=297))


def test_opencode_look_alikes_give_no_hit() -> None:
    for data in (_tui_row("Provider is overloaded [retrying in 2s attempt #1]"),
                 _tui_row("Internal server error [retrying in 4s attempt #2]"),
                 b"Rate limit exceeded, retry in 1 minute\n",  # @fastify/rate-limit of `opencode serve`
                 b"     I added rate limiting: after a 429 the client retries.\n",  # the model's prose
                 b"\x1b[5;161HContext\x1b[6;161H1,290 tokens\x1b[7;161H1% used\r\n",
                 b"  \xe2\x94\x83  \xe2\x96\xb3 Permission required\r\n"):
        assert hits("opencode", data) == [], data
    permission = b"\x1b[4;5H\xe2\x96\xb3 Permission required\x1b[6;5HAllow once  Allow always  Reject\r\n"
    assert dialogs("opencode", permission) == []


def test_opencode_cost_lines_give_its_own_dollars_and_tokens() -> None:
    (step,) = costs("opencode", OC_STEP)
    assert (step.usd, step.input_tokens, step.output_tokens, step.cached_tokens) == (0.003395, 1034, 56, 200)
    assert not step.total and not step.cached_in_input
    (free,) = costs("opencode", OC_STEP.replace(b'"cost":0.003395', b'"cost":0'))
    assert free.usd is None and free.input_tokens == 1034  # an unpriced model: priced from prices.toml instead
    (footer,) = costs("opencode", OC_FOOTER)
    assert footer.usd == 0.42 and footer.total and footer.input_tokens is None
    (sidebar,) = costs("opencode", OC_SIDEBAR)
    assert sidebar.usd == 1.07 and sidebar.total


def test_opencode_dialogs_get_their_keys() -> None:
    update = (b"\x1b[10;30H\x1b[1mUpdate Available\x1b[10;80Hesc\x1b[12;30HA new release v1.19.0 is available. "
              b"Would you like to update now?\x1b[14;70HSkip\x1b[14;76HConfirm\r\n")
    assert dialogs("opencode", update) == [("opencode-update-available", "\x1b[D\r")]
    usage = b"\x1b[10;33H\x1b[1mGo limit reached\x1b[10;84H\x1b[38;5;8mesc\x1b[0m\r\n"
    assert dialogs("opencode", usage) == [("opencode-usage-dialog", "\x1b")]


# ------------------------------------------------------------------------------------------------
# copilot 1.0.102: lines as drawn

# captured (TUI 120x40, start in a new folder)
CP_TRUST = (b"\xe2\x94\x82\x1b[m Do you trust the files in this folder?\x1b[79C\x1b[90m\xe2\x94\x82\r\r\n\xe2\x94\x82"
            b"\x1b[118C\xe2\x94\x82\r\r\n\xe2\x94\x82\x1b[m \x1b[97;44m\xe2\x9d\xaf 1. Yes\x1b[39m      \x1b[m \x1b[90m"
            b"\xe2\x94\x82\r\r\n\xe2\x94\x82\x1b[m   2. Yes, and remember this folder for future sessions\x1b[63C"
            b"\x1b[90m\xe2\x94\x82\r\r\n")
# captured (TUI 120x40, BYOK, a 429 without retry-after: five retries, then the error; wrapped, a
# character dropped at each wrap)
CP_GAVE_UP = (b"\x1b[23A\x08\x1b[31m\xe2\x9c\x97\x1b[m \x1b[1mFailed to get response from the AI model; retried 5 "
              b"times (total retry wait time: 54.68 seconds) Last error: 429 Ra\r\n\x1b[3Climit reached for gpt-4o in "
              b"organization org-fakeapi on requests per min (RPM): Limit 3, Used 3, Requested 1. Pleas\r\n\x1b[3Ctry "
              b"again in 531s. Visit \x1b[4;36m\x1b]8;id=md-126zpji;https://platform.openai.com/account/rate-limits"
              b"\x07https://platform.openai.com/account/rate-limits\x1b[0;1m\x1b]8;;\x07 to learn more. "
              b"\x1b[m\x1b[38;3H")
# captured (/exit summary beside the mascot)
CP_SUMMARY = ("╰─╯╰─╯   Duration   14s\r\n█ ▘▝ █   Tokens     ↑ 1.2k (200 cached) • ↓ 56\x1b[K\r\n").encode()


def _cp_error(text: str) -> bytes:
    """An error as the TUI prints it: a red ✗, then the message in bold."""
    return f"\x1b[31m✗\x1b[m \x1b[1m{text}\x1b[m\r\n".encode()


def test_copilot_trust_dialog_is_confirmed_with_enter() -> None:
    assert dialogs("copilot", CP_TRUST) == [("copilot-trust-folder", "\r")]


def test_copilot_retries_exhausted_on_a_429_is_resumed_at_the_provider_s_reset() -> None:
    event = one_hit("copilot", CP_GAVE_UP, "copilot-retries-exhausted-429", "resume", timedelta(seconds=531))
    assert event.resume_keys == "continue\r"
    quota = (b"Failed to get response from the AI model; retried 5 times (total retry wait time: 5.00 seconds) Last "
             b"error: 429 You exceeded your current quota, please check your plan and billing details.\n")
    one_hit("copilot", quota, "copilot-retries-exhausted-429", "resume", None)  # -p on stderr
    other = (b"Failed to get response from the AI model; retried 5 times (total retry wait time: 9.1 seconds) "
             b"Last error: 503\n")
    assert hits("copilot", other) == []


def test_copilot_github_rate_limits_pauses_and_quotas() -> None:
    limit = ("You've hit your rate limit. Please wait for your limit to reset or switch to auto model to continue "
             "(current limit resets in ~2 hours). Learn More (https://docs.github.com/copilot/concepts/rate-limits).")
    one_hit("copilot", _cp_error(limit), "copilot-rate-limited", "resume", timedelta(hours=2))
    one_hit("copilot", _cp_error("You’ve reached your weekly rate limit. Learn More (https://docs.github.com/copilot/"
                                 "concepts/rate-limits)."), "copilot-rate-limited", "resume", None)
    one_hit("copilot", _cp_error("You've hit the rate limit for this model. Please switch models or wait for your "
                                 "limit to reset (current limit resets in ~45 minutes)."),
            "copilot-rate-limited", "resume", timedelta(minutes=45))
    one_hit("copilot", b"\x1b[33m!\x1b[m Rate limited. Pausing 30 seconds before continuing.\r\n",
            "copilot-rate-limit-pause", "record", timedelta(seconds=30))
    one_hit("copilot", _cp_error("You've run out of your included AI credits for the month. Manage budget: "
                                 "https://github.com/settings/copilot/features"), "copilot-quota", "stop", None)
    one_hit("copilot", _cp_error("You've reached your additional usage limit for your plan. Go to https://github.com/"
                                 "settings/copilot/features for more details."), "copilot-quota", "stop", None)


def test_copilot_session_caps_mode_switches_and_other_services_are_no_hit() -> None:
    for text in ("Session limit reached (30 AI credits). Increase or remove the session limit to continue.",
                 "Session limits: 0.5/1 AI credits used.",
                 "If this session continues, the next model call is final; tools will be disabled.",
                 "Credit limit reached (30). Autopilot objective paused — resume with /autopilot --max-ai-credits <N>.",
                 "You've reached the spending limit for this session. Start a new session to continue.",
                 "Rate limited. Switching to auto mode to continue.",
                 "GitHub is rate limiting downloads. Try again in 30 seconds.",
                 "Hub is temporarily rate limiting requests. Try again later."):
        assert hits("copilot", _cp_error(text)) == [], text


def test_copilot_auto_model_dialogs_are_declined_with_escape() -> None:
    body = (b"\x1b[12;3H\x1b[1mSwitch to auto mode?\x1b[14;3HYou've been rate limited on the current model. Would you "
            b"like to switch to auto mode to continue?\x1b[16;3H\xe2\x9d\xaf Yes\x1b[17;5HYes (always)\r\n")
    assert dialogs("copilot", body) == [("copilot-switch-to-auto", "\x1b")]
    native = b"Rate limit hit (weekly limit). Switch to the auto model?\r\n"
    assert dialogs("copilot", native) == [("copilot-switch-to-auto-native", "\x1b")]


def test_copilot_tokens_summary_is_a_session_total_with_the_cache_inside_input() -> None:
    (event,) = costs("copilot", CP_SUMMARY)
    assert (event.input_tokens, event.output_tokens, event.cached_tokens, event.usd) == (1200, 56, 200, None)
    assert event.total and event.cached_in_input and event.model is None  # -p: no model row follows


def test_copilot_usage_screen_names_the_model_on_the_row_under_the_total() -> None:
    # captured (/usage after a resumed session's second answer, 200x50)
    usage = ("   Tokens     ↑ 2.5k (400 cached) • ↓ 112\r\n     gpt-4o ↑ 2.5k (400 cached) • ↓ 112\r\n"
             " ~/work\r\n").encode()
    (event,) = costs("copilot", usage)
    assert (event.input_tokens, event.output_tokens, event.cached_tokens, event.model) == (2500, 112, 400, "gpt-4o")


# ------------------------------------------------------------------------------------------------
# droid 0.225.2: lines as drawn (the TUI needs a Factory login: its lines are built from the bundle's
# own templates; the exec lines are captured)


def _ink(text: str) -> bytes:
    """A line as ink prints it (colored, then a line end)."""
    return f"\x1b[31m{text}\x1b[39m\r\n".encode()


def test_droid_standard_usage_limit_stops_until_its_reset_and_the_menu_is_cancelled() -> None:
    text = ("Standard Usage limit reached. Select an option below to continue using Droid. Standard resets in "
            "3h 12m.")
    one_hit("droid", _ink(text), "droid-standard-usage-limit", "stop", timedelta(hours=3, minutes=12))
    one_hit("droid", _ink("Standard Usage limit reached. Select an option below to continue using Droid. Standard "
                          "resets Dec 5."), "droid-standard-usage-limit", "stop", None)  # a date: no instant
    menu = ("\x1b[1m⚠ Credit Limit Reached\x1b[22m\r\n❯ Switch to Droid Core\r\n  Enable Extra Usage in settings "
            "(opens browser)\r\n  Cancel and wait for rate limits to reset\r\n"
            "↑/↓ Navigate • Enter Select • ESC Cancel\r\n")
    assert dialogs("droid", menu.encode()) == [("droid-credit-limit-menu", "\x1b")]


def test_droid_throttling_quota_and_exec_errors() -> None:
    event = one_hit("droid", _ink("The service is currently experiencing high demand. Please try again in a moment."),
                    "droid-throttled", "resume", None)
    assert event.resume_keys == "continue\r"
    one_hit("droid", _ink("BYOK Error: 429 Rate limit reached for gpt-4o in organization org-x."),
            "droid-throttled", "resume", None)
    quota = ("Your model provider's usage quota is exhausted. Limits reset at 2026-12-02T11:00:00Z. Wait for the "
             "reset, raise the limit with your provider, or switch to another model with `/model`.")
    one_hit("droid", _ink(quota), "droid-byok-quota", "stop", timedelta(hours=3))
    one_hit("droid", _ink("Your organization has reached its monthly compute usage limit. Please try again next month "
                          "or contact support to increase your limit."), "droid-org-monthly-limit", "stop", None)
    # captured (`droid exec -o stream-json`, a BYOK model answering 402)
    line = (b'{"type":"error","source":"agent_loop","message":"402 You exceeded your current quota, please check your '
            b'plan and billing details.","timestamp":1796199601013,"session_id":"a633140c-69d4-4da5-9dbb-37e644a3615c"}'
            b"\n")
    one_hit("droid", line, "droid-exec-json-error", "stop", None)


def test_droid_look_alikes_give_no_hit_and_the_usage_window_is_a_reading() -> None:
    for text in ("Your standard model budget is exhausted. You have been switched to GLM-5.2 (Droid Core) to continue "
                 "this session as per your overage preference.",
                 "You are using Standard Usage, but 5-hour usage is at 85%.",
                 "You are using Extra Usage. $4.20 remaining — buy more to continue using all models.",
                 "The model provider rate limited the request.",
                 "Task subagent limit reached (8 active on this machine). Wait for a running task to finish.",
                 "This LLM provider is currently overloaded. Please switch to a different model and try again."):
        assert hits("droid", _ink(text)) == [], text
    readings = read_text("You are using Standard Usage, but 5-hour usage is at 85%.", load_runtime("droid").usage,
                         NOW.timestamp(), ZoneInfo("UTC"))
    assert [(r.window, r.used) for r in readings] == [("5h", 85.0)]  # the window name normalized


def test_droid_exec_usage_is_a_run_total_without_the_cache_in_input() -> None:
    # captured (`droid exec -o json`)
    line = (b'{"type":"result","subtype":"success","is_error":false,"duration_ms":159,"num_turns":1,"result":"Hello '
            b'from the fake API.","session_id":"4f5c90bc-2a45-4343-a1fc-5c880ee15975","usage":{"input_tokens":1034,'
            b'"output_tokens":56,"cache_read_input_tokens":200,"cache_creation_input_tokens":0,"factory_credits":0,'
            b'"ttft_ms":7}}\n')
    (event,) = costs("droid", line)
    assert (event.input_tokens, event.output_tokens, event.cached_tokens, event.usd) == (1034, 56, 200, None)
    assert event.total and not event.cached_in_input


def test_droid_exec_is_respawned_without_the_tui_resume_flags_it_rejects() -> None:
    """`droid exec … --resume --last` exits 1 ("error: unknown option '--resume'", 0.225.2, captured)."""
    launch = load_runtime("droid").launch
    assert launch.resume_argv(["droid", "exec", "-m", "custom:gpt-4o", "-o", "json", "hi"]) == []
    assert launch.resume_argv(["droid"]) == ["--resume", "--last"]
    assert launch.resume_argv(["droid", "--resume"]) == ["--last"]
    assert load_runtime("claude-code").launch.resume_argv(["claude", "-p", "hi"]) == ["--continue"]


def test_reasoning_tokens_printed_apart_or_only_in_the_total_are_output() -> None:
    """Captured against the fake API answering 56 completion tokens of which 20 reasoning (Chat
    Completions `completion_tokens_details.reasoning_tokens`; Gemini `thoughtsTokenCount`)."""
    oc = (b'{"type":"step_finish","part":{"type":"step-finish","tokens":{"total":1290,"input":1034,"output":36,'
          b'"reasoning":20,"cache":{"write":0,"read":200}},"cost":0.003395}}\n')  # opencode-linux-x64 1.18.33
    (step,) = costs("opencode", oc)
    assert (step.input_tokens, step.output_tokens, step.usd) == (1034, 56, 0.003395)
    gm = (b'{"type":"result","status":"success","stats":{"total_tokens":2620,"input_tokens":2468,"output_tokens":112,'
          b'"cached":400,"input":2068,"duration_ms":92,"tool_calls":0,"models":{"gemini-3.5-flash-lite":{"total_tokens"'
          b':1310,"input_tokens":1234,"output_tokens":56,"cached":200,"input":1034},"gemini-3.8-flash":{"total_tokens":'
          b'1310,"input_tokens":1234,"output_tokens":56,"cached":200,"input":1034}}}}\n')  # @google/gemini-cli 0.61.0
    assert [(e.model, e.input_tokens, e.output_tokens) for e in costs("gemini", gm)] == [
        ("gemini-3.5-flash-lite", 1234, 76), ("gemini-3.8-flash", 1234, 76), (None, 2468, 152)]
