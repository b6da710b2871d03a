#!/usr/bin/env python3
"""A fake agent CLI for tests: prints like a real one, hits limits, exits, ignores SIGTERM, forks.

Each argument is one step, run in order:
  print:TEXT        write TEXT and a newline (backslash escapes such as \\x1b and \\u2019 decoded)
  write:TEXT        write TEXT with no newline
  bytes:HEX         write raw bytes (e.g. invalid UTF-8)
  sleep:SECONDS     sleep
  exit:CODE         exit with CODE
  ignore-term       ignore SIGTERM from now on
  fork:OPTS         fork a grandchild that sleeps forever; OPTS: comma list of setsid, ignore-term
  pidfile:PATH      append our pid (and forked grandchildren's) to PATH
  echo-input        read one line from the terminal and print "got: LINE"
  hang              sleep until killed
  costs:N:SECONDS   N cost lines, one every SECONDS; line k adds k cents (its total is k(k+1)/2 cents)
                    and is followed by "tick k EPOCH" (when it was printed), so a row names its line
  N@STEP            run STEP only on run N (runs are counted in $FAKE_RUNS_FILE)
  !N@STEP           run STEP on every run except N
"""

import codecs
import os
import signal
import sys
import time


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def decode(text: str) -> str:
    return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")


def count_run() -> int:
    path = os.environ.get("FAKE_RUNS_FILE")
    if not path:
        return 1
    try:
        with open(path) as fh:
            n = int(fh.read().strip() or 0) + 1
    except FileNotFoundError:
        n = 1
    with open(path, "w") as fh:
        fh.write(str(n))
    return n


#: a real CLI's session options (Claude Code's `--session-id ID`, `--resume ID`), which a watcher adds
#: to the argv of a runtime that names sessions: taken, and left out of the steps
SESSION_OPTIONS = ("--session-id", "--resume", "--session", "--chat-history-file", "--input-history-file")
#: ... and the flags among them that take no value (aider's, on a resume)
SESSION_FLAGS = ("--restore-chat-history",)


def without_session_options(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in SESSION_OPTIONS:
            skip = True
        elif arg not in SESSION_FLAGS:
            out.append(arg)
    return out


def main(steps: list[str]) -> int:
    steps = without_session_options(steps)
    run = count_run()
    pidfile = None
    for step in steps:
        if "@" in step.split(":", 1)[0]:
            cond, step = step.split("@", 1)
            negate = cond.startswith("!")
            wanted = int(cond.lstrip("!"))
            if (run == wanted) == negate:
                continue
        kind, _, arg = step.partition(":")
        if kind == "print":
            out(decode(arg) + "\n")
        elif kind == "write":
            out(decode(arg))
        elif kind == "bytes":
            sys.stdout.flush()
            os.write(1, bytes.fromhex(arg))
        elif kind == "sleep":
            time.sleep(float(arg))
        elif kind == "exit":
            return int(arg)
        elif kind == "ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif kind == "pidfile":
            pidfile = arg
            with open(arg, "a") as fh:
                fh.write(f"{os.getpid()}\n")
        elif kind == "fork":
            opts = arg.split(",") if arg else []
            pid = os.fork()
            if pid == 0:
                if "setsid" in opts:
                    os.setsid()
                if "ignore-term" in opts:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                if pidfile:
                    with open(pidfile, "a") as fh:
                        fh.write(f"{os.getpid()}\n")
                while True:
                    time.sleep(3600)
            time.sleep(0.05)
        elif kind == "echo-input":
            line = sys.stdin.readline()
            out(f"got: {line.strip()}\n")
        elif kind == "costs":
            count, every = arg.split(":")
            for k in range(1, int(count) + 1):
                out(f"session cost: ${k * (k + 1) / 200:.2f} (1k in, 10 out)\ntick {k} {time.time():.3f}\n")
                time.sleep(float(every))
        elif kind == "hang":
            while True:
                time.sleep(3600)
        else:
            out(f"fake_agent: unknown step {step!r}\n")
            return 99
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
