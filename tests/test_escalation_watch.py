"""The escalation under a real `teamctl rl-watch` on the fake runtime (issue 22 item 2): a CLI that
says nothing after its resume is typed continue, then respawned into its own session, then marked
`stuck` with the reason; one that answers after the respawn is "resumed", said once, on evidence."""

from __future__ import annotations

from pathlib import Path

from watchkit import rows, runs, start, state, wait_for

LIMIT = "1@print:session limit hit, you can continue at in 1s"  # resumed in place at the reset


def _quick_deadline(root: Path) -> None:
    """The root's fake descriptor: a 2 s deadline, and a resume that prints nothing by itself."""
    desc = root / "runtimes" / "fake.toml"
    text = desc.read_text().replace('resume_args = ["print:resumed-session"]',
                                    'resume_args = []\nresume_deadline_seconds = 2')
    assert "resume_deadline_seconds = 2" in text
    desc.write_text(text)


def test_a_silent_cli_is_typed_continue_then_respawned_then_stuck(root, watchers):
    _quick_deadline(root)
    w = start(watchers, root, [LIMIT, "hang"], "--margin", "0.2", "--restart", "on-failure")
    st = wait_for(lambda: (s := state(root)) is not None and s["state"] == "stuck" and s, 60, what="stuck")
    assert st["detail"] == "stuck: no model turn after typing continue and a respawn (2s each)"
    out = w.output()
    typed, respawned, stuck = (out.find(t) for t in ("no model turn 2s after the resume: typing",
                                                     "respawning into its own session", "stuck: no model turn"))
    assert 0 <= typed < respawned < stuck, out
    assert "continue" in out[typed:respawned].split("typing the continue keys", 1)[1]  # the pty echoed them
    assert runs(root) == 2  # one respawn, then no loop
    assert "resumed the session" not in out  # our typed keys echoed back are no model turn
    assert rows(root, "SELECT handled_at FROM rate_limits")[0]["handled_at"] is not None


def test_a_cli_that_answers_after_the_respawn_is_resumed_once(root, watchers):
    _quick_deadline(root)
    steps = [LIMIT, "2@sleep:0.5", "2@print:the model answers: refactored the parser", "hang"]
    w = start(watchers, root, steps, "--margin", "0.2", "--restart", "on-failure")
    wait_for(lambda: "resumed the session: model turn seen (screen)" in w.output(), 60, what="resumed")
    st = state(root)
    assert st["state"] == "running" and st["restarts"] == 1
    assert w.output().count("resumed the session") == 1
    assert "stuck" not in w.output()
