"""`POST /v1/embeddings` on the local server, over real loopback HTTP: DO's response schema, input order,
`float` and `base64` answers, similarity that follows shared words, determinism (across processes too),
unit norm, every refused request naming its field, auth, faults, and `GET /v1/models` listing the models.

Answers are checked against DO's `embeddings_response.yml` (vendored in `spec/`), strictly: no
undeclared fields.
"""

from __future__ import annotations

import array
import base64
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

from gradient_integrations.local import DEFAULT_MODELS, EmbeddingModel, LocalServer, create_app
from gradient_integrations.local.embeddings import (
    EMBEDDING_MODELS,
    count_tokens,
    embeddings_body,
    parse_embeddings_request,
)

from ._spec import ERROR, MODEL_LIST, MODELS, assert_valid, validator

MODEL = "qwen3-embedding-0.6b"
SMALL_MODEL = "all-mini-lm-l6-v2"
EMBEDDINGS_RESPONSE = MODELS + "embeddings_response.yml"


@lru_cache(maxsize=1)
def _response_validator() -> Draft4Validator:
    """DO's embeddings response schema (vendored in `spec/`), strict: no undeclared fields."""
    return validator(EMBEDDINGS_RESPONSE)


def assert_valid_embeddings(body: Any) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in _response_validator().iter_errors(body)
    ]
    assert not errors, "not valid against embeddings_response.yml:\n" + "\n".join(errors)


@pytest.fixture(scope="module")
def http(local_server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.base_url, timeout=30) as client:
        yield client


def _embed(http: httpx.Client, texts: Any, **fields: Any) -> dict[str, Any]:
    response = http.post("/v1/embeddings", json={"model": MODEL, "input": texts, **fields})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert_valid_embeddings(body)
    return body


def _vectors(body: dict[str, Any]) -> list[list[float]]:
    return [row["embedding"] for row in body["data"]]


def _decode(payload: str) -> list[float]:
    floats = array.array("f", base64.b64decode(payload, validate=True))
    if sys.byteorder != "little":
        floats.byteswap()
    return floats.tolist()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # both are unit vectors


# -- the answer --------------------------------------------------------------------------------------


def test_a_batch_is_answered_in_input_order_with_summed_usage(http: httpx.Client) -> None:
    texts = ["first text", "a second, longer text!", "third", "the fourth one", "fifth: ✓ done"]
    body = _embed(http, texts)
    assert body["object"] == "list" and body["model"] == MODEL
    assert [row["index"] for row in body["data"]] == list(range(len(texts)))
    assert all(row["object"] == "embedding" for row in body["data"])
    one_by_one = [_vectors(_embed(http, text))[0] for text in texts]
    assert _vectors(body) == one_by_one  # row i is the vector of input i
    tokens = sum(count_tokens(text) for text in texts)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_a_single_string_is_row_zero_with_the_models_dimensions(http: httpx.Client) -> None:
    body = _embed(http, "hello world")
    assert [row["index"] for row in body["data"]] == [0]
    assert len(body["data"][0]["embedding"]) == EMBEDDING_MODELS[MODEL].dimensions == 1024
    small = _embed(http, "hello world", model=SMALL_MODEL)
    assert small["model"] == SMALL_MODEL
    assert len(small["data"][0]["embedding"]) == EMBEDDING_MODELS[SMALL_MODEL].dimensions == 384
    tokens = count_tokens("hello world")
    assert tokens == 2  # the core's estimate, as o200k counts it
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_base64_is_little_endian_float32_of_the_same_numbers(http: httpx.Client) -> None:
    texts = ["the cat sat on the mat", "quarterly revenue grew", "!!!"]
    floats = _vectors(_embed(http, texts, encoding_format="float"))
    encoded = _vectors(_embed(http, texts, encoding_format="base64"))
    assert all(isinstance(payload, str) for payload in encoded)
    assert [_decode(payload) for payload in encoded] == floats
    assert all(len(base64.b64decode(payload)) == 4 * 1024 for payload in encoded)


def test_shared_words_make_vectors_close_and_unrelated_ones_far(http: httpx.Client) -> None:
    cat, cat_again, revenue = _vectors(
        _embed(http, ["the cat sat on the mat", "a cat on a mat", "quarterly revenue grew"])
    )
    assert _cosine(cat, cat_again) > 0.6
    assert abs(_cosine(cat, revenue)) < 0.1
    assert _cosine(cat, cat_again) > _cosine(cat, revenue) + 0.5
    word, plural, other = _vectors(_embed(http, ["embedding", "embeddings", "revenue"]))
    assert _cosine(word, plural) > 0.2 > abs(_cosine(word, other))  # trigrams bring word forms together


@pytest.mark.parametrize(
    "text", ["the cat sat on the mat", "!!!", "   ", "the", "x" * 1000, "ünïcödé ✓ 日本語"]
)
def test_every_vector_has_unit_norm(http: httpx.Client, text: str) -> None:
    for model in (MODEL, SMALL_MODEL):
        (vector,) = _vectors(_embed(http, text, model=model))
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-5)


def test_vectors_are_the_same_on_every_call_and_in_every_process(http: httpx.Client) -> None:
    texts = ["the cat sat on the mat", "quarterly revenue grew", "???"]
    first = _embed(http, texts)
    assert _embed(http, texts) == first
    # Python's hash() differs per process: vectors must not depend on it.
    code = (
        "import json, sys; from gradient_integrations.local.embeddings import embed; "
        "print(json.dumps([embed(t, 1024) for t in json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(texts)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == _vectors(first)


def test_ten_thousand_short_texts_are_embedded_in_a_fraction_of_a_second() -> None:
    words = ["alpha", "beta", "gamma", "delta", "kappa", "omega", "red", "green"]
    words += ["blue", "cat", "dog", "mat", "sat", "ran", "fast", "slow"]
    texts = [
        f"{words[n % 16]} {words[n * 7 % 16]} item {n} {words[n * 3 % 16]}s, again" for n in range(10_000)
    ]
    models = {MODEL: EMBEDDING_MODELS[MODEL]}
    started = time.process_time()
    for start in range(0, len(texts), 2048):
        request = parse_embeddings_request({"model": MODEL, "input": texts[start : start + 2048]}, models)
        assert embeddings_body(request).startswith(b'{"object":"list"')
    assert time.process_time() - started < 3.0  # ~0.4 s on a laptop; generous for slow CI machines


async def test_large_batches_are_embedded_off_the_event_loop_and_small_ones_on_it() -> None:
    app = create_app()
    threads: list[str] = []
    embed = app._embed

    def recording(raw: bytes) -> bytes:
        threads.append(threading.current_thread().name)
        return embed(raw)

    app._embed = recording  # type: ignore[method-assign]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local.test") as client:
        small = await client.post("/v1/embeddings", json={"model": MODEL, "input": "one short text"})
        large = await client.post("/v1/embeddings", json={"model": MODEL, "input": ["a text"] * 500})
    assert (small.status_code, large.status_code) == (200, 200)
    assert threads[0] == threading.current_thread().name
    assert threads[1] != threading.current_thread().name


# -- refused requests --------------------------------------------------------------------------------

BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str, str]] = [
    # (id, body, status, field the message starts with, words the message holds)
    ("no model", {"input": "x"}, 400, "model", "required"),
    ("model not a string", {"model": 7, "input": "x"}, 400, "model", "must be a string, got number"),
    ("unknown model", {"model": "no-such-model", "input": "x"}, 404, "model", "not a model on this server"),
    ("chat model", {"model": DEFAULT_MODELS[0], "input": "x"}, 400, "model", "chat model, not an embedding"),
    ("no input", {"model": MODEL}, 400, "input", "required"),
    ("input an object", {"model": MODEL, "input": {"text": "x"}}, 400, "input", "got object"),
    ("input null", {"model": MODEL, "input": None}, 400, "input", "got null"),
    ("empty array", {"model": MODEL, "input": []}, 400, "input", "at least one string"),
    ("too many", {"model": MODEL, "input": ["x"] * 2049}, 400, "input", "at most 2048 strings"),
    ("number item", {"model": MODEL, "input": ["a", "b", "c", 7]}, 400, "input[3]", "not token ids"),
    ("token array", {"model": MODEL, "input": [[1, 2, 3]]}, 400, "input[0]", "got array"),
    ("null item", {"model": MODEL, "input": ["a", None]}, 400, "input[1]", "got null"),
    ("empty string", {"model": MODEL, "input": ""}, 400, "input", "'$.input' is invalid"),
    ("empty item", {"model": MODEL, "input": ["a", "b", ""]}, 400, "input[2]", "'$.input' is invalid"),
    ("user not a string", {"model": MODEL, "input": "x", "user": 1}, 400, "user", "must be a string"),
    (
        "bad encoding",
        {"model": MODEL, "input": "x", "encoding_format": "int8"},
        400,
        "encoding_format",
        "'int8'",
    ),
    ("unknown field", {"model": MODEL, "input": "x", "dimensions": 256}, 400, "dimensions", "unknown field"),
    ("stream", {"model": MODEL, "input": "x", "stream": True}, 400, "stream", "unknown field"),
    (
        "too long for the small model",
        {"model": SMALL_MODEL, "input": ["short", "word " * 600]},
        400,
        "input[1]",
        f"maximum context length is {EMBEDDING_MODELS[SMALL_MODEL].max_input_tokens} tokens, however you "
        f"requested {count_tokens('word ' * 600)} tokens",
    ),
    (
        "too long",
        {"model": MODEL, "input": "word " * 8193},
        400,
        "input",
        f"maximum context length is {EMBEDDING_MODELS[MODEL].max_input_tokens} tokens, however you "
        f"requested {count_tokens('word ' * 8193)} tokens",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_a_refused_request_gets_the_do_error_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], status: int, field: str, words: str
) -> None:
    response = http.post("/v1/embeddings", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert_valid(error, ERROR)
    assert error["id"] == ("not_found" if status == 404 else "bad_request")
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert words in error["message"], error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


def test_a_body_that_is_not_a_json_object_is_refused(http: httpx.Client) -> None:
    for content in (b"[1, 2]", b"{not json", b'{"model": "\\ud800"}'):
        response = http.post("/v1/embeddings", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert response.json()["message"].startswith("request body: ")


def test_an_input_at_the_limit_is_accepted(http: httpx.Client) -> None:
    limit = EMBEDDING_MODELS[SMALL_MODEL].max_input_tokens
    text = next(t for t in ("word " * n for n in range(limit + 1)) if count_tokens(t) == limit)
    body = _embed(http, text, model=SMALL_MODEL)
    assert body["usage"]["prompt_tokens"] == limit
    over = http.post("/v1/embeddings", json={"model": SMALL_MODEL, "input": text + " word"})
    assert over.status_code == 400


def test_the_key_is_required_when_the_server_has_one() -> None:
    with (
        LocalServer(api_key="sk-do-embeddings-key") as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        body = {"model": MODEL, "input": "hello"}
        refused = client.post("/v1/embeddings", json=body)
        assert refused.status_code == 401
        assert_valid(refused.json(), ERROR)
        assert refused.json()["id"] == "unauthorized"
        wrong = client.post("/v1/embeddings", json=body, headers={"authorization": "Bearer sk-do-wrong"})
        assert wrong.status_code == 401
        answered = client.post(
            "/v1/embeddings", json=body, headers={"authorization": "Bearer sk-do-embeddings-key"}
        )
        assert answered.status_code == 200
        assert_valid_embeddings(answered.json())


def test_faults_apply_to_embeddings(http: httpx.Client) -> None:
    body = {"model": MODEL, "input": "hello"}
    assert (
        http.post("/v1/embeddings", json=body, headers={"x-gradient-fault": "status:503"}).status_code == 503
    )
    cut = http.post("/v1/embeddings", json=body, headers={"x-gradient-fault": "malformed_json"})
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_only_post_is_allowed(http: httpx.Client) -> None:
    response = http.get("/v1/embeddings")
    assert response.status_code == 405
    assert "POST /v1/embeddings" in response.json()["message"]


# -- the model list ----------------------------------------------------------------------------------


def test_the_model_list_names_the_chat_and_the_embedding_models(http: httpx.Client) -> None:
    response = http.get("/v1/models")
    assert response.status_code == 200
    assert_valid(response.json(), MODEL_LIST)
    ids = [model["id"] for model in response.json()["data"]]
    assert ids == [*DEFAULT_MODELS, *EMBEDDING_MODELS]


async def test_an_app_serves_the_embedding_models_it_is_given() -> None:
    custom = EmbeddingModel("my-embedder", dimensions=16, max_input_tokens=4)
    app = create_app(models=("chat-a",), embedding_models=[SMALL_MODEL, custom])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local.test") as client:
        listed = (await client.get("/v1/models")).json()
        answered = await client.post("/v1/embeddings", json={"model": "my-embedder", "input": ["a b", "c"]})
        too_long = await client.post("/v1/embeddings", json={"model": "my-embedder", "input": "a b c d e"})
        not_served = await client.post("/v1/embeddings", json={"model": MODEL, "input": "x"})
    assert [model["id"] for model in listed["data"]] == ["chat-a", SMALL_MODEL, "my-embedder"]
    assert answered.status_code == 200
    assert_valid_embeddings(answered.json())
    assert [len(row["embedding"]) for row in answered.json()["data"]] == [16, 16]
    assert too_long.status_code == 400 and "maximum context length is 4 tokens" in too_long.json()["message"]
    assert not_served.status_code == 404
    with pytest.raises(ValueError, match="unknown embedding model"):
        create_app(embedding_models=["text-embedding-3-small"])
