"""Test helpers for the core: fixture loading, DO OpenAPI schemas, a client on a fake endpoint, SSE framing.

The fake endpoint itself (`FakeEndpoint`, `Reply`, `json_reply`, `sse_reply`) lives in `tests/fakes.py`,
shared with every other layer; `make_client` wires a core `ResponsesClient` to one, with sleeps recorded.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import schemathesis
import yaml
from fakes import FakeEndpoint
from hypothesis.strategies import SearchStrategy
from schemathesis.generation import GenerationMode

from gradient_integrations.core import ResponsesClient, RetryPolicy, StreamDelta, StreamError

FIXTURES = Path(__file__).parent / "fixtures"
OPENAPI = FIXTURES / "do_openapi"
BASE_URL = "https://gradient.test"
TEST_KEY = "test-key-not-secret"


# -- fixtures ----------------------------------------------------------------------------------------
def load_json(name: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(body, dict)
    return body


def load_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load_yaml(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((OPENAPI / relative).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def openapi_schema(relative: str) -> dict[str, Any]:
    """A DO OpenAPI 3.0 schema file as plain JSON Schema: file `$ref`s inlined, `nullable` as a type."""
    path = OPENAPI / relative

    def convert(node: Any, here: Path) -> Any:
        if isinstance(node, list):
            return [convert(item, here) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = (here.parent / node["$ref"]).resolve()
            return convert(yaml.safe_load(target.read_text(encoding="utf-8")), target)
        out = {key: convert(value, here) for key, value in node.items() if key not in ("nullable", "example")}
        if node.get("nullable"):
            # OpenAPI 3.0 `nullable: true` is JSON Schema's "or null"; `enum` needs null listed too.
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    schema = convert(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    assert isinstance(schema, dict)
    return schema


def schema_bodies(relative: str, *, negative: bool = False) -> SearchStrategy[Any]:
    """JSON bodies drawn by schemathesis from a DO schema file: valid under it, or (`negative`) breaking it.

    The schema (as `openapi_schema` gives it, plain JSON Schema) is the request body of a one-operation
    OpenAPI 3.1 document, whose schema dialect is JSON Schema; schemathesis's negative mode may also give
    raw bytes that are not JSON at all.
    """
    document = {
        "openapi": "3.1.0",
        "info": {"title": f"DigitalOcean Gradient: {relative}", "version": "1"},
        "paths": {
            "/body": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": openapi_schema(relative)}},
                    },
                    "responses": {"200": {"description": "accepted"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(document)["/body"]["POST"]
    mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE
    return operation.as_strategy(mode).map(lambda case: case.body)


def schema_example(relative: str) -> Any:
    """The example a DO schema file documents: each property's `example`, recursing through `$ref`s,
    objects and arrays; for `oneOf`/`allOf` the first branch (the spec lists the simple form first)."""
    path = OPENAPI / relative

    def example(node: dict[str, Any], here: Path) -> Any:
        if "$ref" in node:
            target = (here.parent / node["$ref"]).resolve()
            return example(yaml.safe_load(target.read_text(encoding="utf-8")), target)
        if "example" in node:
            return node["example"]
        for combinator in ("oneOf", "allOf"):
            if combinator in node:
                return example(node[combinator][0], here)
        if node.get("type") == "array":
            return [example(node["items"], here)]
        if node.get("type") == "object" or "properties" in node:
            return {name: example(prop, here) for name, prop in node.get("properties", {}).items()}
        raise AssertionError(f"schema node without an example: {sorted(node)}")

    return example(yaml.safe_load(path.read_text(encoding="utf-8")), path)


# -- a client on a fake endpoint ----------------------------------------------------------------
class SleepRecorder:
    """Stands in for `time.sleep` and `asyncio.sleep` in a `RetryPolicy`: records, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(
    script: FakeEndpoint, *, sleeper: SleepRecorder | None = None, max_retries: int = 2, **kwargs: Any
) -> ResponsesClient:
    """A client wired to `script` (sync and async), with sleeps recorded instead of slept."""
    sleeper = sleeper or SleepRecorder()
    policy = RetryPolicy(max_retries=max_retries, sleep=sleeper, async_sleep=sleeper.async_sleep)
    kwargs.setdefault("api_key", TEST_KEY)
    kwargs.setdefault("base_url", BASE_URL)
    return ResponsesClient(
        transport=script.transport,
        async_transport=script.async_transport,
        retry_policy=policy,
        max_retries=max_retries,
        **kwargs,
    )


# -- SSE framing -------------------------------------------------------------------------------------
def sse_event(data: str, *, event: str | None = None, eol: str = "\n") -> str:
    """One SSE event block: optional `event:` line, a `data:` line per line of `data`, blank line."""
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in data.split("\n")]
    return eol.join(lines) + eol + eol


def sse_json(payload: dict[str, Any], **kwargs: Any) -> str:
    return sse_event(json.dumps(payload, ensure_ascii=False), **kwargs)


def text_event(piece: str) -> bytes:
    """One DO stream chunk carrying `piece` of the answer text, as SSE bytes."""
    return sse_json({"choices": [{"index": 0, "delta": {"content": piece}}]}).encode()


def split_at(blob: bytes, cuts: Iterable[int]) -> list[bytes]:
    """`blob` cut at the given byte offsets (duplicates and ends ignored); never yields empty chunks."""
    points = sorted({cut for cut in cuts if 0 < cut < len(blob)})
    edges = [0, *points, len(blob)]
    return [blob[start:end] for start, end in itertools.pairwise(edges) if end > start]


# -- consuming streams -------------------------------------------------------------------------------
def collect(stream: Iterable[StreamDelta]) -> tuple[list[StreamDelta], StreamError | None]:
    """Every delta a stream yields before it ends or raises `StreamError` (returned, not raised)."""
    deltas: list[StreamDelta] = []
    try:
        for delta in stream:
            deltas.append(delta)
    except StreamError as exc:
        return deltas, exc
    return deltas, None


async def acollect(stream: Any) -> tuple[list[StreamDelta], StreamError | None]:
    deltas: list[StreamDelta] = []
    try:
        async for delta in stream:
            deltas.append(delta)
    except StreamError as exc:
        return deltas, exc
    return deltas, None


def joined(deltas: Iterable[StreamDelta], kind: str) -> str:
    return "".join(delta.text for delta in deltas if delta.kind == kind)
