"""`GradientEmbedding`: DigitalOcean Gradient's `POST /v1/embeddings` as a LlamaIndex `BaseEmbedding`.

Mapping only. LlamaIndex splits texts into `embed_batch_size` batches itself (at most 2,048, the
endpoint's limit); each batch is one core `EmbeddingCall` (texts checked, naming `texts[i]`, before any
request), sent by the core's `ResponsesClient` with the same settings, retries and typed errors as
`GradientLLM`. LlamaIndex runs async batches all at once (`asyncio.gather`) unless `num_workers` is set,
so this class bounds them itself: at most `max_concurrency` requests in flight per event loop.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field, PrivateAttr, SecretStr

from gradient_integrations.core import ResponsesClient
from gradient_integrations.core.embeddings import (
    DEFAULT_EMBEDDING_CONCURRENCY,
    EmbeddingCall,
    EncodingFormat,
)
from gradient_integrations.core.lifecycle import ClosesClient
from gradient_integrations.core.secrets import AccessKey
from gradient_integrations.core.settings import Settings

__all__ = ["DEFAULT_EMBEDDING_MODEL", "DEFAULT_EMBED_BATCH_SIZE", "GradientEmbedding"]

DEFAULT_EMBEDDING_MODEL = "qwen3-embedding-0.6b"
# Texts per request. LlamaIndex's own default is 10; nodes are ~1 KiB chunks, so 512 keeps a request
# around half a megabyte while cutting the round trips 50-fold.
DEFAULT_EMBED_BATCH_SIZE = 512


class GradientEmbedding(ClosesClient, BaseEmbedding):
    """Gradient serverless embeddings for LlamaIndex (`VectorStoreIndex`, retrievers, ingestion).

    ```python
    from gradient_integrations.llama_index import GradientEmbedding

    embed_model = GradientEmbedding()  # qwen3-embedding-0.6b; key from GRADIENT_MODEL_ACCESS_KEY
    vector = embed_model.get_text_embedding("Gradient serves embeddings")
    ```
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, min_length=1, description="Embedding model id.")
    embed_batch_size: int = Field(
        default=DEFAULT_EMBED_BATCH_SIZE, gt=0, le=2048, description="Texts per request (at most 2,048)."
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    base_url: str | None = Field(default=None, description="Endpoint root; else GRADIENT_INFERENCE_ENDPOINT.")
    timeout: float | None = Field(default=None, description="Seconds per request (default 60).")
    max_retries: int | None = Field(default=None, description="Retries of failed calls (default 2).")
    deadline: float | None = Field(default=None, description="Seconds for a whole call, retries included.")
    max_response_bytes: int | None = Field(default=None, description="Largest answer in bytes (16 MiB).")
    allow_insecure_http: bool = Field(default=False, description="Send the key over http to a remote host.")
    default_headers: dict[str, str] | None = Field(default=None, description="Headers on every request.")
    max_concurrency: int = Field(
        default=DEFAULT_EMBEDDING_CONCURRENCY, gt=0, le=64, description="Async requests in flight at once."
    )
    user: str | None = Field(default=None, description="End-user id for abuse tracking.")
    encoding_format: EncodingFormat = Field(default="float", description="JSON floats, or base64 (smaller).")
    check_length: bool = Field(
        default=True, description="Refuse a text over the model's input limit (from the catalog)."
    )

    _client: ResponsesClient | None = PrivateAttr(default=None)
    # One semaphore per event loop (a semaphore belongs to the loop it first waits on); made on first use.
    _gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = PrivateAttr(
        default=None
    )

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        if "model" in kwargs:  # OpenAIEmbedding's spelling
            model_name = kwargs.pop("model")
        super().__init__(model_name=model_name, api_key=AccessKey.of(api_key), **kwargs)
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._settings()  # a bad URL or timeout fails here, naming it
        self._call()

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "gradient_embedding"

    def _settings(self) -> Settings:
        return Settings.of(self)

    def _call(self) -> EmbeddingCall:
        return EmbeddingCall(
            self.model_name,
            batch_size=self.embed_batch_size,
            max_concurrency=self.max_concurrency,
            user=self.user,
            encoding_format=self.encoding_format,
            check_length=self.check_length,
        )

    @property
    def client(self) -> ResponsesClient:
        if self._client is None:
            self._client = ResponsesClient.from_settings(
                self._settings(), http_client=self._http_client, http_async_client=self._async_http_client
            )
        return self._client

    def __getstate__(self) -> dict[Any, Any]:
        live = (self._client, self._http_client, self._async_http_client, self._gates)
        self._client, self._http_client, self._async_http_client, self._gates = None, None, None, None
        try:
            return super().__getstate__()
        finally:
            self._client, self._http_client, self._async_http_client, self._gates = live

    def _gate(self) -> asyncio.Semaphore:
        if self._gates is None:
            self._gates = weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_concurrency)
        return gate

    # -- BaseEmbedding --------------------------------------------------------------------------------
    # LlamaIndex cuts the list into `embed_batch_size` batches before `_get_text_embeddings` sees one:
    # check the whole list first, so a bad text is named by its place in the caller's list and no batch
    # has been sent when it is refused.
    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[list[float]]:
        self._call().texts(texts, "texts")
        return super().get_text_embedding_batch(texts, show_progress=show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[list[float]]:
        self._call().texts(texts, "texts")
        return await super().aget_text_embedding_batch(texts, show_progress=show_progress, **kwargs)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._call().run(self.client, [query], field="query", one=True).vectors[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._call().run(self.client, [text], field="text", one=True).vectors[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._call().send(self.client, texts).vectors  # checked by get_text_embedding_batch

    async def _aget_query_embedding(self, query: str) -> list[float]:
        async with self._gate():
            result = await self._call().arun(self.client, [query], field="query", one=True)
        return result.vectors[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        async with self._gate():
            result = await self._call().arun(self.client, [text], field="text", one=True)
        return result.vectors[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        async with self._gate():
            result = await self._call().asend(self.client, texts)  # checked by aget_text_embedding_batch
        return result.vectors
