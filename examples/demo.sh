#!/usr/bin/env bash
# The bundled demo team, end to end, no API keys: two agents on a demo CLI that hits a usage limit
# a few seconds in. teamctl starts them, records the limit, pauses both (they share one account),
# counts down to the reset, respawns them, records their cost, shows status, rate-limits and budget,
# and stops the team. About 30 seconds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 -c 'import supervisor.cli' 2>/dev/null || python3 -m pip install -q -e "$here/.."
team="$here/demo-team"
export PATH="$team/bin:$PATH" TEAMCTL_ROOT="$team/.team"
tc() { python3 -m supervisor "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rm -rf "$team/.team/state"
trap 'tc down >/dev/null 2>&1 || true' EXIT

step "teamctl up"
tc up
step "watching: a limit is hit, recorded, waited out and the agents respawned"
python3 "$here/demo_watch.py"
step "teamctl status"
tc status
step "teamctl rate-limits"
tc rate-limits
step "teamctl budget"
tc budget --since today
step "teamctl down"
tc down
trap - EXIT
