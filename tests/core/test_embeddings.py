"""The core's `/v1/embeddings`: input checks before sending, batching, order by `index`, base64, errors."""

from __future__ import annotations

import array
import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint, json_reply

from gradient_integrations.core import (
    APIResponseValidationError,
    EmbeddingRequest,
    InvalidRequestError,
    RateLimitError,
    aembed_all,
    embed_all,
)
from gradient_integrations.core.embeddings import check_count, check_texts, read_embeddings

from ._support import make_client


def _b64(vector: list[float]) -> str:
    return base64.b64encode(array.array("f", vector).tobytes()).decode()


def _answer(request: httpx.Request, *, shuffle: bool = True, fmt: str | None = None) -> httpx.Response:
    """An embeddings endpoint: input i gets vector [i, len(text)], rows in reverse order."""
    body = json.loads(request.content)
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    encoding = fmt or body.get("encoding_format", "float")
    rows = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _b64([float(index), float(len(text))])
            if encoding == "base64"
            else [float(index), float(len(text))],
        }
        for index, text in enumerate(texts)
    ]
    if shuffle:
        rows.reverse()
    usage = {"prompt_tokens": len(texts) * 2, "total_tokens": len(texts) * 2}
    return httpx.Response(
        200, json={"object": "list", "model": body["model"], "data": rows, "usage": usage}, request=request
    )


class Endpoint:
    def __init__(self, **kwargs: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.kwargs = kwargs
        self.in_flight = 0
        self.most_in_flight = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return _answer(request, **self.kwargs)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            return self(request)
        finally:
            self.in_flight -= 1

    def client(self) -> Any:
        from gradient_integrations.core import ResponsesClient

        return ResponsesClient(
            api_key="k",
            base_url="https://gradient.test",
            transport=httpx.MockTransport(self),
            async_transport=httpx.MockTransport(self.handle_async),
        )


def test_body_is_the_documented_request() -> None:
    request = EmbeddingRequest("qwen3-embedding-0.6b", ["a", "b"], user="u-1")
    assert json.loads(request.body()) == {
        "model": "qwen3-embedding-0.6b",
        "input": ["a", "b"],
        "user": "u-1",
        "encoding_format": "float",
    }


def test_splits_into_requests_and_keeps_input_order() -> None:
    endpoint = Endpoint()
    texts = [f"text {i}" * (i % 3 + 1) for i in range(10)]
    with endpoint.client() as client:
        result = embed_all(client, "m", texts, batch_size=4)
    assert [len(json.loads(r.content)["input"]) for r in endpoint.requests] == [4, 4, 2]
    assert all(r.url.path == "/v1/embeddings" for r in endpoint.requests)
    # Each batch restarts its index at 0; the vector's second value identifies the text.
    assert [vector[1] for vector in result.vectors] == [float(len(text)) for text in texts]
    assert result.usage.prompt_tokens == 20
    assert result.model == "m"


@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_float_and_base64_answers_read_the_same(fmt: str) -> None:
    endpoint = Endpoint(fmt=fmt)
    with endpoint.client() as client:
        result = embed_all(client, "m", ["one", "three"])
    assert result.vectors == [[0.0, 3.0], [1.0, 5.0]]


async def test_async_batches_run_concurrently_but_bounded() -> None:
    endpoint = Endpoint()
    texts = [f"t{i}" for i in range(50)]
    client = endpoint.client()
    try:
        result = await aembed_all(client, "m", texts, batch_size=5, max_concurrency=3)
    finally:
        await client.aclose()
    assert len(endpoint.requests) == 10
    assert endpoint.most_in_flight == 3
    assert [vector[1] for vector in result.vectors] == [float(len(text)) for text in texts]


async def test_async_failure_cancels_the_rest_and_raises_the_typed_error() -> None:
    seen: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen.append(1)
        if len(seen) == 2:
            return httpx.Response(429, json={"id": "too_many_requests", "message": "slow down"})
        await asyncio.sleep(0.05)
        return _answer(request)

    from gradient_integrations.core import ResponsesClient

    client = ResponsesClient(
        api_key="k",
        base_url="https://gradient.test",
        async_transport=httpx.MockTransport(handler),
        max_retries=0,
    )
    try:
        with pytest.raises(RateLimitError):
            await aembed_all(client, "m", [f"t{i}" for i in range(40)], batch_size=4, max_concurrency=2)
    finally:
        await client.aclose()
    assert len(seen) < 10  # the other batches were cancelled, not all sent


def test_retries_apply_to_embeddings() -> None:
    script = FakeEndpoint(
        json_reply({"id": "too_many_requests", "message": "slow"}, status=429),
        json_reply({"object": "list", "model": "m", "data": [{"index": 0, "embedding": [1.0]}], "usage": {}}),
    )
    with make_client(script) as client:
        result = client.embed(EmbeddingRequest("m", ["x"], encoding_format="float"))
    assert script.count == 2
    assert result.vectors == [[1.0]]
    assert script.requests[0].headers["authorization"] == "Bearer test-key-not-secret"


@pytest.mark.parametrize(
    ("texts", "field", "words"),
    [
        (["ok", ""], "texts[1]", "empty string"),
        (["ok", 3], "texts[1]", "must be a str"),
        (["ok", "a\ud800b"], "texts[1]", "lone surrogate"),
        ("one string", "texts", "list of strings"),
    ],
)
def test_bad_texts_are_refused_naming_the_index(texts: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_texts(texts)
    assert caught.value.field == field
    assert words in str(caught.value)


def _words(text: str) -> int:
    return len(text.split())


def test_over_long_text_is_refused_with_its_estimate() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_texts(
            ["short", "word " * 100], max_input_tokens=50, count_tokens=lambda text: len(text.split())
        )
    assert caught.value.field == "texts[1]"
    assert "100 tokens" in str(caught.value)
    assert "limit of 50" in str(caught.value)
    # Within the limit: passes.
    assert check_texts(["word " * 40], max_input_tokens=50, count_tokens=_words)


@pytest.mark.parametrize("value", [0, 2049, True, 3.0, "4"])
def test_batch_size_must_be_within_the_endpoint_limit(value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="batch_size"):
        check_count("batch_size", value, 2048)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"data": "x"}, "no `data` list"),
        ({"data": [{"index": 0, "embedding": [1.0]}]}, "1 embeddings for 2 inputs"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}, "two embeddings"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [2.0]}]}, "index is 5"),
        (
            {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [2.0, 3.0]}]},
            "same dimension",
        ),
        ({"data": [{"index": 0, "embedding": "%%%"}, {"index": 1, "embedding": [2.0]}]}, "not base64"),
        ({"data": [{"index": 0, "embedding": ["a"]}, {"index": 1, "embedding": [2.0]}]}, "list of numbers"),
    ],
)
def test_answers_that_are_not_the_asked_ones_are_refused(body: dict[str, Any], words: str) -> None:
    with pytest.raises(APIResponseValidationError, match=words):
        read_embeddings(body, 2, "m")


def test_integer_components_become_floats() -> None:
    result = read_embeddings({"data": [{"index": 0, "embedding": [1, 0.5]}]}, 1, "m")
    assert result.vectors == [[1.0, 0.5]]
    assert all(type(value) is float for value in result.vectors[0])


def _doubles(vector: list[float]) -> str:
    return base64.b64encode(array.array("d", vector).tobytes()).decode()


@pytest.mark.parametrize(
    "vector",
    [
        [float(array.array("f", [i / 37 - 0.5])[0]) for i in range(64)],  # float32s widened (vLLM's)
        [i / 37 - 0.5 + 1e-12 * i for i in range(64)],  # true float64s
    ],
)
def test_float64_base64_is_told_from_float32(vector: list[float]) -> None:
    body = {"data": [{"index": 0, "embedding": _doubles(vector)}]}
    assert read_embeddings(body, 1, "m").vectors == [vector]


def test_float32_base64_with_zeros_stays_float32() -> None:
    vector = [0.0 if i % 2 else 0.25 for i in range(64)]  # odd components zero: not a widened pattern
    body = {"data": [{"index": 0, "embedding": _b64(vector)}]}
    assert read_embeddings(body, 1, "m").vectors == [vector]


def test_a_request_built_directly_still_names_a_text_json_cannot_carry() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        EmbeddingRequest("m", ["ok", "a\ud800"]).body()
    assert caught.value.field == "input[1]"
