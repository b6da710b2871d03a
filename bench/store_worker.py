#!/usr/bin/env python3
"""One writer of the store-contention figure: waits for the GO file, then records rate-limit and budget
rows alternately through supervisor.store.Store until the deadline written in GO. Prints one JSON line:
attempted, ok (committed at once), spooled (returned False), errors (raised), replayed (spool empty at end).

    store_worker.py MAILBOX GO_FILE INDEX DURATION
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teamctl_supervisor.store.mailbox import Store  # noqa: E402


def main() -> int:
    mailbox, go, idx, duration = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    store = Store(mailbox, mailbox.parent / "spool", f"bench-{idx}")
    store.conn()
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    start = float(go.read_text() or time.time())
    end = start + duration
    attempted = ok = spooled = errors = 0
    agent = f"bench:w{idx:02d}"
    while time.time() < end:
        now = time.time()
        attempted += 1
        try:
            if attempted % 2:
                done = store.record_rate_limit(agent, "bench", now, now + 60, f"limit {idx} {attempted}")
            else:
                done = store.record_budget("bench", agent, "bench", 0.01, 100, 10, now)
        except Exception:  # counted, never hidden
            errors += 1
            continue
        ok += bool(done)
        spooled += not done
    replayed = store.replay_spool()
    store.close()
    print(json.dumps({"attempted": attempted, "ok": ok, "spooled": spooled, "errors": errors,
                      "replayed": replayed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
