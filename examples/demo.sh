#!/usr/bin/env bash
# The bundled demo team, end to end, no API keys: two agents on a demo CLI that hits a usage limit
# a few seconds in. teamctl starts them, records the limit, pauses both (they share one account),
# counts down to the reset, respawns them, records their cost, shows status, rate-limits and budget,
# and stops the team. About 30 seconds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Use the Python that already has teamctl (a venv of yours, or the repo's .venv); else make .venv
# beside the repo and install there: a system Python that refuses pip (PEP 668) is never touched.
py=python3
if ! "$py" -c 'import teamctl_supervisor.cli' 2>/dev/null; then
    py="$here/../.venv/bin/python"
    if ! "$py" -c 'import teamctl_supervisor.cli' 2>/dev/null; then
        [ -x "$py" ] || python3 -m venv "$here/../.venv"
        "$py" -m pip install -q -e "$here/.."
    fi
fi
team="$here/demo-team"
export PATH="$team/bin:$PATH" TEAMCTL_ROOT="$team/.team"
tc() { "$py" -m teamctl_supervisor "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$team/.team/state"
trap 'tc down >/dev/null 2>&1 || true' EXIT

step "teamctl up"
tc up
step "watching: a limit is hit, recorded, waited out and the agents respawned"
"$py" "$here/demo_watch.py"
step "teamctl status"
tc status
step "teamctl rate-limits"
tc rate-limits
step "teamctl budget"
tc budget --since today
step "teamctl down"
tc down
trap - EXIT
