"""Real `/v1/embeddings` and `/v1/models` answers (OpenAI, vLLM, ollama, Mistral, Azure), replayed through the
core client: each recorded body is served as recorded, and what the client makes of it is checked against
what the body says, decoded independently here.

The vLLM recording's base64 holds float64s, not OpenAI's float32s: read as float32 it would give twice the
components, most of them garbage. The client must tell them apart.
"""

from __future__ import annotations

import array
import base64
import json
import math
from typing import Any

import httpx
import pytest
from embeddings_corpus import Exchange, load_exchanges
from fakes import FakeEndpoint

from gradient_integrations.core import (
    APIStatusError,
    AuthenticationError,
    EmbeddingRequest,
    NotFoundError,
    ResponsesClient,
)

EXCHANGES = load_exchanges()
EMBEDDINGS = [e for e in EXCHANGES if e.path == "/v1/embeddings" and e.status == 200]
ERRORS = [e for e in EXCHANGES if e.path == "/v1/embeddings" and e.status >= 400]
MODEL_LISTS = [e for e in EXCHANGES if e.path == "/v1/models"]


def _client(exchange: Exchange) -> ResponsesClient:
    # The body is stored decoded; everything else as recorded (without the now-wrong length/encoding).
    headers = {
        name: value
        for name, value in exchange.headers.items()
        if name not in ("content-encoding", "content-length", "transfer-encoding")
    }
    headers.setdefault("content-type", "application/json")
    endpoint = FakeEndpoint(httpx.Response(exchange.status, headers=headers, content=exchange.body))
    return ResponsesClient(
        api_key="sk-do-recorded-replay",
        base_url="https://gradient.test",
        transport=endpoint.transport,
    )


def _inputs(exchange: Exchange) -> list[str]:
    given = (exchange.request_body or {}).get("input")
    return [given] if isinstance(given, str) else list(given or [])


def _expected_vector(row: dict[str, Any], producer: str) -> list[float]:
    embedding = row["embedding"]
    if isinstance(embedding, list):
        return [float(value) for value in embedding]
    raw = base64.b64decode(embedding)
    return array.array("d" if producer == "vllm" else "f", raw).tolist()


@pytest.mark.parametrize("exchange", EMBEDDINGS, ids=lambda e: e.name)
@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_recorded_embeddings_read_in_input_order(exchange: Exchange, encoding_format: Any) -> None:
    texts = _inputs(exchange)
    body = exchange.json()
    with _client(exchange) as client:
        result = client.embed(EmbeddingRequest("m", texts, encoding_format=encoding_format))
    rows = sorted(body["data"], key=lambda row: row["index"])
    assert len(result.vectors) == len(texts) == len(rows)
    for vector, row in zip(result.vectors, rows, strict=True):
        assert vector == _expected_vector(row, exchange.producer)
        assert all(type(value) is float for value in vector)
        # Every one of these models returns unit vectors: a mis-decoded payload would not be one.
        assert math.sqrt(math.fsum(value * value for value in vector)) == pytest.approx(1.0, abs=1e-3)
    assert result.model == body["model"]
    assert result.usage.prompt_tokens == body["usage"]["prompt_tokens"]


def test_vllm_float64_base64_is_not_read_as_float32() -> None:
    (exchange,) = [e for e in EMBEDDINGS if e.producer == "vllm"]
    encoded = exchange.json()["data"][0]["embedding"]
    assert isinstance(encoded, str)
    with _client(exchange) as client:
        (vector,) = client.embed(EmbeddingRequest("m", _inputs(exchange))).vectors
    assert len(vector) == len(base64.b64decode(encoded)) // 8 == 4096  # e5-mistral-7b's dimension


@pytest.mark.parametrize("exchange", ERRORS, ids=lambda e: e.name)
def test_recorded_embedding_errors_become_typed_errors(exchange: Exchange) -> None:
    expected = {401: AuthenticationError, 404: NotFoundError}[exchange.status]
    message = json.loads(exchange.body)["error"]["message"]
    with _client(exchange) as client, pytest.raises(expected) as caught:
        client.embed(EmbeddingRequest("m", _inputs(exchange) or ["x"]))
    error: APIStatusError = caught.value
    assert error.status_code == exchange.status
    assert message[:40] in str(error)
    assert "sk-do-recorded-replay" not in str(error)


@pytest.mark.parametrize("exchange", MODEL_LISTS, ids=lambda e: e.name)
def test_recorded_model_lists(exchange: Exchange) -> None:
    body = exchange.json()
    with _client(exchange) as client:
        listed = client.list_models()
    assert [model.id for model in listed] == [row["id"] for row in body["data"]]
    assert all(model.owned_by == row.get("owned_by") for model, row in zip(listed, body["data"], strict=True))
