"""Re-record the Claude Code fixtures: `python3 tests/realcli/capture_claude.py VERSION SCENARIO... [--size WxH]`.

Each TUI scenario runs the real CLI under record.py in a private tmux pane (claude.Pane) against the
fake API and writes tests/fixtures/real_cli/claude-<version>/<name>.jsonl (byte-timed pty output) and
<name>[.<stage>].screen.txt (`tmux capture-pane -p`). A size other than 80x24 adds `-<W>x<H>` to the
name. Scenarios: trust-dialog exchange limit prose-limit-talk usage-warning continue headless hooks.
The limit scenario waits for the reset to pass (2.1.333 retries by itself up to ~2 minutes later).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realcli import claude  # noqa: E402
from realcli.fakeapi import FakeAPI  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real_cli"
REPLY = "Hello from the fake API."
PROSE = ("You've hit your usage limit · resets 3pm (UTC). Just kidding: I am the model, and this is my reply "
         "about rate limits.")


def _log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def _unaligned(seconds_from_now: float) -> float:
    """A reset instant `seconds_from_now` ahead that is 0.4 s past a second, never within 5 s of a minute."""
    reset = time.time() + seconds_from_now
    if int(reset) % 60 < 5:
        reset += 7
    return int(reset) + 0.4


class Session:
    def __init__(self, version: str, name: str, size: tuple[int, int], root: Path, reply: str = REPLY,
                 trust: bool = True):
        self.version, self.size = version, size
        self.name = name if size == (80, 24) else f"{name}-{size[0]}x{size[1]}"
        self.api = FakeAPI(reply_text=reply).start()
        self.home = root / self.name
        self.env = claude.prepare(self.home, self.api.base_url, version, trust=trust)
        self.out = FIXTURES / f"claude-{version}"
        self.out.mkdir(parents=True, exist_ok=True)
        self.pane: claude.Pane | None = None

    def start(self, *args: str, name: str | None = None) -> claude.Pane:
        self.pane = claude.Pane(claude.argv(self.version, *args), self.env, self.home / "work",
                                self.out / f"{name or self.name}.jsonl", self.size)
        self.pane.wait_for("Yes, I trust this folder" if not self._trusted() else "Claude Code v", 30)
        time.sleep(1.5)  # let the first frame settle before typing (the prompt drops early keys)
        return self.pane

    def _trusted(self) -> bool:
        cfg = json.loads((self.home / ".claude.json").read_text())
        return all(p.get("hasTrustDialogAccepted") for p in cfg["projects"].values())

    def snap(self, stage: str = "") -> str:
        assert self.pane
        s = self.pane.screen()
        (self.out / f"{self.name}{'.' + stage if stage else ''}.screen.txt").write_text(s)
        return s

    def prompt(self, text: str) -> None:
        assert self.pane
        self.pane.type(text)
        time.sleep(0.3)
        self.pane.send("Enter")

    def exit(self) -> str:
        """Type /exit; the screen after the CLI ended (the pane stays, running `sleep`), then close."""
        assert self.pane
        self.prompt("/exit")
        time.sleep(2.5)
        last = self.pane.screen()
        self.pane.close()
        return last

    def requests(self) -> list[dict[str, object]]:
        return [{"t": r.t, "path": r.path, "status": r.status, "answered": r.answered} for r in self.api.requests]


def trust_dialog(s: Session) -> None:
    p = s.start()
    if s.version != "2.1.197":  # "No, exit" is selected first; digits are not bound
        deadline = time.monotonic() + 10
        while "❯ Yes, I trust this folder" not in p.screen():
            assert time.monotonic() < deadline, p.screen()
            p.send("Down")
            time.sleep(0.3)
    if s.version != "2.1.197":
        s.snap("yes-selected")
    p.send("Enter")
    p.wait_for("Claude Code v", 20)
    time.sleep(1.5)
    s.snap()
    p.close()


def exchange(s: Session) -> None:
    p = s.start()
    s.prompt("hi")
    p.wait_for(REPLY, 20)
    time.sleep(1)
    s.snap()
    s.prompt("/cost")
    p.wait_for("cost:", 10)
    time.sleep(1)
    s.snap("cost")
    p.send("Escape")
    time.sleep(0.8)
    (s.out / f"{s.name}.exit.screen.txt").write_text(s.exit())


def limit(s: Session, wait: float = 40.0, watch: float = 240.0) -> None:
    p = s.start()
    reset = _unaligned(wait)
    s.api.set_limit("usage_limit", reset, claim="five_hour")
    _log("reset at", time.strftime("%H:%M:%S", time.gmtime(reset)), "UTC")
    s.prompt("hi")
    p.wait_for("hit your", 15)
    time.sleep(2)
    s.snap()
    if s.version == "2.1.197":
        p.wait_for("What do you want to do?", 10)
        s.snap("menu")
        p.send("Enter")  # item 1, selected: "Stop and wait for limit to reset"
        time.sleep(1.5)
        s.snap("menu-answered")
    deadline = reset + watch
    while time.time() < deadline and not s.api.answered_ok():
        time.sleep(0.5)
    time.sleep(2)
    s.snap("after-reset")
    if not s.api.answered_ok():  # 2.1.197 waits for the user
        s.prompt("continue")
        p.wait_for(REPLY, 20)
        time.sleep(1)
        s.snap("continue")
    (s.out / f"{s.name}.requests.json").write_text(json.dumps({"reset_at": reset, "requests": s.requests()}, indent=1))
    s.exit()


def prose_limit_talk(s: Session) -> None:
    p = s.start()
    s.prompt("hi")
    p.wait_for("Just kidding", 20)
    time.sleep(2)
    s.snap()
    s.exit()


def usage_warning(s: Session) -> None:
    s.api.anthropic_warning = {"window": "5h", "utilization": 0.91, "reset": int(time.time() + 7200) // 60 * 60 + 23}
    p = s.start()
    s.prompt("hi")
    p.wait_for(REPLY, 20)
    time.sleep(2)
    s.prompt("hi again")
    time.sleep(4)
    s.snap()
    s.exit()


def continue_(s: Session) -> None:
    s.api.set_limit("usage_limit", _unaligned(3600 + 20), claim="five_hour")
    p = s.start(name=f"{s.name}-setup")
    s.prompt("hi")
    p.wait_for("hit your", 15)
    time.sleep(1)
    if s.version == "2.1.197":
        p.wait_for("What do you want to do?", 10)
        p.send("Enter")
        time.sleep(1)
    s.exit()
    (s.out / f"{s.name}-setup.jsonl").unlink()
    sid = Path(sorted(glob.glob(str(s.home / ".claude/projects/*/*.jsonl")), key=os.path.getmtime)[-1]).stem
    s.api.clear_limit()
    before = len(s.api.requests)
    for scen, args in (("continue", ["--continue"]), ("resume", ["--resume", sid])):
        name = scen if s.size == (80, 24) else f"{scen}-{s.size[0]}x{s.size[1]}"
        p = s.start(*args, name=name)
        time.sleep(2)
        (s.out / f"{name}.screen.txt").write_text(p.screen())
        s.exit()
    assert len(s.api.requests) == before, "the replay made a request"


def headless(s: Session) -> None:
    d = s.out / "headless"
    d.mkdir(exist_ok=True)
    for lim in (False, True):
        if lim:
            reset = int(time.time() + 3 * 3600) // 60 * 60 + 37.6
            s.api.set_limit("usage_limit", reset, claim="five_hour")
        for name, extra, ext in (("print", [], "txt"), ("print-json", ["--output-format", "json"], "json"),
                                 ("print-stream-json", ["--output-format", "stream-json", "--verbose"], "jsonl")):
            p = subprocess.run(claude.argv(s.version, "-p", "hi", *extra), env=s.env, cwd=s.home / "work",
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            stem = f"{name}{'-limit' if lim else ''}"
            (d / f"{stem}.stdout.{ext}").write_text(p.stdout)
            (d / f"{stem}.stderr.txt").write_text(p.stderr)
            meta: dict[str, object] = {"argv": ["claude", "-p", "hi", *extra], "exit_code": p.returncode}
            if lim:
                meta.update(reset_at=reset, reset_utc=time.strftime("%H:%M:%S", time.gmtime(reset)))
            (d / f"{stem}.meta.json").write_text(json.dumps(meta))


def hooks(s: Session) -> None:
    d = s.out / "channels"
    d.mkdir(exist_ok=True)
    dump = s.home / "dump.sh"
    dump.write_text('#!/bin/sh\ncat > "$HOME/hook-$1.json"\n')
    dump.chmod(0o755)
    settings = {"hooks": {
        "StopFailure": [{"matcher": "rate_limit", "hooks": [{"type": "command", "command": f"{dump} StopFailure"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": f"{dump} Stop"}]}],
        "SessionEnd": [{"hooks": [{"type": "command", "command": f"{dump} SessionEnd"}]}],
    }}
    for lim in (False, True):
        if lim:
            s.api.set_limit("usage_limit", time.time() + 3600 + 13.2, claim="five_hour")
        subprocess.run(claude.argv(s.version, "--settings", json.dumps(settings), "-p", "hi"), env=s.env,
                       cwd=s.home / "work", capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        for ev in ("Stop", "StopFailure", "SessionEnd"):
            f = s.home / f"hook-{ev}.json"
            if f.exists():
                payload = json.loads(f.read_text())
                (d / f"hook-{ev}.stdin.json").write_text(json.dumps(payload, indent=4))
                if ev in ("Stop", "StopFailure"):
                    name = "transcript-limit.jsonl" if lim else "transcript.jsonl"
                    shutil.copy(payload["transcript_path"], d / name)
                f.unlink()


SCENARIOS = {"trust-dialog": trust_dialog, "exchange": exchange, "limit": limit, "prose-limit-talk": prose_limit_talk,
             "usage-warning": usage_warning, "continue": continue_, "headless": headless, "hooks": hooks}


def main(argv: list[str]) -> None:
    size = (80, 24)
    if "--size" in argv:
        i = argv.index("--size")
        w, h = argv[i + 1].split("x")
        size = (int(w), int(h))
        del argv[i:i + 2]
    version, *names = argv
    with tempfile.TemporaryDirectory(prefix="cc-capture-") as root:
        for name in names or list(SCENARIOS):
            _log(version, name, size)
            s = Session(version, name, size, Path(root), reply=PROSE if name == "prose-limit-talk" else REPLY,
                        trust=name != "trust-dialog")
            try:
                SCENARIOS[name](s)
            finally:
                if s.pane:
                    s.pane.close()
                s.api.stop()
            _log(version, name, "requests:", [(r["status"], r["answered"]) for r in s.requests()])


if __name__ == "__main__":
    main(sys.argv[1:])
