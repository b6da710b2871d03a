"""The fake API's Anthropic Messages protocol, as Claude Code (2.1.197 and 2.1.333) speaks it.

Routes:
- POST /v1/messages: a normal answer (SSE when the body asks `stream: true`, else one JSON message)
  with `api.usage` as its token usage, or, while a limit is in force, the limit response:
  - "usage_limit" / "rate_limit": HTTP 429 with the subscriber ("unified") limit headers Claude Code
    reads: `anthropic-ratelimit-unified-status: rejected`, `...-unified-reset: <epoch seconds>`,
    `...-unified-representative-claim: <claim>` (limit.extra["claim"], default "five_hour"), plus the
    per-window `...-unified-5h-*` figures, and a `rate_limit_error` body;
  - "quota": HTTP 400 `invalid_request_error` "Your credit balance is too low ..." (API-key billing);
  - "overload": HTTP 529 `overloaded_error`.
- POST /v1/messages/count_tokens: a token count.
- Everything else Claude Code asks at start (OAuth profile, roles, settings, feature flags, metrics
  opt-out, ...): a minimal JSON answer, recorded as "other", so the CLI goes on.

Usage warnings: `api.anthropic_warning = {"window": "5h", "utilization": 0.91, "reset": <epoch>}`
(set by a test; None by default) adds to every normal answer the headers Claude Code 2.1.333 reads for
its "You've used 91% of your session limit · resets 3pm" notice:
`anthropic-ratelimit-unified-status: allowed_warning`, `...-unified-<window>-utilization`,
`...-unified-<window>-reset`, `...-unified-<window>-status: allowed_warning`,
`...-unified-<window>-surpassed-threshold`, and the representative claim.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Exchange, FakeAPI

_ids = itertools.count(1)

#: unified-limit claim -> the per-window header infix Claude Code 2.1.333 reads (`...-unified-5h-reset`)
WINDOW_OF_CLAIM = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d", "seven_day_sonnet": "7d"}
CLAIM_OF_WINDOW = {"5h": "five_hour", "7d": "seven_day"}


def _usage(api: FakeAPI) -> dict[str, int]:
    u = api.usage
    return {
        "input_tokens": u.get("input", 0),
        "output_tokens": u.get("output", 0),
        "cache_read_input_tokens": u.get("cache_read", 0),
        "cache_creation_input_tokens": u.get("cache_write", 0),
    }


def _model(ex: Exchange) -> str:
    body = ex.body if isinstance(ex.body, dict) else {}
    return str(body.get("model") or "claude-sonnet-4-5")


def _common_headers() -> dict[str, str]:
    return {"request-id": f"req_fake{next(_ids):06d}",
            "anthropic-organization-id": "00000000-0000-0000-0000-000000000000"}


def _warning_headers(api: FakeAPI) -> dict[str, str]:
    w = getattr(api, "anthropic_warning", None)
    if not w:
        return {}
    win = w.get("window", "5h")
    reset = int(math.ceil(w.get("reset") or time.time() + 3600))
    util = float(w.get("utilization", 0.91))
    h = {
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-reset": str(reset),
        "anthropic-ratelimit-unified-representative-claim": CLAIM_OF_WINDOW.get(win, "five_hour"),
        f"anthropic-ratelimit-unified-{win}-status": "allowed_warning",
        f"anthropic-ratelimit-unified-{win}-utilization": f"{util:.2f}",
        f"anthropic-ratelimit-unified-{win}-reset": str(reset),
        f"anthropic-ratelimit-unified-{win}-surpassed-threshold": str(w.get("threshold", 0.9)),
    }
    return h


RATE_LIMIT_MESSAGE = "This request would exceed your account's rate limit. Please try again later."
CREDIT_MESSAGE = ("Your credit balance is too low to access the Anthropic API. "
                  "Please go to Plans & Billing to upgrade or purchase credits.")


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _limit_answer(ex: Exchange) -> bool:
    """Send the limit response if a limit is in force; True when one was sent."""
    lim = ex.limit()
    if lim is None:
        return False
    headers = _common_headers()
    if lim.kind in ("usage_limit", "rate_limit"):
        claim = str(lim.extra.get("claim", "five_hour"))
        win = WINDOW_OF_CLAIM.get(claim, "5h")
        reset = lim.reset_at if lim.reset_at is not None else time.time() + 5 * 3600
        # Claude Code reads the reset as epoch seconds; it may carry a fraction (unaligned resets)
        reset_s = str(int(math.ceil(reset)))
        headers.update({
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": reset_s,
            "anthropic-ratelimit-unified-representative-claim": claim,
            f"anthropic-ratelimit-unified-{win}-status": "rejected",
            f"anthropic-ratelimit-unified-{win}-utilization": "1.0",
            f"anthropic-ratelimit-unified-{win}-reset": reset_s,
            "anthropic-ratelimit-unified-fallback": "unavailable",
            "anthropic-ratelimit-unified-overage-status": "rejected",
            "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
            "retry-after": str(max(1, int(math.ceil(reset - time.time())))),
        })
        headers.update({k.lower(): str(v) for k, v in lim.extra.get("headers", {}).items()})
        ex.send_json(429, _error("rate_limit_error", RATE_LIMIT_MESSAGE), headers=headers, answered=lim.kind)
    elif lim.kind == "quota":
        ex.send_json(400, _error("invalid_request_error", CREDIT_MESSAGE), headers=headers, answered=lim.kind)
    else:  # overload
        ex.send_json(529, _error("overloaded_error", "Overloaded"), headers=headers, answered=lim.kind)
    return True


def _messages(ex: Exchange) -> None:
    if _limit_answer(ex):
        return
    api = ex.api
    body = ex.body if isinstance(ex.body, dict) else {}
    text = api.reply_text
    model = _model(ex)
    usage = _usage(api)
    msg_id = f"msg_fake{next(_ids):06d}"
    headers = {**_common_headers(), **_warning_headers(api)}
    if not body.get("stream"):
        ex.send_json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                           "stop_sequence": None, "usage": usage}, headers=headers)
        return
    start_usage = dict(usage, output_tokens=1)
    words = text.split(" ")
    chunks = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]
    for c in chunks:
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": c}}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": usage["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    ex.send_sse(events, headers=headers)


def _count_tokens(ex: Exchange) -> None:
    body = ex.body if isinstance(ex.body, dict) else {}
    n = max(1, len(json.dumps(body.get("messages", []))) // 4)
    ex.send_json(200, {"input_tokens": n}, answered="other")


def _other(ex: Exchange) -> None:
    """Whatever else Claude Code asks (profile, roles, flags, metrics settings): a small, harmless answer."""
    path = ex.record.path
    if "profile" in path:
        obj: Any = {"account": {"uuid": "00000000-0000-0000-0000-000000000001", "email_address": "fake@example.invalid",
                                "full_name": "Fake", "display_name": "Fake", "has_claude_max": True,
                                "has_claude_pro": False},
                    "organization": {"uuid": "00000000-0000-0000-0000-000000000000", "name": "fake",
                                     "organization_type": "claude_max", "billing_type": "stripe_subscription",
                                     "rate_limit_tier": "default_claude_max_20x", "has_extra_usage_enabled": False}}
    elif "roles" in path:
        obj = {"organization_role": "admin", "workspace_role": None, "organization_name": "fake"}
    elif "metrics_enabled" in path:
        obj = {"metrics_logging_enabled": False}
    else:
        obj = {}
    ex.send_json(200, obj, answered="other")


def register(api: FakeAPI) -> None:
    """Add this protocol's routes to `api`."""
    if not hasattr(api, "anthropic_warning"):
        api.anthropic_warning = None  # type: ignore[attr-defined]
    api.route("POST", r"/v1/messages/count_tokens", _count_tokens)
    api.route("POST", r"/v1/messages", _messages)
    # only Claude Code's own /api/... paths: /v1/... belongs to the other protocol modules too
    api.route("*", r"/api/.*", _other)
