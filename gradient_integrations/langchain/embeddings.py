"""`GradientEmbeddings`: DigitalOcean Gradient's `POST /v1/embeddings` as LangChain `Embeddings`.

This class only maps: the core's `EmbeddingCall` checks the texts (an empty string, a non-string or an
input over the model's limit is an InvalidRequestError naming `texts[i]`, before any request), splits them
into requests of at most `batch_size` strings and keeps their order; the core's `ResponsesClient` does
every HTTP concern, with the same settings, key handling, retries and typed errors as `ChatGradient`.
Async calls run up to `max_concurrency` requests at once.
"""

from __future__ import annotations

import httpx
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator
from typing_extensions import Self

from ..core import ResponsesClient, Settings
from ..core.embeddings import (
    DEFAULT_EMBEDDING_CONCURRENCY,
    MAX_EMBEDDING_INPUTS,
    EmbeddingCall,
    EncodingFormat,
)
from ..core.secrets import AccessKey, key_from_environment
from ._client import HoldsClient

__all__ = ["DEFAULT_EMBEDDING_MODEL", "GradientEmbeddings"]

DEFAULT_EMBEDDING_MODEL = "qwen3-embedding-0.6b"


class GradientEmbeddings(HoldsClient, BaseModel, Embeddings):
    """Gradient serverless embeddings for LangChain (vector stores, retrievers, semantic caches).

    ```python
    from gradient_integrations.langchain import GradientEmbeddings

    embeddings = GradientEmbeddings()  # qwen3-embedding-0.6b; key from GRADIENT_MODEL_ACCESS_KEY
    vectors = embeddings.embed_documents(["Gradient serves embeddings", "and chat models"])
    ```
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = Field(default=DEFAULT_EMBEDDING_MODEL, alias="model_name", min_length=1)
    """Embedding model id, e.g. `qwen3-embedding-0.6b` (see `GET /v1/models`)."""
    api_key: SecretStr | None = Field(default_factory=key_from_environment, repr=False)
    """Access key; default from GRADIENT_MODEL_ACCESS_KEY, MODEL_ACCESS_KEY, DIGITALOCEAN_INFERENCE_KEY."""
    base_url: str | None = None
    """Endpoint root, with or without `/v1`; default GRADIENT_INFERENCE_ENDPOINT, else DO's endpoint."""
    timeout: float | tuple[float, float] | httpx.Timeout | None = None
    max_retries: int | None = None
    deadline: float | None = None
    max_response_bytes: int | None = None
    allow_insecure_http: bool = False
    default_headers: dict[str, str] | None = None
    batch_size: int = Field(default=MAX_EMBEDDING_INPUTS, alias="chunk_size")
    """Texts per request, at most 2,048 (the endpoint's limit). `chunk_size` as in OpenAIEmbeddings."""
    max_concurrency: int = DEFAULT_EMBEDDING_CONCURRENCY
    """Requests in flight at once in `aembed_documents`."""
    user: str | None = None
    encoding_format: EncodingFormat = "float"
    """How vectors travel: JSON floats, or base64 (smaller; float32 or float64, told apart on reading)."""
    check_embedding_ctx_length: bool = True
    """Refuse, naming the index, a text the catalog's input limit for the model says is too long."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)

    _client: ResponsesClient | None = PrivateAttr(default=None)

    @field_validator("api_key", mode="after")
    @classmethod
    def _hold_key(cls, key: SecretStr | None) -> AccessKey | None:
        return AccessKey.of(key)

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._settings()  # a bad URL or timeout fails here, naming it
        self._options()
        return self

    def _settings(self) -> Settings:
        return Settings.of(self)

    def _options(self) -> EmbeddingCall:
        """The checked options of a call (built per call: fields may be assigned after construction)."""
        return EmbeddingCall(
            self.model,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            user=self.user,
            encoding_format=self.encoding_format,
            check_length=self.check_embedding_ctx_length,
        )

    # -- Embeddings -----------------------------------------------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        return self._options().run(self.client, texts).vectors

    def embed_query(self, text: str) -> list[float]:
        return self._options().run(self.client, [text], field="text", one=True).vectors[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self._options().arun(self.client, texts)).vectors

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._options().arun(self.client, [text], field="text", one=True)).vectors[0]
