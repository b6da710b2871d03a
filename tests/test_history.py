"""core/history.py: a watcher's `state ...` log lines as timeline segments, totals and counts."""

from __future__ import annotations

from datetime import datetime

from teamctl_supervisor.core.history import crashes, parse_transitions, segments, spend_buckets, stalls, totals

LOG = """\
2026-12-07 01:00:00,001 INFO teamctl_supervisor.agent.watch: state starting
2026-12-07 01:00:01,002 INFO teamctl_supervisor.agent.watch: state running
2026-12-07 01:10:00,000 INFO teamctl_supervisor.agent.watch: rate limit hit (usage-limit, stop): state of things
2026-12-07 01:10:01,000 INFO teamctl_supervisor.agent.watch: state rate_limited until 02:00 Etc/UTC (waiting in place)
2026-12-07 02:00:00,000 INFO teamctl_supervisor.agent.watch: state running (resuming)
2026-12-07 02:30:00,000 INFO teamctl_supervisor.agent.watch: state running (stalled 600s: no output)
2026-12-07 02:40:00,000 INFO teamctl_supervisor.agent.watch: state backing_off until 02:41:00 (backing off (1))
2026-12-07 02:41:00,000 INFO teamctl_supervisor.agent.watch: state paused_budget until 00:00
2026-12-07 03:00:00,000 INFO teamctl_supervisor.agent.watch: state stopped
garbage line mentioning state running
"""


def ts(hms: str) -> float:
    return datetime.strptime(f"2026-12-07 {hms}", "%Y-%m-%d %H:%M:%S").timestamp()


def test_state_lines_become_segments_with_their_reasons():
    moves = parse_transitions(LOG.splitlines())
    assert [m.state for m in moves] == ["starting", "running", "rate_limited", "running", "running", "backing_off",
                                        "paused_budget", "stopped"]
    assert moves[2].detail == "waiting in place" and moves[3].detail == "resuming"
    segs = segments(moves, ts("01:05:00"), ts("04:00:00"))
    assert [(s.kind, s.detail) for s in segs] == [
        ("running", None), ("rate_limited", "waiting in place"), ("running", "resuming"),
        ("stalled", "stalled 600s: no output"), ("backing_off", "backing off (1)"), ("paused", None)]
    assert segs[0].start == ts("01:05:00")  # clipped to the window
    assert segs[-1].end == ts("03:00:00")  # a stopped agent's time is not drawn
    t = totals(segs)
    assert t["running"] == 5 * 60 + 1 + 30 * 60 and t["stalled"] == 600 and t["paused"] == 19 * 60
    assert crashes(moves, 0) == 1 and stalls(moves, 0) == 1 and crashes(moves, ts("02:45:00")) == 0


def test_spend_falls_into_its_hour():
    assert spend_buckets([(100.0, 1.0), (3700.0, 0.5), (3800.0, 0.25), (99999.0, 9.0), (50.0, 3.0)], 100.0, 3600.0,
                         2) == [1.0, 0.75]


def test_a_wait_shorter_than_its_second_keeps_its_milliseconds():
    """A one-second wait logged late (the runtime was slow to stop) shares its second with the next
    state: at whole seconds it would last nothing and vanish from the report."""
    moves = parse_transitions([
        "2026-12-07 01:00:01,950 INFO teamctl_supervisor.agent.watch: state rate_limited until 01:00 Etc/UTC",
        "2026-12-07 01:00:02,339 INFO teamctl_supervisor.agent.watch: state starting",
        "2026-12-07 01:00:02,5 INFO teamctl_supervisor.agent.watch: state running"])
    assert [round(m.at - ts("01:00:00"), 3) for m in moves] == [1.95, 2.339, 2.5]
    t = totals(segments(moves, 0, ts("01:00:03")))
    assert round(t["rate_limited"], 3) == 0.389 and round(t["running"], 3) == 0.5
