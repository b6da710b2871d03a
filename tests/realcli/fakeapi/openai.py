"""The fake API's OpenAI Responses protocol, as Codex CLI (@openai/codex 0.171.0) speaks it.

Codex is pointed here by a `[model_providers.<id>]` entry whose `base_url` is `<api.base_url>/v1`
and `wire_api = "responses"` (see tests/realcli/codex.py); it then POSTs `/v1/responses` (stream).

Routes:
- POST /v1/responses (also /responses): a normal answer is `api.reply_text` as a server-sent event
  stream `response.created`, `response.in_progress`, `response.output_item.added`,
  `response.content_part.added`, `response.output_text.delta` (one per word),
  `response.output_text.done`, `response.content_part.done`, `response.output_item.done`,
  `response.completed`. The completed event carries the usage of `api.usage`: input_tokens = input +
  cache_read (OpenAI counts cached tokens inside input_tokens), input_tokens_details.cached_tokens =
  cache_read, output_tokens = output, total_tokens = the sum. With the default usage Codex prints
  "Token usage: total=1,090 input=1,034 (+ 200 cached) output=56".
  Each normal answer also carries the rate-limit window headers Codex reads (codex-api
  `parse_rate_limit`): `x-codex-primary-used-percent`, `x-codex-primary-window-minutes`,
  `x-codex-primary-reset-at` (epoch seconds) and the same with `secondary`, from `api.codex_windows`
  (a test may replace it; None sends none).
- GET /v1/models is left to chat.py's model list (Codex asks it only for its own OpenAI provider).

Limits (`api.set_limit(kind, reset_at, **extra)`), in the shapes Codex 0.171.0 tells apart:
  usage_limit  HTTP 429 {"error": {"type": "usage_limit_reached", "plan_type": <extra plan_type,
               default "plus">, "resets_at": <epoch seconds>, "resets_in_seconds": <int>, ...}} with
               the windows headers at 100 % used (primary resets at the limit's reset);
  rate_limit   HTTP 429 {"error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded", ...}}
               with retry-after (Codex retries these itself, up to the provider's request_max_retries);
  quota        HTTP 429 {"error": {"type": "insufficient_quota", "code": "insufficient_quota", ...}};
  overload     HTTP 503 {"error": {"type": "server_is_overloaded", "code": "server_is_overloaded", ...}}
               (extra status= replaces the HTTP status).
Extras: plan_type=, status=, message=, headers= (added to the limit answer).
"""

from __future__ import annotations

import itertools
import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Exchange, FakeAPI

_ids = itertools.count(1)

#: default windows sent with each normal answer: a 5 h primary and a weekly secondary, lightly used
DEFAULT_WINDOWS: dict[str, dict[str, float]] = {
    "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_in": 3 * 3600 + 17 * 60 + 29},
    "secondary": {"used_percent": 4.0, "window_minutes": 10080, "resets_in": 4 * 86400 + 5 * 3600 + 31},
}


def _usage(api: FakeAPI) -> dict[str, Any]:
    u = api.usage
    cached = u.get("cache_read", 0)
    inp = u.get("input", 0) + cached
    out = u.get("output", 0)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": inp + out,
    }


def window_headers(windows: dict[str, dict[str, float]] | None, now: float | None = None) -> dict[str, str]:
    """`x-codex-<primary|secondary>-*` headers for windows {"primary": {used_percent, window_minutes,
    resets_in (s from now) or reset_at (epoch)}, ...}."""
    if not windows:
        return {}
    now = time.time() if now is None else now
    h: dict[str, str] = {}
    for name in ("primary", "secondary"):
        w = windows.get(name)
        if not w:
            continue
        reset = w.get("reset_at") or now + float(w.get("resets_in", 3600))
        h[f"x-codex-{name}-used-percent"] = f"{float(w.get('used_percent', 0)):g}"
        h[f"x-codex-{name}-window-minutes"] = str(int(w.get("window_minutes", 300)))
        h[f"x-codex-{name}-reset-at"] = str(int(math.ceil(reset)))
    return h


def _common_headers() -> dict[str, str]:
    return {"x-request-id": f"req_fake{next(_ids):06d}", "openai-processing-ms": "12"}


def _limit_answer(ex: Exchange) -> bool:
    lim = ex.limit()
    if lim is None:
        return False
    now = time.time()
    reset = lim.reset_at if lim.reset_at is not None else now + 5 * 3600
    headers = _common_headers()
    body: dict[str, Any]
    if lim.kind == "usage_limit":
        status = int(lim.extra.get("status", 429))
        wins = dict(getattr(ex.api, "codex_windows", None) or DEFAULT_WINDOWS)
        wins["primary"] = dict(wins.get("primary") or DEFAULT_WINDOWS["primary"], used_percent=100.0, reset_at=reset)
        headers.update(window_headers(wins, now))
        body = {"error": {"type": "usage_limit_reached", "code": "usage_limit_reached",
                          "message": lim.extra.get("message", "The usage limit has been reached"),
                          "plan_type": lim.extra.get("plan_type", "plus"),
                          "resets_at": int(math.ceil(reset)),
                          "resets_in_seconds": max(0, int(math.ceil(reset - now)))}}
    elif lim.kind == "rate_limit":
        status = int(lim.extra.get("status", 429))
        wait = max(0.0, reset - now)
        headers["retry-after"] = str(max(1, int(math.ceil(wait))))
        headers["retry-after-ms"] = str(int(wait * 1000))
        body = {"error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded", "param": None,
                          "message": lim.extra.get("message", "Rate limit reached for gpt-5 on tokens per min "
                                                   f"(TPM): Limit 30000, Used 30000, Requested 1234. "
                                                   f"Please try again in {wait:.3f}s.")}}
    elif lim.kind == "quota":
        status = int(lim.extra.get("status", 429))
        body = {"error": {"type": "insufficient_quota", "code": "insufficient_quota", "param": None,
                          "message": lim.extra.get("message", "You exceeded your current quota, please check "
                                                   "your plan and billing details.")}}
    else:  # overload
        status = int(lim.extra.get("status", 503))
        body = {"error": {"type": "server_is_overloaded", "code": "server_is_overloaded", "param": None,
                          "message": lim.extra.get("message", "Our servers are currently overloaded. "
                                                   "Please try again later.")}}
    headers.update({k.lower(): str(v) for k, v in lim.extra.get("headers", {}).items()})
    ex.send_json(status, body, headers=headers, answered=lim.kind)
    return True


def _responses(ex: Exchange) -> None:
    if _limit_answer(ex):
        return
    api = ex.api
    body = ex.body if isinstance(ex.body, dict) else {}
    model = str(body.get("model") or "gpt-5")
    n = next(_ids)
    resp_id, item_id = f"resp_fake{n:06d}", f"msg_fake{n:06d}"
    text = api.reply_text
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    words = text.split(" ")
    chunks = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    seq = itertools.count()
    ev: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "sequence_number": next(seq), "response": base}),
        ("response.in_progress", {"type": "response.in_progress", "sequence_number": next(seq), "response": base}),
        ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                        "output_index": 0,
                                        "item": dict(item, status="in_progress", content=[])}),
        ("response.content_part.added", {"type": "response.content_part.added", "sequence_number": next(seq),
                                         "item_id": item_id, "output_index": 0, "content_index": 0,
                                         "part": {"type": "output_text", "text": "", "annotations": []}}),
    ]
    for c in chunks:
        ev.append(("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": next(seq),
                                                  "item_id": item_id, "output_index": 0, "content_index": 0,
                                                  "delta": c}))
    ev += [
        ("response.output_text.done", {"type": "response.output_text.done", "sequence_number": next(seq),
                                       "item_id": item_id, "output_index": 0, "content_index": 0, "text": text}),
        ("response.content_part.done", {"type": "response.content_part.done", "sequence_number": next(seq),
                                        "item_id": item_id, "output_index": 0, "content_index": 0,
                                        "part": {"type": "output_text", "text": text, "annotations": []}}),
        ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                       "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                "response": dict(base, status="completed", output=[item], usage=_usage(api))}),
    ]
    headers = {**_common_headers(), **window_headers(getattr(api, "codex_windows", None))}
    ex.send_sse(ev, headers=headers)


def register(api: FakeAPI) -> None:
    """Add this protocol's routes to `api`."""
    if not hasattr(api, "codex_windows"):
        api.codex_windows = DEFAULT_WINDOWS  # type: ignore[attr-defined]
    api.route("POST", r"(?:/v1)?/responses", _responses)
