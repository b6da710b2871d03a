"""The fake API's OpenAI Chat Completions protocol (aider via litellm, qwen-code via the openai SDK).

Routes: POST /v1/chat/completions (also without the /v1 prefix), streaming SSE or one JSON body;
GET /v1/models (and /v1/models/<id>), answered with one model per name asked for so far.

A normal answer is `api.reply_text` with usage from `api.usage`: prompt_tokens = input +
cache_read (OpenAI counts cached tokens inside prompt_tokens), completion_tokens = output,
prompt_tokens_details.cached_tokens = cache_read. A stream carries that usage in a final chunk
with empty `choices` only when the request asks for it (stream_options.include_usage), as OpenAI does.

Limits, in OpenAI's own shapes (checked against what litellm 1.x inside aider-chat 0.86.2 and the
openai SDK inside @qwen-code/qwen-code 0.24.4 read: the HTTP status picks the error class, the body's
error.message is what is shown, error.code / error.type are kept):
  quota       429 {"error": {"code": "insufficient_quota", "type": "insufficient_quota", ...}}
  usage_limit the same as quota (neither CLI knows another shape for an OpenAI-compatible API)
  rate_limit  429 rate_limit_exceeded, with retry-after / retry-after-ms and x-ratelimit-* headers
  overload    503 (or extra status=529) server_error "overloaded"
Extras (`api.set_limit(kind, reset_at, **extra)`): message= replaces the error message, status=
replaces the HTTP status, model= names the model in the rate-limit text, retry_headers=False drops
retry-after / retry-after-ms (the openai SDKs in both CLIs sleep for retry-after themselves, up to 60 s,
before the CLI's own retry loop sees the error), code= / type= replace error.code / error.type (a
provider's own error codes), headers= are added to (and override) the limit answer's headers (e.g.
{"retry-after": "0"} for a CLI that waits out retry-after before each of its own retries).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Exchange, FakeAPI, Limit

QUOTA_MESSAGE = ("You exceeded your current quota, please check your plan and billing details. For more "
                 "information on this error, read the docs: "
                 "https://platform.openai.com/docs/guides/error-codes/api-errors.")


def register(api: FakeAPI) -> None:
    """Add this protocol's routes to `api`."""
    api.route("POST", r"(?:/v1)?/chat/completions", _completions)
    api.route("GET", r"(?:/v1)?/models", _models)
    api.route("GET", r"(?:/v1)?/models/(?P<model>.+)", _model)


# -- model list -------------------------------------------------------------------------------------

def _model_obj(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "fakeapi"}


def _models(ex: Exchange) -> None:
    names = ["gpt-4o", "gpt-4o-mini", "qwen3-coder-plus"]
    ex.send_json(200, {"object": "list", "data": [_model_obj(n) for n in names]}, answered="other")


def _model(ex: Exchange) -> None:
    ex.send_json(200, _model_obj(ex.match.group("model")), answered="other")


# -- limits -----------------------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    """OpenAI's x-ratelimit-reset-* form: '1s', '6m0s', '1h2m3s', '250ms'."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    s = int(math.ceil(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{sec}s"
    return out


def limit_response(lim: Limit, model: str = "gpt-4o") -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of the limit `lim` as OpenAI sends it."""
    left = max(0.0, (lim.reset_at - time.time())) if lim.reset_at is not None else 60.0
    extra = lim.extra
    model = extra.get("model", model)
    if lim.kind in ("quota", "usage_limit"):
        status = int(extra.get("status", 429))
        body = {"error": {"message": extra.get("message", QUOTA_MESSAGE), "type": "insufficient_quota",
                          "param": None, "code": "insufficient_quota"}}
        return status, body, {}
    if lim.kind == "rate_limit":
        status = int(extra.get("status", 429))
        msg = extra.get("message", (
            f"Rate limit reached for {model} in organization org-fakeapi on requests per min (RPM): "
            f"Limit 3, Used 3, Requested 1. Please try again in {left:.3g}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."))
        body = {"error": {"message": msg, "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
        headers = {
            "retry-after": str(int(math.ceil(left))),
            "retry-after-ms": str(int(left * 1000)),
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": _duration(left),
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": _duration(left),
        }
        if extra.get("retry_headers", True) is False:  # no retry-after: the SDK then uses its own backoff
            headers = {k: v for k, v in headers.items() if not k.startswith("retry-after")}
        return status, body, headers
    # overload
    status = int(extra.get("status", 503))
    body = {"error": {"message": extra.get("message", "The server is overloaded or not ready yet."),
                      "type": "server_error", "param": None, "code": None}}
    return status, body, {}


# -- answers ----------------------------------------------------------------------------------------

def _usage(api: FakeAPI) -> dict[str, Any]:
    u = api.usage
    cached = int(u.get("cache_read", 0))
    prompt = int(u.get("input", 0)) + cached
    out = int(u.get("output", 0))
    return {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": int(u.get("reasoning", 0)), "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _pieces(text: str) -> list[str]:
    """The reply cut into a few stream deltas (by words), as a model streams it."""
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)] or [""]


def _completions(ex: Exchange) -> None:
    body = ex.body if isinstance(ex.body, dict) else {}
    model = str(body.get("model") or "gpt-4o")
    lim = ex.limit()
    if lim is not None:
        status, err, headers = limit_response(lim, model)
        for key in ("code", "type"):
            if key in lim.extra:
                err["error"][key] = lim.extra[key]
        headers = {**headers, **{k.lower(): str(v) for k, v in lim.extra.get("headers", {}).items()}}
        ex.send_json(status, err, headers=headers, answered=lim.kind)
        return
    api = ex.api
    cid = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    text = api.reply_text
    if not body.get("stream"):
        ex.send_json(200, {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(api), "system_fingerprint": "fp_fakeapi"})
        return

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_fakeapi",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
    events += [(None, chunk({"content": p})) for p in _pieces(text)]
    events.append((None, chunk({}, "stop")))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append((None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                              "system_fingerprint": "fp_fakeapi", "choices": [], "usage": _usage(api)}))
    events.append((None, "[DONE]"))
    ex.send_sse(events)
