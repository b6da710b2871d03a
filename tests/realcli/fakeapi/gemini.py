"""The fake API's Gemini wire protocol (generativelanguage v1beta), as Gemini CLI 0.61.0 uses it.

Routes:
- POST /v1beta/models/<model>:generateContent            one JSON answer
- POST /v1beta/models/<model>:streamGenerateContent       SSE (`?alt=sse`), one chunk per event
- POST /v1beta/models/<model>:countTokens                 {"totalTokens": n}
- POST /v1beta/models/<model>:embedContent / batchEmbedContents, GET /v1beta/models[/<m>]  minimal

Requests that ask for JSON (`generationConfig.responseMimeType == "application/json"`, which is how
the CLI's model router / classifier, next-speaker check and similar side calls ask) get one JSON
object that satisfies each of those schemas at once; they are logged with answered="side" so that
`FakeAPI.model_requests()` counts only the conversation's own turns. A test that wants them counted
reads `api.requests` and the `side` marker.

Limits (set with `api.set_limit(kind, reset_at, **extra)`), shaped as Google sends them and as the
CLI's `classifyGoogleError` (@google/gemini-cli 0.61.0, bundle/chunk-JDPZ4CE3.js) reads them:
- "rate_limit": 429 RESOURCE_EXHAUSTED, QuotaFailure quotaId "...PerMinute..." and RetryInfo
  retryDelay = seconds to reset  -> RetryableQuotaError (the CLI waits and retries by itself).
- "quota": 429 RESOURCE_EXHAUSTED, QuotaFailure quotaId "GenerateRequestsPerDayPerProjectPerModel-
  FreeTier" and RetryInfo -> TerminalQuotaError "You have exhausted your daily quota on this model."
  (the CLI drops the delay on this path, so it shows no reset time).
- "usage_limit": 429 RESOURCE_EXHAUSTED, ErrorInfo reason QUOTA_EXHAUSTED (domain
  cloudcode-pa.googleapis.com, the Code Assist shape) and RetryInfo -> TerminalQuotaError with
  the delay -> "Usage limit reached for <model>. Access resets at <h:mm AM/PM TZ>."
  extra: daily=True sends the per-day QuotaFailure instead (then no reset is shown);
  capacity=True sends reason MODEL_CAPACITY_EXHAUSTED (the CLI retries that silently, then asks).
- "overload": 503 UNAVAILABLE "The model is overloaded. Please try again later."
A "limit: 0" in the message (extra zero_limit=True) makes any 429 terminal, as the CLI reads it.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Exchange, FakeAPI

_BASE = r"/(?:v1beta|v1|v1alpha)/models/(?P<model>[^/:]+)"

#: one JSON object that satisfies every side-call schema the CLI sends in JSON mode
SIDE_JSON = {
    "reasoning": "Simple, bounded request.",
    "model_choice": "flash",
    "complexity_reasoning": "Simple, bounded request.",
    "complexity_score": 10,
    "next_speaker": "user",
}


def register(api: FakeAPI) -> None:
    """Add this protocol's routes to `api`."""
    api.route("POST", _BASE + r":generateContent", lambda ex: _generate(ex, stream=False))
    api.route("POST", _BASE + r":streamGenerateContent", lambda ex: _generate(ex, stream=True))
    api.route("POST", _BASE + r":countTokens", _count_tokens)
    api.route("POST", _BASE + r":(?:embedContent|batchEmbedContents)", _embed)
    api.route("GET", r"/(?:v1beta|v1)/models", _list_models)
    api.route("GET", _BASE, _get_model)


def _is_side_call(body: Any) -> bool:
    cfg = (body or {}).get("generationConfig") or {} if isinstance(body, dict) else {}
    return cfg.get("responseMimeType") == "application/json" or "responseJsonSchema" in cfg or \
        "responseSchema" in cfg


def usage_metadata(api: FakeAPI) -> dict[str, int]:
    """`usageMetadata` from api.usage: promptTokenCount includes the cached part, as Google reports."""
    u = api.usage
    prompt = int(u.get("input", 0)) + int(u.get("cache_read", 0))
    out = int(u.get("output", 0))
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out}
    if u.get("cache_read"):
        meta["cachedContentTokenCount"] = int(u["cache_read"])
    if u.get("thoughts"):
        meta["thoughtsTokenCount"] = int(u["thoughts"])
        meta["totalTokenCount"] += int(u["thoughts"])
    return meta


def _candidate(text: str, finish: str | None = "STOP") -> dict[str, Any]:
    c: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        c["finishReason"] = finish
    return c


def _generate(ex: Exchange, stream: bool) -> None:
    model = ex.match.group("model")
    side = _is_side_call(ex.body)
    lim = ex.limit()
    if lim is not None:
        status, err = limit_error(lim.kind, lim.reset_at, model, **lim.extra)
        ex.send_json(status, err, answered=lim.kind)
        return
    answered = "side" if side else "ok"
    text = json.dumps(SIDE_JSON) if side else ex.api.reply_text
    meta = usage_metadata(ex.api)
    version = model if model != "auto" else "gemini-2.5-flash"
    if not stream:
        ex.send_json(200, {"candidates": [_candidate(text)], "usageMetadata": meta, "modelVersion": version,
                           "responseId": f"fake-{int(time.time() * 1000)}"}, answered=answered)
        return
    # two chunks: the text, then the finish with the usage (the API repeats usage on the last chunk)
    half = max(1, len(text) // 2)
    first = {"candidates": [_candidate(text[:half], None)], "modelVersion": version,
             "usageMetadata": {"promptTokenCount": meta["promptTokenCount"],
                               "totalTokenCount": meta["promptTokenCount"]}}
    last = {"candidates": [_candidate(text[half:])], "usageMetadata": meta, "modelVersion": version}
    ex.send_sse([(None, first), (None, last)], answered=answered)


def limit_error(kind: str, reset_at: float | None, model: str = "gemini-2.5-pro", **extra: Any) -> tuple[int, dict]:
    """(HTTP status, body) of the Google error for limit `kind` lifting at epoch `reset_at`."""
    wait = max(1, math.ceil(reset_at - time.time())) if reset_at is not None else None
    retry = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{wait}s"}] if wait else []
    help_ = {"@type": "type.googleapis.com/google.rpc.Help",
             "links": [{"description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}
    zero = ", limit: 0" if extra.get("zero_limit") else ""
    if kind == "overload":
        return 503, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                               "status": "UNAVAILABLE"}}
    if kind == "rate_limit":
        quota_id, metric = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "generate_content_free_tier_requests"
        violations = [{"quotaMetric": f"generativelanguage.googleapis.com/{metric}", "quotaId": quota_id,
                       "quotaDimensions": {"location": "global", "model": model}, "quotaValue": "10"}]
        details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": violations}, help_, *retry]
        msg = ("You exceeded your current quota, please check your plan and billing details. "
               f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, limit: 10{zero}, "
               f"model: {model}" + (f"\nPlease retry in {wait}s." if wait else ""))
    elif kind == "quota" or (kind == "usage_limit" and extra.get("daily")):
        quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        metric = "generate_content_free_tier_requests"
        violations = [{"quotaMetric": f"generativelanguage.googleapis.com/{metric}", "quotaId": quota_id,
                       "quotaDimensions": {"location": "global", "model": model}, "quotaValue": "250"}]
        details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": violations}, help_, *retry]
        msg = ("You exceeded your current quota, please check your plan and billing details. "
               f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, limit: 250{zero}, "
               f"model: {model}" + (f"\nPlease retry in {wait}s." if wait else ""))
    else:  # usage_limit: the Code Assist (cloudcode-pa) shape, which keeps the reset delay
        details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED",
                    "domain": "cloudcode-pa.googleapis.com",
                    "metadata": {"model": model, "uiMessage": "true"}}, *retry]
        # never "exhausted your capacity" unless asked: the CLI reads that as a capacity error and
        # retries it silently (extra capacity=True sends MODEL_CAPACITY_EXHAUSTED to measure that)
        msg = f"Resource has been exhausted (e.g. check quota){zero}."
        if extra.get("capacity"):
            details[0]["reason"] = "MODEL_CAPACITY_EXHAUSTED"
            msg = f"You have exhausted your capacity on this model. Your quota will reset after {wait or 0}s."
    return 429, {"error": {"code": 429, "message": msg, "status": "RESOURCE_EXHAUSTED", "details": details}}


def _count_tokens(ex: Exchange) -> None:
    n = len(json.dumps(ex.body or {})) // 4
    ex.send_json(200, {"totalTokens": n}, answered="other")


def _embed(ex: Exchange) -> None:
    body = ex.body or {}
    n = len(body.get("requests", [])) if isinstance(body, dict) and "requests" in body else 1
    vec = {"values": [0.0] * 8}
    ex.send_json(200, {"embeddings": [vec] * n} if "requests" in body else {"embedding": vec}, answered="other")


def _model_info(name: str) -> dict[str, Any]:
    return {"name": f"models/{name}", "displayName": name, "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"]}


def _list_models(ex: Exchange) -> None:
    ex.send_json(200, {"models": [_model_info(m) for m in ("gemini-2.5-pro", "gemini-2.5-flash")]}, answered="other")


def _get_model(ex: Exchange) -> None:
    ex.send_json(200, _model_info(ex.match.group("model")), answered="other")
