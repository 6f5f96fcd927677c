"""Reading the local server's answers over plain httpx for the platform-feature tests: one request in any
form (JSON, or streamed in a dialect), the typed events of a stream, and the items it carries."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from ._cases import sse_events, sse_json

_CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
if str(_CORPUS_DIR) not in sys.path:
    sys.path.insert(0, str(_CORPUS_DIR))
corpus = importlib.import_module("corpus")

Event = tuple[str, dict[str, Any]]


def post(base_url: str, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(base_url + path, json=body, headers=headers, timeout=30)


def answer(base_url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    """`POST /v1/responses`, checked to be a 200."""
    response = post(base_url, "/v1/responses", body, **headers)
    assert response.status_code == 200, response.text
    return response


def typed_events(base_url: str, body: dict[str, Any], dialect: str) -> list[Event]:
    """A streamed answer in the `openai` or `vllm` dialect: (type, payload) per event, checking that the
    `event:` line names the payload's type and that sequence numbers count from 0."""
    response = answer(base_url, {**body, "stream": True}, **{"x-gradient-stream-dialect": dialect})
    events: list[Event] = []
    for name, data in sse_events(response.text):
        payload = json.loads(data)
        assert name == payload["type"]
        events.append((payload["type"], payload))
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))
    return events


def do_chunks(base_url: str, body: dict[str, Any], path: str = "/v1/responses") -> list[dict[str, Any]]:
    response = post(base_url, path, {**body, "stream": True}, **{"x-gradient-stream-dialect": "do"})
    assert response.status_code == 200, response.text
    return sse_json(response.text)


def done_items(events: list[Event]) -> list[dict[str, Any]]:
    return [payload["item"] for kind, payload in events if kind == "response.output_item.done"]


def completed_output(events: list[Event]) -> list[dict[str, Any]]:
    kind, payload = events[-1]
    assert kind == "response.completed"
    output: list[dict[str, Any]] = payload["response"]["output"]
    return output


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with their per-answer ids dropped (two answers to one request differ only there)."""
    return [{key: value for key, value in item.items() if key != "id"} for item in items]


def collapsed(kinds: list[str]) -> list[str]:
    """Event types with text deltas dropped and repeats of one type in a row merged."""
    kept: list[str] = []
    for kind in kinds:
        if kind != "response.output_text.delta" and (not kept or kept[-1] != kind):
            kept.append(kind)
    return kept


def recorded_events(name: str) -> list[Event]:
    """The typed events of a recorded OpenAI stream (`corpus` name), reasoning items left out."""
    exchange = next(exchange for exchange in corpus.load_corpus() if exchange.name == name)
    events, _ = corpus.parse_sse(exchange.body)
    found: list[Event] = []
    for event in events:
        payload = json.loads(event.data)
        if (payload.get("item") or {}).get("type") == "reasoning":
            continue
        found.append((payload["type"], payload))
    return found
