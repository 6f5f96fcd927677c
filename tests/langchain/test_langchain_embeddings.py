"""`GradientEmbeddings` against the local Gradient-compatible server (`local_server`): batching and order,
sync/async agreement, a vector-store round trip, input checks before any request, retries, auth errors and
key hygiene (repr, pickle, dumpd), and the base64 wire format.

The server's vectors are a deterministic hashed bag of words (`gradient_integrations.local.embeddings.embed`),
so a vector can be checked exactly against the text it should belong to, and cosine similarity follows
shared words. Requests are counted by a transport wrapper on an injected httpx client.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes import CountingTransport, InFlightTransport
from langchain_core.documents import Document
from langchain_core.load import dumpd, dumps
from langchain_core.vectorstores import InMemoryVectorStore

from gradient_integrations.core.errors import AuthenticationError, InvalidRequestError
from gradient_integrations.langchain import GradientEmbeddings
from gradient_integrations.local import LocalServer
from gradient_integrations.local.embeddings import embed as local_embed

MODEL = "qwen3-embedding-0.6b"
DIMENSIONS = 1024
SECRET = "sk-do-embeddings-secret-4242"
OVER_LONG = "word " * 9000  # ~9,000 tokens by the core's estimate: over qwen3-embedding-0.6b's 8,000


@pytest.fixture
def make(local_server: LocalServer, counter: CountingTransport) -> Iterator[Any]:
    """Build GradientEmbeddings on the local server whose sync requests go through `counter`."""
    http = httpx.Client(transport=counter)
    built: list[GradientEmbeddings] = []

    def factory(**kwargs: Any) -> GradientEmbeddings:
        options: dict[str, Any] = {"model": MODEL, "base_url": local_server.base_url, "http_client": http}
        options.update(kwargs)
        model = GradientEmbeddings(**options)
        built.append(model)
        return model

    yield factory
    for model in built:
        model.close()
    http.close()


def expected(text: str) -> list[float]:
    """The local server's vector for `text` (float32 values, as JSON carries them)."""
    return local_embed(text, DIMENSIONS)


def cosine(left: list[float], right: list[float]) -> float:
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    return dot / (math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right)))


# -- batching and order ---------------------------------------------------------------------------------
def test_five_thousand_texts_keep_their_order_in_five_requests(make: Any, counter: CountingTransport) -> None:
    texts = [f"document {number} about topic{number % 7} and item{number}" for number in range(5000)]
    model = make(chunk_size=1000)
    assert model.batch_size == 1000  # `chunk_size` is OpenAIEmbeddings' spelling of `batch_size`
    vectors = model.embed_documents(texts)
    assert counter.paths == ["/v1/embeddings"] * 5
    assert len(vectors) == 5000
    assert all(len(vector) == DIMENSIONS for vector in vectors)
    # Each vector is exactly the one for its own text: nothing was reordered within or across requests.
    for index in (0, 1, 999, 1000, 1001, 2500, 3999, 4000, 4999):
        assert vectors[index] == expected(texts[index]), index
    assert vectors == [expected(text) for text in texts]


def test_embed_query_equals_the_first_document_vector(make: Any) -> None:
    model = make()
    query = "Which ferry leaves from Harbour Pier?"
    assert model.embed_query(query) == model.embed_documents([query])[0] == expected(query)
    assert model.embed_documents([]) == []


async def test_async_with_bounded_concurrency_matches_sync(make: Any, local_server: LocalServer) -> None:
    texts = [f"async text {number} shares words with sync text {number}" for number in range(25)]
    sync_vectors = make(chunk_size=3).embed_documents(texts)
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = GradientEmbeddings(
            model=MODEL,
            base_url=local_server.base_url,
            chunk_size=3,
            max_concurrency=2,
            http_async_client=http,
            default_headers={"x-gradient-fault": "latency_ms:20"},  # let requests overlap
        )
        async with model:
            async_vectors = await model.aembed_documents(texts)
            async_query = await model.aembed_query(texts[0])
    assert async_vectors == sync_vectors
    assert async_query == sync_vectors[0]
    assert transport.paths.count("/v1/embeddings") == 9 + 1  # ceil(25 / 3) batches, then the query
    assert transport.most_in_flight == 2


def test_in_memory_vector_store_finds_the_document_that_shares_words(make: Any) -> None:
    store = InMemoryVectorStore(embedding=make())
    store.add_documents(
        [
            Document(page_content="The lighthouse on Kelp Island is painted teal.", id="lighthouse"),
            Document(page_content="Ferries leave every forty minutes from Harbour Pier.", id="ferry"),
            Document(page_content="The bakery sells seaweed bread on Sundays.", id="bakery"),
        ]
    )
    found = store.similarity_search("What colour is the lighthouse painted?", k=1)
    assert [document.id for document in found] == ["lighthouse"]
    ranked = store.similarity_search_with_score("seaweed bread bakery", k=3)
    assert ranked[0][0].id == "bakery"
    assert ranked[0][1] > ranked[1][1]


def test_similar_texts_are_closer_than_unrelated_ones(make: Any) -> None:
    model = make()
    base, near, far = model.embed_documents(
        ["gradient serverless embeddings", "serverless embeddings on gradient", "seaweed bread on sundays"]
    )
    assert cosine(base, near) > 0.9
    assert cosine(base, far) < cosine(base, near)


# -- input checks: before any request -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "field"),
    [
        (["fine", "", "also fine"], "texts[1]"),
        (["fine", "fine", 42], "texts[2]"),
        (["fine", None], "texts[1]"),
        ([OVER_LONG, "fine"], "texts[0]"),
        (["a", "b", "c", OVER_LONG], "texts[3]"),
    ],
)
def test_bad_documents_are_refused_naming_the_index_with_nothing_sent(
    make: Any, counter: CountingTransport, texts: list[Any], field: str
) -> None:
    # chunk_size=2: the bad text may sit in a later batch, and still no batch is sent, and the index is
    # the text's position in the caller's list, not in its batch.
    with pytest.raises(InvalidRequestError) as caught:
        make(chunk_size=2).embed_documents(texts)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert counter.paths == []


@pytest.mark.parametrize("text", ["", 7, OVER_LONG])
def test_a_bad_query_is_refused_naming_text_with_nothing_sent(
    make: Any, counter: CountingTransport, text: Any
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make().embed_query(text)
    assert caught.value.field == "text"
    assert counter.paths == []


async def test_bad_input_is_refused_before_any_async_request(local_server: LocalServer) -> None:
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = GradientEmbeddings(
            model=MODEL, base_url=local_server.base_url, chunk_size=2, http_async_client=http
        )
        async with model:
            with pytest.raises(InvalidRequestError) as caught:
                await model.aembed_documents(["a", "b", "c", ""])
            assert caught.value.field == "texts[3]"
            with pytest.raises(InvalidRequestError) as caught:
                await model.aembed_query(OVER_LONG)
            assert caught.value.field == "text"
    assert transport.paths == []


def test_a_single_string_is_not_taken_for_a_list_of_characters(make: Any, counter: CountingTransport) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make().embed_documents("one string")  # type: ignore[arg-type]
    assert caught.value.field == "texts"
    assert counter.paths == []


def test_over_long_text_is_sent_when_the_length_check_is_off(make: Any, counter: CountingTransport) -> None:
    # The server has the same limit: with the client check off, the 400 comes from the endpoint instead.
    from gradient_integrations.core.errors import BadRequestError

    with pytest.raises(BadRequestError):
        make(check_embedding_ctx_length=False, max_retries=0).embed_documents([OVER_LONG])
    assert counter.paths == ["/v1/embeddings"]


# -- retries and errors -------------------------------------------------------------------------------
def test_a_429_is_retried_then_succeeds(make: Any, counter: CountingTransport) -> None:
    headers = {"x-gradient-fault": "rate_limit:1", "x-gradient-fault-key": f"emb-429-{uuid.uuid4()}"}
    model = make(default_headers=headers, max_retries=2)
    assert model.embed_documents(["retried text"]) == [expected("retried text")]
    assert counter.paths == ["/v1/embeddings", "/v1/embeddings"]


def test_a_429_with_no_retries_left_is_a_rate_limit_error(make: Any, counter: CountingTransport) -> None:
    from gradient_integrations.core.errors import RateLimitError

    headers = {"x-gradient-fault": "rate_limit:1", "x-gradient-fault-key": f"emb-429-{uuid.uuid4()}"}
    with pytest.raises(RateLimitError):
        make(default_headers=headers, max_retries=0).embed_documents(["not retried"])
    assert counter.paths == ["/v1/embeddings"]


def test_a_wrong_key_is_an_authentication_error_that_never_shows_the_key() -> None:
    with LocalServer(api_key="sk-do-the-servers-key") as server:
        wrong = GradientEmbeddings(model=MODEL, base_url=server.base_url, api_key=SECRET)
        with wrong, pytest.raises(AuthenticationError) as caught:
            wrong.embed_documents(["hello"])
        assert caught.value.status_code == 401
        for shown in (str(caught.value), repr(caught.value), str(caught.value.args)):
            assert SECRET not in shown
        assert SECRET.encode() not in pickle.dumps(caught.value)
        right = GradientEmbeddings(model=MODEL, base_url=server.base_url, api_key="sk-do-the-servers-key")
        with right:
            assert right.embed_query("hello") == expected("hello")


# -- key hygiene --------------------------------------------------------------------------------------
def test_repr_and_str_hide_the_key() -> None:
    model = GradientEmbeddings(model=MODEL, api_key=SECRET, base_url="http://127.0.0.1:1")
    for shown in (repr(model), str(model), model.model_dump_json(), str(model.model_dump())):
        assert SECRET not in shown
    assert model.api_key is not None and model.api_key.get_secret_value() == SECRET


def test_dumpd_hides_the_key() -> None:
    model = GradientEmbeddings(model=MODEL, api_key=SECRET, base_url="http://127.0.0.1:1")
    assert SECRET not in str(dumpd(model))
    assert SECRET not in dumps(model)


def test_pickle_drops_the_key_and_the_unpickled_model_works(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = CountingTransport(httpx.HTTPTransport())
    with httpx.Client(transport=transport) as http:
        original = GradientEmbeddings(
            model=MODEL, api_key=SECRET, base_url=local_server.base_url, http_client=http, chunk_size=7
        )
        with original:
            before = original.embed_query("pickled model")  # a live client and pool exist
            data = pickle.dumps(original)
    assert SECRET.encode() not in data
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "sk-do-key-from-env-after-load")
    restored = pickle.loads(data)
    with restored:
        assert restored.api_key is not None
        assert restored.api_key.get_secret_value() == "sk-do-key-from-env-after-load"
        assert (restored.model, restored.batch_size, restored.http_client) == (MODEL, 7, None)
        assert restored.embed_query("pickled model") == before
        assert asyncio.run(restored.aembed_query("pickled model")) == before


def test_pickle_without_a_key_in_the_environment_gives_a_keyless_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY"):
        monkeypatch.delenv(name, raising=False)
    restored = pickle.loads(pickle.dumps(GradientEmbeddings(model=MODEL, api_key=SECRET)))
    assert restored.api_key is None


# -- wire format --------------------------------------------------------------------------------------
def test_base64_gives_the_same_vectors_as_float(make: Any, counter: CountingTransport) -> None:
    texts = ["hello world", "the lighthouse is painted teal", "Ferries leave every forty minutes."]
    as_floats = make().embed_documents(texts)
    as_base64 = make(encoding_format="base64").embed_documents(texts)
    assert as_base64 == as_floats
    assert as_floats == [expected(text) for text in texts]
    assert counter.paths == ["/v1/embeddings", "/v1/embeddings"]


def test_base64_of_a_sparse_vector_with_only_odd_components(make: Any) -> None:
    assert make(encoding_format="base64").embed_documents(["!", "foo"]) == [expected("!"), expected("foo")]
