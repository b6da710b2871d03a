"""`teamctl signatures audit`: every limit/quota/usage/cost/token string of a package, marked covered
by a descriptor's signatures or uncovered. Small fixture packages (a binary with embedded strings, a
JS bundle folder, Python sources) against a team descriptor, and one run on a real pinned package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from realcli.install import cache_dir, pins
from teamctl_supervisor.core.descriptors.audit import WANTED, WANTED_BYTES, audit, candidate_lines, renderings
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.descriptors.pkgstrings import SLOT, binary_strings, js_literals, python_literals

DESCRIPTOR = r"""
name = "toy"
[launch]
binary = "toy"

# toy 1.0: strings
[[rate_limit]]
id = "toy-hit"
match = '^[^\w\n]{0,8}You[’\x27]ve\s+hit\s+your\s+[\w\- ]{1,40}?limit\s*·\s*resets\s+(?P<reset>\d{1,2}[ap]m)\s*$'
keywords = ["hit your"]
reset = "clock"

# toy 1.0: strings (a Rust format piece: "... for {model}. Switch ...")
[[rate_limit]]
id = "toy-model"
match = 'You[’\x27]ve\s+hit\s+your\s+usage\s+limit\s+for\s+(?P<model>[\w.\-]{1,60})\.'
keywords = ["usage limit for"]

# toy 1.0: strings; the keyword is a word the line lacks, so the scanner would never try it
[[rate_limit]]
id = "toy-blind"
match = 'Session\s+quota\s+used\s+up'
keywords = ["never printed"]

# toy 1.0: strings
[[cost]]
id = "toy-cost"
match = '^Total\s+cost:\s+\$(?P<usd>\d+(?:\.\d+)?)\s*$'
keywords = ["total cost:"]
total = true

# toy 1.0: strings
[[dialog]]
id = "toy-trust"
match = 'Trust\s+this\s+folder\?'
keywords = ["trust this folder"]
send = "\r"

[[ignore]]
id = "toy-approaching"
match = 'Approaching\s+(?:your\s+)?usage\s+limit'
keywords = ["approaching"]
"""

JS_BUNDLE = r"""
var q=/['"`]limit/g,a="Approaching your usage limit",b=`You've hit your ${n} · resets ${t}`;
function c(x){return `Total cost: $${x.toFixed(4)}`}// it's a comment with a quote
const d='Quota exceeded for this project.',e=`${"Session quota"} used up for today`;
let f=limit = parsedLimit;g="x".repeat(3);h=`Trust this folder? ${p?`yes`:`no`}`;
"""
BINARY = (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8
          + "You’ve hit your usage limit for . Switch to another model now,".encode() + b"\x00\x01"
          + "out of creditsYou’re out of credits. Add credits to continue.Daily token budget exceeded."
            .encode() + b"\x00\x02\x03"
          + b"usage_limit_reached\x00ratelimit\x00\x00")
PYTHON = '''
def warn(model, n):
    print(f"You exceeded your current quota for {model}, {n} tokens used.")
    return "Approaching usage limit for this account"
'''


def _toy_team(tmp_path: Path) -> Path:
    team = tmp_path / "team" / ".team"
    (team / "runtimes").mkdir(parents=True)
    (team / "runtimes" / "toy.toml").write_text(DESCRIPTOR, encoding="utf-8")
    (team / "team-compose.yaml").write_text("version: 2\n", encoding="utf-8")
    return team


def _audit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", "signatures", "audit", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def _by_text(report: dict) -> dict[str, dict]:
    return {s["text"]: s for s in report["strings"]}


def test_js_literals_read_templates_with_slots_and_skip_regexes_and_comments():
    found = list(js_literals(JS_BUNDLE))
    assert f"You've hit your {SLOT} · resets {SLOT}" in found
    assert f"Total cost: ${SLOT}" in found
    assert "Session quota used up for today" in found  # `${"literal"}` is inlined
    assert "Quota exceeded for this project." in found
    assert "Trust this folder? " + SLOT in found and "yes" in found
    assert not any("comment" in s for s in found)


def test_binary_strings_split_glued_pieces_and_keep_utf8_whole():
    found = list(binary_strings(BINARY))
    assert "You’ve hit your usage limit for . Switch to another model now," in found
    assert "out of credits" in found and "You’re out of credits. Add credits to continue." in found
    assert "Daily token budget exceeded." in found


#: One phrase per alternative of audit.CATEGORIES, in the casings and Unicode letters re.I also reads
#: (İ ı ſ K), with Unicode spaces and digits where the pattern takes \s or \d.
WANTED_PHRASES = (
    "RATE-LIMITED now", "Rate limit", "limits", "limıted\u00a0by plan", "TOO MANY REQUESTS", "throttled",
    "Overloaded", "at capacity", "reſets", "reset\u2003at 4pm", "hit\u00a0your cap", "Hİt your cap",
    "try again later", "QUOTAS", "exhauſted", "exceeded", "out of credits", "usage", "Costs", "spending",
    "spent", "billing", "budget", "CREDIT", "pricing", "$\u0663", "$5", "to\u212aens", "TOKEN\u2028usage",
)


def test_the_byte_prefilter_passes_every_run_the_category_words_would_find_something_in():
    """binary_strings drops a run WANTED_BYTES finds nothing in before decoding it: a miss there would
    drop a limit line from the audit without a word."""
    for phrase in WANTED_PHRASES:
        assert WANTED.search(phrase), phrase
        raw = b"\x01-- " + phrase.encode() + b" --\x01"  # a run is 8 bytes or more
        assert WANTED_BYTES.search(raw.lower()), phrase
        assert list(binary_strings(raw, WANTED, WANTED_BYTES)) == list(binary_strings(raw, WANTED)) != [], phrase
    assert list(binary_strings(BINARY, WANTED, WANTED_BYTES)) == list(binary_strings(BINARY, WANTED))
    assert not WANTED_BYTES.search(b"hitherto the limes and posts; a $ sign")


def test_python_literals_give_an_fstring_as_one_template():
    found = list(python_literals(PYTHON))
    assert f"You exceeded your current quota for {SLOT}, {SLOT} tokens used." in found
    assert list(python_literals("def broken(:\n")) == []


def test_code_and_help_text_are_not_listed_but_prose_is():
    assert candidate_lines("limit = parsedLimit;") == []
    assert candidate_lines("Usage: toy [options] <prompt>") == []
    assert candidate_lines("Line one\nRate limit exceeded. Try again later.") == [
        "Rate limit exceeded. Try again later."]


def test_slots_are_filled_so_a_signature_can_read_the_template():
    shown = renderings(f"You've hit your {SLOT} · resets {SLOT}")
    assert "You've hit your usage limit · resets 4pm" in shown


def test_audit_marks_each_kind_covered_and_the_rest_uncovered(tmp_path):
    rt = load_runtime("toy", _toy_team(tmp_path), generic=False)
    strings = [(s, "cli.js") for s in js_literals(JS_BUNDLE)] + [(s, "bin") for s in binary_strings(BINARY)]
    found = {f.text: f for f in audit(rt, strings)}
    hit = found[f"You've hit your {SLOT} · resets {SLOT}"]
    assert hit.covered and [(c.kind, c.id, c.how) for c in hit.covers] == [("rate_limit", "toy-hit", "match")]
    assert [c.id for c in found[f"Total cost: ${SLOT}"].covers] == ["toy-cost"]
    assert [c.kind for c in found["Approaching your usage limit"].covers] == ["ignore"]
    piece = found["You’ve hit your usage limit for . Switch to another model now,"]
    assert not piece.covered  # the model slot is invisible in Rust data: ". Switch" is not a model name
    blind = found["Session quota used up for today"]
    assert not blind.covered and [(c.id, c.keyword) for c in blind.covers] == [("toy-blind", False)]
    assert not found["Quota exceeded for this project."].covered and found["Quota exceeded for this project."].notice
    assert not found["Daily token budget exceeded."].covered
    assert "limit = parsedLimit;" not in found and "usage_limit_reached" not in found


def test_a_piece_open_at_its_end_is_covered_as_the_start_of_a_match(tmp_path):
    rt = load_runtime("toy", _toy_team(tmp_path), generic=False)
    (found,) = audit(rt, [("You’ve hit your usage limit for ", "bin")])
    assert found.covered and ("toy-model", "prefix") in [(c.id, c.how) for c in found.covers]
    (closed,) = audit(rt, [("You’ve hit your usage limit for", "bin")])
    assert not closed.covered


def test_audit_command_reads_a_package_folder_and_a_binary(tmp_path):
    team = _toy_team(tmp_path)
    pkg = tmp_path / "pkg"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "dist" / "cli.js").write_text(JS_BUNDLE, encoding="utf-8")
    (pkg / "toy_py").mkdir()
    (pkg / "toy_py" / "warn.py").write_text(PYTHON, encoding="utf-8")
    (pkg / "bin").mkdir()
    (pkg / "bin" / "toy").write_bytes(BINARY)
    (pkg / "README.md").write_text("Quota exceeded in the docs is not read.\n")
    done = _audit(tmp_path, "toy", str(pkg), "--json", "-C", str(team.parent))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["files"] == 3
    strings = _by_text(report)
    assert strings["You've hit your {…} · resets {…}"]["covered"] is True
    assert strings["You've hit your {…} · resets {…}"]["where"] == "dist/cli.js"
    assert strings["You exceeded your current quota for {…}, {…} tokens used."]["covered"] is False
    assert strings["You exceeded your current quota for {…}, {…} tokens used."]["where"] == "toy_py/warn.py"
    assert strings["Daily token budget exceeded."]["where"] == "bin/toy"
    assert not any("docs" in t for t in strings)
    assert report["summary"]["quota"]["uncovered"] >= 2

    text = _audit(tmp_path, "toy", str(pkg / "bin" / "toy"), "--uncovered", "-C", str(team.parent))
    assert text.returncode == 0, text.stderr
    assert "UNCOVERED quota Daily token budget exceeded." in text.stdout
    assert not any(line.startswith("covered") for line in text.stdout.splitlines())


def test_audit_command_names_a_missing_path_and_exits_2(tmp_path):
    done = _audit(tmp_path, "codex", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "nowhere: no such file or directory" in done.stderr


def test_audit_of_the_pinned_gemini_bundle_covers_its_real_limit_lines(tmp_path):
    pin = pins()["gemini"]
    package = cache_dir() / f"gemini@{pin['version']}" / "node_modules" / "@google" / "gemini-cli"
    assert package.is_dir(), f"gemini {pin['version']} is not installed: run python3 tests/realcli/install.py"
    done = _audit(tmp_path, "gemini", str(package), "--json")
    assert done.returncode == 0, done.stderr
    strings = _by_text(json.loads(done.stdout))
    # @google/gemini-cli 0.61.0: the usage-limit dialog and the daily quota error
    usage = strings["Usage limit reached for {…}."]
    assert usage["covered"] and any(c["kind"] == "rate_limit" for c in usage["covers"])
    daily = strings["You have exhausted your daily quota on this model."]
    assert daily["covered"] and any(c["kind"] == "rate_limit" for c in daily["covers"])
