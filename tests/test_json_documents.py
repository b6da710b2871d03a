"""JsonDocuments: a pretty-printed JSON document in a CLI's output, read whole as one compact line
(Gemini CLI 0.61.0's `-p --output-format json`, tests/fixtures/real_cli/gemini-0.61.0/)."""

from __future__ import annotations

import json
from pathlib import Path

from teamctl_supervisor.core.scan.json_documents import LONG_STRING, MAX_BYTES, JsonDocuments

DOC = (Path(__file__).parent / "fixtures" / "real_cli" / "gemini-0.61.0" / "headless-json-ok.stdout").read_bytes()


def feed_all(docs: JsonDocuments, data: bytes, step: int) -> list[str]:
    return [line for i in range(0, len(data), step) for line in docs.feed(data[i:i + step])]


def test_a_document_cut_at_any_read_is_one_compact_line_equal_to_it() -> None:
    whole = json.loads(DOC)
    for step in (1, 7, 64, len(DOC)):
        (line,) = feed_all(JsonDocuments(), DOC.replace(b"\n", b"\r\n") + b"\r\n", step)
        assert "\n" not in line and json.loads(line) == whole


def test_prose_around_it_and_brace_blocks_that_are_not_json_give_nothing_else() -> None:
    data = b"Loaded cached credentials.\r\n{\r\nnot json\r\n}\r\nsome text { inline }\r\n" + DOC + b"\n"
    (line,) = feed_all(JsonDocuments(), data, 50)
    assert json.loads(line)["stats"]["models"]


def test_long_strings_are_cut_so_the_figures_stay_in_reach() -> None:
    doc = json.dumps({"response": "x" * 10_000, "stats": {"n": 1}}, indent=2).encode() + b"\n"
    (line,) = JsonDocuments().feed(doc)
    value = json.loads(line)
    assert len(value["response"]) == LONG_STRING + 1 and value["stats"] == {"n": 1}


def test_a_document_that_never_ends_is_not_held_past_the_bound() -> None:
    docs = JsonDocuments()
    docs.feed(b"{\n")
    for _ in range(MAX_BYTES // 60_000 + 2):
        assert docs.feed(b'  "k": "' + b"v" * 60_000 + b'",\n') == []
    assert docs._doc is None  # dropped
    assert docs.feed(b"}\n") == []
    (line,) = docs.feed(DOC + b"\n")  # the next document is read as usual
    assert json.loads(line)["session_id"]
