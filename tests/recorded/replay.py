"""Replaying a recorded exchange: the recorded bytes served in arbitrary pieces, and what must come out.

`serve()` builds a fake endpoint that answers every request with one exchange's status, content type and
body, cut at pseudo-random byte offsets (seeded, so a failure replays exactly). `Expected` reads the
exchange's entry in `expected.json`; the checks compare a core `ResponseResult`, a LangChain message or a
LlamaIndex response against it, each in that framework's own terms.
"""

from __future__ import annotations

import itertools
import json
import random
import zlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import httpx
from corpus import Exchange, load_corpus, load_expected
from fakes import FakeEndpoint, Reply

from gradient_integrations.core import ResponseResult, ResponsesClient, StreamError
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

BASE_URL = "https://gradient.test"
TEST_KEY = "test-key-not-secret"

CORPUS = load_corpus()
EXPECTED = load_expected()
ANSWERS = [exchange for exchange in CORPUS if 200 <= exchange.status < 300]
ERRORS = [exchange for exchange in CORPUS if exchange.status >= 400]
MODES = ("invoke", "stream", "ainvoke", "astream")


def cuts(exchange: Exchange, salt: str) -> list[bytes]:
    """The body in 1 to 64 pieces cut at random offsets (inside multibyte characters and CRLFs too)."""
    body = exchange.body
    rng = random.Random(zlib.crc32(f"{exchange.name}/{salt}".encode()))
    count = min(len(body) - 1, rng.randint(0, 63))
    points = sorted(rng.sample(range(1, len(body)), count)) if count > 0 else []
    edges = [0, *points, len(body)]
    return [body[start:end] for start, end in itertools.pairwise(edges)]


def serve(exchange: Exchange, salt: str) -> FakeEndpoint:
    """A fake endpoint that plays one exchange, sync and async: its status, content type and body, the
    body cut afresh for each request (`endpoint.count` says how many reached it)."""
    endpoint = FakeEndpoint()

    def play(request: httpx.Request) -> Reply:
        pieces = cuts(exchange, f"{salt}/{endpoint.count}")
        headers = {"content-type": exchange.content_type or "application/json"}
        return Reply(status=exchange.status, chunks=pieces, headers=headers)

    endpoint.reply(play)
    return endpoint


def model_of(exchange: Exchange) -> str:
    model = (exchange.request_body or {}).get("model")
    return model if isinstance(model, str) and model else "recorded-model"


# -- the three layers, each wired to an endpoint that plays one exchange ------------------------------
def core_client(exchange: Exchange, salt: str) -> ResponsesClient:
    endpoint = serve(exchange, salt)
    return ResponsesClient(
        api_key=TEST_KEY,
        base_url=BASE_URL,
        max_retries=0,
        transport=endpoint.transport,
        async_transport=endpoint.async_transport,
    )


def chat_model(exchange: Exchange, salt: str) -> ChatGradient:
    endpoint = serve(exchange, salt)
    return ChatGradient(
        model=model_of(exchange),
        api_key=TEST_KEY,
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.Client(transport=endpoint.transport),
        http_async_client=httpx.AsyncClient(transport=endpoint.async_transport),
    )


def llama_llm(exchange: Exchange, salt: str) -> GradientLLM:
    endpoint = serve(exchange, salt)
    return GradientLLM(
        model=model_of(exchange),
        api_key=TEST_KEY,
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.Client(transport=endpoint.transport),
        async_http_client=httpx.AsyncClient(transport=endpoint.async_transport),
    )


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    arguments: dict[str, Any]
    id: str


@dataclass(frozen=True)
class Expected:
    """What a correct client reads from one 2xx exchange (see the corpus README for how it was derived)."""

    text: str
    reasoning: str
    calls: list[ExpectedCall]
    usage: dict[str, int] | None
    status: str
    finish_reason: str
    error_message: str | None
    # Built-in tools' items (type, id, status) and the text's annotations, where the entry lists them.
    server_tools: list[dict[str, Any]] | None = None
    citations: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, exchange: Exchange) -> Expected:
        entry = EXPECTED[exchange.name]
        # The id rule: the first id seen wins, so a stream keeps the call_id its chunks carried.
        calls = [
            ExpectedCall(
                call["name"],
                call["arguments"],
                (call["call_id_streamed"] if exchange.stream else None) or call["call_id_final"],
            )
            for call in entry["tool_calls"]
        ]
        status = entry["status"]
        if status == "incomplete":
            reason = entry["incomplete_reason"]
            finish = {"max_output_tokens": "length"}.get(reason, reason)
        else:
            finish = "tool_calls" if calls else "stop"
        return cls(
            text=entry["text"],
            reasoning=entry["reasoning"],
            calls=calls,
            usage=entry["usage"],
            status=status,
            finish_reason=finish,
            error_message=entry.get("error_message"),
            server_tools=entry.get("server_tools"),
            citations=entry.get("citations"),
        )


async def assert_fails_as_recorded(expected: Expected, call: Awaitable[object]) -> None:
    """A recorded `response.failed`: every layer raises a `StreamError` carrying the server's message."""
    assert expected.error_message is not None
    try:
        await call
    except StreamError as exc:
        assert expected.error_message in str(exc)
    else:
        raise AssertionError("a failed response was read as a success")


def check_result(result: ResponseResult, expected: Expected) -> None:
    assert result.text == expected.text
    assert result.reasoning == expected.reasoning
    assert [call.name for call in result.tool_calls] == [call.name for call in expected.calls]
    assert [json.loads(call.arguments) for call in result.tool_calls] == [c.arguments for c in expected.calls]
    assert [call.id for call in result.tool_calls] == [call.id for call in expected.calls]
    if expected.usage is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        got = {name: getattr(result.usage, name) for name in expected.usage}
        assert got == expected.usage
    assert (result.status, result.finish_reason) == (expected.status, expected.finish_reason)
    if expected.server_tools is not None:
        got_tools = [{"type": c.type, "id": c.id, "status": c.status} for c in result.server_tool_calls]
        assert got_tools == expected.server_tools
        assert result.tool_calls == [] or expected.calls  # a server-side run is never the caller's call
    if expected.citations is not None:
        got_citations = [
            {key: getattr(found, key) for key in entry if key != "type"} | {"type": found.type}
            for found, entry in zip(result.citations, expected.citations, strict=False)
        ]
        assert len(result.citations) == len(expected.citations)
        assert got_citations == expected.citations
