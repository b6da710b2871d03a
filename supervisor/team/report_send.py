"""`teamctl report --send`: the report through the `budget.on_report` hooks, the same send, webhook
and run hooks a rate-limit hit runs. A send or webhook hook whose `text` does not place `{report}`
or `{report_markdown}` (the rate-limit wording, say) sends the plain report as its text (for a
webhook, the body's `text`: what Slack's incoming webhooks read).
"""

from __future__ import annotations

import dataclasses
import time

from ..agent.hooks import HookResult, HookRunner
from .compose import HookSpec, Team
from .loading import store
from .morning_report import TeamReport, as_markdown, as_text


def send_report(team: Team, rep: TeamReport) -> list[HookResult]:
    chain = team.budget.on_report
    hooks = {h.name: h if _places_report(h) else dataclasses.replace(h, text="{report}")
             for h in team.rate_limits.hooks if h.name}
    values = {"agent": "team", "project": "", "runtime": "", "report": as_text(rep),
              "report_markdown": as_markdown(rep), "since": rep.since, "until": rep.until,
              "spend_usd": rep.spend, "needs": len(rep.needs), "raw_match": "", "resets_at_local": ""}
    with store(team) as st:
        def send(recipient: str, text: str) -> None:
            project = recipient.split(":", 1)[0] if ":" in recipient else ""
            st.send_message(project, "cli", recipient, text, time.time())

        return HookRunner(hooks, send=send).run_chain(chain, values)


def _places_report(hook: HookSpec) -> bool:
    return hook.action not in ("send", "webhook") or "{report" in (hook.text or "")
