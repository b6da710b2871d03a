"""Part of examples/demo.sh: print the team's state as it changes until a rate limit has been hit,
waited out and every agent runs again (or 90 s pass: exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime


def teamctl(*args: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "--json"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def main() -> int:
    deadline = time.monotonic() + 90
    last = ""
    explained = False
    hits: list[dict] = []
    seen: list[tuple[str, str]] = []
    while time.monotonic() < deadline:
        agents = teamctl("status")
        states = [(a["id"], a["state"]) for a in agents]
        if states != seen or not hits or not all(h["handled"] for h in hits):
            hits = teamctl("rate-limits")  # asked again only when something may have changed
            seen = states
        now = time.time()
        parts = []
        for a in agents:
            text = a["text"]
            if a.get("until") and a["state"] in ("rate_limited", "backing_off", "paused_budget"):
                text += f" (in {max(a['until'] - now, 0):.0f}s)"
            parts.append(f"{a['id']}: {text}")
        line = f"{time.strftime('%H:%M:%S')}  " + " | ".join(parts) + f" | hits: {len(hits)}"
        if line[10:] != last:
            print(line, flush=True)
            last = line[10:]
        if not explained:
            explained = _explain_margin(agents, hits)
        done = hits and all(h["handled"] for h in hits) and all(
            a["state"] == "running" and (a["uptime_seconds"] or 0) >= 2.5 for a in agents)  # resumed work done
        if done:
            return 0
        time.sleep(0.25)  # the wait is seconds long: a busy machine must still see it
    print("demo: the team did not get past its rate limit within 90 s", file=sys.stderr)
    return 1


def _explain_margin(agents: list[dict], hits: list[dict]) -> bool:
    """Say once why the countdown ends later than the reset `teamctl rate-limits` shows."""
    resets = {h["agent"]: datetime.fromisoformat(h["resets_at"]).timestamp() for h in hits if h.get("resets_at")}
    for a in agents:
        if a["state"] == "rate_limited" and a.get("until") and a["id"] in resets:
            margin = a["until"] - resets[a["id"]]
            print(f"demo: the countdown runs to the reset plus the margin (rate_limits.margin_seconds, here "
                  f"{int(margin + 0.001)}s), so it ends that much after the RESETS time the rate-limits table shows",
                  flush=True)
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
