"""`GradientEmbedding` against the local Gradient-compatible server (`local_server`), an all-Gradient RAG
(GradientEmbedding indexes, GradientLLM answers), and `GradientLLM`'s catalog-driven metadata and
`verify_model=True`.

The server's vectors are a deterministic hashed bag of words (`gradient_integrations.local.embeddings.embed`),
so each vector can be checked exactly against its text, and retrieval follows shared words. Requests are
counted (and, async, measured in flight) by transport wrappers on injected httpx clients. Nothing here
touches llama-index's global `Settings`: models are passed explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes import CountingTransport, InFlightTransport
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.response.schema import Response

from gradient_integrations.core.catalog import CATALOG, UNKNOWN_MODEL_DEFAULTS
from gradient_integrations.core.errors import InvalidRequestError, UnknownModelError
from gradient_integrations.llama_index import GradientEmbedding, GradientLLM
from gradient_integrations.local import LocalServer
from gradient_integrations.local.embeddings import embed as local_embed

MODEL = "qwen3-embedding-0.6b"
DIMENSIONS = 1024
CHAT_MODEL = "openai-gpt-oss-20b"
OVER_LONG = "word " * 9000  # ~9,000 tokens by the core's estimate: over qwen3-embedding-0.6b's 8,000

FACTS = [
    "The Gradient lighthouse on Kelp Island is painted teal.",
    "Kelp Island ferries leave every 40 minutes from Harbour Pier.",
    "The island bakery sells seaweed bread on Sundays only.",
]


def expected(text: str) -> list[float]:
    return local_embed(text, DIMENSIONS)


@pytest.fixture
def make(local_server: LocalServer, counter: CountingTransport) -> Iterator[Any]:
    """Build GradientEmbeddings on the local server whose sync requests go through `counter`."""
    http = httpx.Client(transport=counter)
    built: list[GradientEmbedding] = []

    def factory(**kwargs: Any) -> GradientEmbedding:
        kwargs.setdefault("base_url", local_server.base_url)
        model = GradientEmbedding(http_client=http, **kwargs)
        built.append(model)
        return model

    yield factory
    for model in built:
        model.close()
    http.close()


@pytest.fixture
def untouched_settings() -> Iterator[None]:
    """The test must leave llama-index's global Settings as it found them."""
    before = (Settings._llm, Settings._embed_model)
    yield
    assert (Settings._llm, Settings._embed_model) == before


# -- embeddings ---------------------------------------------------------------------------------------
def test_text_and_query_embeddings(make: Any, counter: CountingTransport) -> None:
    model = make()
    assert model.model_name == MODEL
    text = model.get_text_embedding("The lighthouse is painted teal.")
    query = model.get_query_embedding("The lighthouse is painted teal.")
    assert text == query == expected("The lighthouse is painted teal.")
    assert len(text) == DIMENSIONS and isinstance(text[0], float)
    assert counter.paths == ["/v1/embeddings"] * 2


def test_other_models_answer_with_their_dimensions(make: Any) -> None:
    assert len(make(model_name="all-mini-lm-l6-v2").get_text_embedding("hello")) == 384
    assert len(make(model="gte-large-en-v1.5").get_query_embedding("hello")) == 1024  # OpenAIEmbedding's name


def test_batch_keeps_order_in_one_request_per_batch(make: Any, counter: CountingTransport) -> None:
    texts = [f"node {number} mentions topic{number % 11} and thing{number}" for number in range(1100)]
    model = make(embed_batch_size=500)
    vectors = model.get_text_embedding_batch(texts)
    assert counter.paths == ["/v1/embeddings"] * 3  # 500 + 500 + 100
    assert vectors == [expected(text) for text in texts]


async def test_async_batches_are_bounded_by_max_concurrency(local_server: LocalServer) -> None:
    texts = [f"async node {number} about subject{number}" for number in range(100)]
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = GradientEmbedding(
            base_url=local_server.base_url,
            embed_batch_size=10,
            max_concurrency=2,
            async_http_client=http,
            default_headers={"x-gradient-fault": "latency_ms:20"},  # let requests overlap
        )
        async with model:
            vectors = await model.aget_text_embedding_batch(texts)
            query = await model.aget_query_embedding(texts[0])
            text = await model.aget_text_embedding(texts[1])
    assert transport.paths == ["/v1/embeddings"] * 12
    assert 1 <= transport.most_in_flight <= 2
    assert transport.most_in_flight == 2  # batches did run side by side, just never more than two
    assert vectors == [expected(text) for text in texts]
    assert query == vectors[0] and text == vectors[1]


@pytest.mark.parametrize(
    ("texts", "field"),
    [
        (["fine", "", "fine"], "texts[1]"),
        (["fine", 3], "texts[1]"),
        ([OVER_LONG], "texts[0]"),
    ],
)
def test_a_bad_batch_is_refused_naming_the_index_with_nothing_sent(
    make: Any, counter: CountingTransport, texts: list[Any], field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make().get_text_embedding_batch(texts)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert counter.paths == []


def test_a_bad_text_in_a_later_batch_is_named_by_its_own_index_with_nothing_sent(
    make: Any, counter: CountingTransport
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make(embed_batch_size=2).get_text_embedding_batch(["a", "b", "c", ""])
    assert (caught.value.field, counter.paths) == ("texts[3]", [])


def test_bad_single_texts_name_text_or_query(make: Any, counter: CountingTransport) -> None:
    model = make()
    with pytest.raises(InvalidRequestError) as caught:
        model.get_text_embedding("")
    assert caught.value.field == "text"
    with pytest.raises(InvalidRequestError) as caught:
        model.get_query_embedding(OVER_LONG)
    assert caught.value.field == "query"
    assert counter.paths == []


async def test_bad_async_input_is_refused_with_nothing_sent(local_server: LocalServer) -> None:
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = GradientEmbedding(base_url=local_server.base_url, async_http_client=http)
        async with model:
            with pytest.raises(InvalidRequestError) as caught:
                await model.aget_text_embedding_batch(["fine", ""])
            assert caught.value.field == "texts[1]"
            with pytest.raises(InvalidRequestError) as caught:
                await model.aget_query_embedding("")
            assert caught.value.field == "query"
    assert transport.paths == []


# -- an all-Gradient RAG ------------------------------------------------------------------------------
@pytest.fixture
def rag(
    local_server: LocalServer, untouched_settings: None
) -> Iterator[tuple[GradientEmbedding, GradientLLM]]:
    embed_model = GradientEmbedding(base_url=local_server.base_url)
    llm = GradientLLM(model=CHAT_MODEL, base_url=local_server.base_url, max_retries=0)
    yield embed_model, llm
    embed_model.close()
    llm.close()


def test_vector_index_retrieves_by_gradient_embeddings_and_answers_with_gradient_llm(
    rag: tuple[GradientEmbedding, GradientLLM],
) -> None:
    embed_model, llm = rag
    index = VectorStoreIndex.from_documents([Document(text=fact) for fact in FACTS], embed_model=embed_model)
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)
    response = engine.query("What colour is the lighthouse painted?")
    assert isinstance(response, Response) and response.response
    assert len(response.source_nodes) == 1
    assert response.source_nodes[0].node.get_content() == FACTS[0]
    assert FACTS[0] in response.response  # the retrieved context reached the model

    response = engine.query("When does the bakery sell seaweed bread?")
    assert response.source_nodes[0].node.get_content() == FACTS[2]


async def test_vector_index_async_query(rag: tuple[GradientEmbedding, GradientLLM]) -> None:
    embed_model, llm = rag
    index = VectorStoreIndex.from_documents([Document(text=fact) for fact in FACTS], embed_model=embed_model)
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    response = await engine.aquery("How often do Kelp Island ferries leave Harbour Pier?")
    assert isinstance(response, Response) and response.response
    assert response.source_nodes[0].node.get_content() == FACTS[1]
    assert response.source_nodes[0].score > response.source_nodes[1].score
    assert FACTS[1] in response.response
    await embed_model.aclose()
    await llm.aclose()


# -- GradientLLM: catalog metadata and verify_model ------------------------------------------------------
def test_metadata_comes_from_the_catalog() -> None:
    info = CATALOG.get("openai-gpt-oss-120b")
    assert info is not None and info.context_window is not None
    metadata = GradientLLM(model="openai-gpt-oss-120b").metadata
    assert metadata.context_window == info.context_window == 131072
    assert metadata.is_function_calling_model is True
    assert metadata.is_chat_model is True
    assert metadata.model_name == "openai-gpt-oss-120b"
    # max output equals the whole window for this model: what LlamaIndex reserves is capped at a quarter.
    assert metadata.num_output == min(info.max_output_tokens or 0, info.context_window // 4)


def test_unknown_model_metadata_is_conservative() -> None:
    metadata = GradientLLM(model="no-such-model-in-the-catalog").metadata
    assert metadata.context_window == UNKNOWN_MODEL_DEFAULTS["context_window"] == 8192
    assert metadata.is_function_calling_model is False
    assert metadata.num_output == min(UNKNOWN_MODEL_DEFAULTS["max_output_tokens"], 8192 // 4)


def test_metadata_overrides_win() -> None:
    metadata = GradientLLM(
        model="no-such-model-in-the-catalog",
        context_window=32000,
        is_function_calling_model=True,
        max_tokens=500,
    ).metadata
    assert (metadata.context_window, metadata.is_function_calling_model, metadata.num_output) == (
        32000,
        True,
        500,
    )
    assert (
        GradientLLM(
            model="openai-gpt-oss-120b", is_function_calling_model=False
        ).metadata.is_function_calling_model
        is False
    )


def test_verify_model_raises_before_the_first_chat(
    local_server: LocalServer, counter: CountingTransport
) -> None:
    with httpx.Client(transport=counter) as http:
        llm = GradientLLM(
            model="openai-gpt-oss-12b", base_url=local_server.base_url, verify_model=True, http_client=http
        )
        with llm:
            with pytest.raises(UnknownModelError) as caught:
                llm.chat([ChatMessage(role="user", content="hi")])
            assert "openai-gpt-oss-120b" in caught.value.suggestions
            assert "openai-gpt-oss-120b" in str(caught.value)
            with pytest.raises(UnknownModelError):
                llm.complete("hi")
    assert counter.paths == ["/v1/models"]


async def test_verify_model_async_raises_before_the_first_chat(local_server: LocalServer) -> None:
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        llm = GradientLLM(
            model="openai-gpt-oss-12b",
            base_url=local_server.base_url,
            verify_model=True,
            async_http_client=http,
        )
        async with llm:
            with pytest.raises(UnknownModelError):
                await llm.achat([ChatMessage(role="user", content="hi")])
    assert transport.paths == ["/v1/models"]


def test_verify_model_with_a_listed_model_lists_once(
    local_server: LocalServer, counter: CountingTransport
) -> None:
    with httpx.Client(transport=counter) as http:
        llm = GradientLLM(
            model="llama3.3-70b-instruct", base_url=local_server.base_url, verify_model=True, http_client=http
        )
        with llm:
            for word in ("one", "two", "three"):
                assert (
                    llm.chat([ChatMessage(role="user", content=word)]).message.content == f"You said: {word}"
                )
    assert counter.paths == ["/v1/models"] + ["/v1/responses"] * 3


def test_pickling_drops_the_key_and_live_state_quietly(
    local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import pickle

    secret = "sk-do-llama-embedding-secret-77"
    model = GradientEmbedding(api_key=secret, base_url=local_server.base_url, max_concurrency=2)
    with model:
        asyncio.run(model.aget_text_embedding("warm the client and a gate"))  # live pool and semaphore
        with caplog.at_level("WARNING"):
            data = pickle.dumps(model)
        asyncio.run(model.aclose())
    assert secret.encode() not in data
    assert not caplog.records  # nothing was "unpickleable" (llama-index logs what it drops)
    restored = pickle.loads(data)
    with restored:
        assert restored.api_key is None  # re-read from the environment: none here
        assert restored.get_text_embedding("pickled") == expected("pickled")
