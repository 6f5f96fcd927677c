"""`ChatGradient`: a LangChain chat model for DigitalOcean Gradient's `POST /v1/responses`.

This class only maps. Messages and tools become a core `ResponseRequest` (`_messages`, `_tools`), the
core `ResponsesClient` does every HTTP concern (retries, timeouts, typed errors, SSE), and its results
and stream deltas become `AIMessage`s and chunks. Sync and async differ in one line each: `client.create`
vs `client.acreate`, `client.stream` vs `client.astream`; the request and the mapping are shared.

The access key is a `SecretStr` that never appears in `repr`, `dumpd` (it is an `lc_secret`) or a
pickle: an unpickled model re-reads the key from the environment. The core client is created lazily and
is never pickled or copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from .. import __version__
from ..core import ResponseRequest, ResponseResult, ResponsesClient, Settings, values
from ..core.batch_jobs import BatchJob
from ..core.errors import InvalidRequestError
from ..core.options import CallOptions, constructor_arguments, field_names, resolve_options
from ..core.secrets import AccessKey, key_from_environment
from ..core.settings import DEFAULT_STREAM_IDLE_TIMEOUT, normalize_base_url
from ..core.tokens import estimate_message_tokens, estimate_tokens
from ._client import HoldsClient
from ._messages import ChunkMapper, StreamSource, message_from_result, messages_to_input
from ._profiles import model_profile
from ._structured import StructuredOutputMethod, structured_output
from ._tools import ToolLike, tool_names, tools_for_call, tools_to_wire

__all__ = ["ChatGradient"]

# Request fields this class holds as its own fields (the rest of the vocabulary goes to model_kwargs).
_FIELD_FOR = {
    "model": "model",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "stop": "stop",
    "instructions": "instructions",
    "metadata": "request_metadata",
    "user": "user",
    "parallel_tool_calls": "parallel_tool_calls",
    "reasoning": "reasoning",
}
# LangChain's own per-call flags, not request options.
_LANGCHAIN_CALL_FLAGS = ("stream", "ls_structured_output_format")


@dataclass(frozen=True)
class _Call:
    """One prepared call: the validated request plus what the adapter needs around it."""

    request: ResponseRequest
    extra_headers: Mapping[str, str] | None
    include_usage: bool
    parse_as: type[BaseModel] | None  # a pydantic `response_format`: the answer is also parsed into it


class ChatGradient(HoldsClient, BaseChatModel):
    """DigitalOcean Gradient serverless inference (`/v1/responses`) as a LangChain chat model.

    ```python
    from gradient_integrations.langchain import ChatGradient

    model = ChatGradient(model="openai-gpt-oss-120b")  # key from GRADIENT_MODEL_ACCESS_KEY
    model.invoke("Hello")
    ```

    Every request option of the core's table (`gradient_integrations.core.options.OPTIONS`) may be set on
    the instance, in `model_kwargs` or per call (`invoke(..., temperature=, max_tokens=, response_format=,
    reasoning_effort=, extra_body=, extra_headers=)`), later winning. The endpoint's `metadata` field is
    `request_metadata` here: the inherited `metadata` is LangChain's trace metadata (LangChain writes
    `lc_versions` into it, and `invoke(metadata=...)` is taken by LangChain's own signature).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    model: str = Field(alias="model_name", min_length=1)
    """Model id, e.g. `openai-gpt-oss-120b` (see `GET /v1/models`)."""
    api_key: SecretStr | None = Field(default_factory=key_from_environment, repr=False)
    """Access key; default from GRADIENT_MODEL_ACCESS_KEY, MODEL_ACCESS_KEY, DIGITALOCEAN_INFERENCE_KEY."""
    base_url: str | None = None
    """Endpoint root, with or without `/v1`; default GRADIENT_INFERENCE_ENDPOINT, else DO's endpoint."""
    timeout: float | tuple[float, float] | httpx.Timeout | None = None
    """Seconds (or (connect, read), or an `httpx.Timeout`); default 60 s, 5 s to connect."""
    max_retries: int | None = None
    """Retries on 408/409/429/5xx and connection errors, never after a stream began; default 2."""
    stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT
    """Longest wait between two stream chunks: min(read timeout, this); default the read timeout."""
    deadline: float | None = None
    """Seconds for a whole call, retries and the whole stream included; `math.inf` for none. Default:
    (max_retries + 1) x (connect + read timeout) until the answer begins, then a stream runs on."""
    max_response_bytes: int | None = None
    """Largest JSON answer (decompressed) and stream line or event, in bytes; default 16 MiB."""
    allow_insecure_http: bool = False
    """Send the key over plain `http://` to a host that is not loopback (a trusted network only)."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, alias="max_output_tokens")
    stop: list[str] | str | None = None
    streaming: bool = False
    """Make `invoke` stream under the hood (callbacks then see every token)."""
    stream_usage: bool = True
    """Ask for token usage on streams (it arrives on the last chunk)."""
    instructions: str | None = None
    request_metadata: dict[str, str] | None = None
    """The request body's `metadata` (string values, at most 16 pairs)."""
    user: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning: dict[str, Any] | None = None
    """Sent as-is, e.g. `{"effort": "low"}` for gpt-oss models (`reasoning_effort="low"` is the same)."""
    default_headers: dict[str, str] | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """More request options by any name of the core's table; unknown names are sent verbatim."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Merged into every request body last, unvalidated."""
    verify_model: bool = False
    """Before the first call, check `GET /v1/models` lists `model` (else UnknownModelError, "did you
    mean ..."); the list is fetched once per client."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)

    _client: ResponsesClient | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        # Every spelling a user brings (ChatOpenAI's names, aliases of the core's table) is mapped here,
        # and anything unknown is an InvalidRequestError naming it, before pydantic sees it.
        arguments = constructor_arguments(
            kwargs,
            owner="ChatGradient",
            accepted=_accepted_arguments(),
            field_for=_FIELD_FOR,
            kwargs_field="model_kwargs",
        )
        super().__init__(**arguments)
        if hasattr(self, "_add_version"):  # newer langchain-core records package versions for traces
            self._add_version("gradient-integrations", __version__)
        # Everything the request would reject fails here, with our error naming the field.
        self._settings()
        self._options({}).request("-")

    @field_validator("api_key", mode="after")
    @classmethod
    def _hold_key(cls, key: SecretStr | None) -> AccessKey | None:
        return AccessKey.of(key)

    # -- LangChain identity and serialization ---------------------------------------------------------
    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "GRADIENT_MODEL_ACCESS_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["gradient_integrations", "langchain"]

    @property
    def _llm_type(self) -> str:
        return "gradient-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        fields = dict(self._options({}).fields)
        fields.pop("stream_options", None)  # how streams report usage, not what the model is
        return {"model_name": fields.pop("model"), "base_url": normalize_base_url(self.base_url), **fields}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "gradient"
        max_tokens = kwargs.get("max_tokens", kwargs.get("max_output_tokens", self.max_tokens))
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop if stop is not None else self.stop
        if ls_stop:
            params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        """The catalog's facts for `model` (None for a model it does not know, as ChatOpenAI does)."""
        return model_profile(self.model)

    # -- offline token counting (an estimate: no tokenizer download) ------------------------------------
    def get_num_tokens(self, text: str) -> int:
        """Estimated tokens in `text` (`core.tokens`: no download; its measured error is documented)."""
        return estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimated input tokens (`usage.input_tokens`) of the request these messages (and tools) make."""
        call: dict[str, Any] = {"tools": tools_to_wire(tools)} if tools else {}
        body = self._options(call).request(messages_to_input(messages)).to_body(stream=False)
        return estimate_message_tokens(
            body["input"], body.get("instructions"), tools=body.get("tools"), model=self.model
        )

    def _settings(self) -> Settings:
        return Settings.of(self)

    # -- request building (shared by all four call paths) ----------------------------------------------
    def _options(self, call: Mapping[str, Any]) -> CallOptions:
        instance = {
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "instructions": self.instructions,
            "request_metadata": self.request_metadata,
            "user": self.user,
            "parallel_tool_calls": self.parallel_tool_calls,
            "reasoning": self.reasoning,
            "stream_usage": self.stream_usage,
        }
        return resolve_options(
            instance, self.model_kwargs, call, owner="ChatGradient", extra_body=self.extra_body
        )

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> _Call:
        call = {name: value for name, value in kwargs.items() if name not in _LANGCHAIN_CALL_FLAGS}
        if stop is not None:
            call["stop"] = stop
        if call.get("tools"):
            call["tools"] = tools_for_call(call["tools"])  # bound ones are wire dicts already
        response_format = call.get("response_format")
        options = self._options(call)
        request = options.request(messages_to_input(messages))
        parse_as = response_format if _is_pydantic_class(response_format) else None
        include_usage = request.stream_options is None or request.stream_options.include_usage
        return _Call(request, options.extra_headers, include_usage, parse_as)

    # -- the four call paths -------------------------------------------------------------------------
    # `verify_model`: the client lists the models once; each call only looks its model up in that list.
    def _verify(self, call: _Call) -> None:
        if self.verify_model:
            self.client.check_model(call.request.model)

    async def _averify(self, call: _Call) -> None:
        if self.verify_model:
            await self.client.acheck_model(call.request.model)

    def _result(self, result: ResponseResult, call: _Call) -> ChatResult:
        message = message_from_result(
            result, requested_model=call.request.model, blocks=self.output_version == "v1"
        )
        if call.parse_as is not None and not message.tool_calls:
            # As ChatOpenAI does for a pydantic `response_format`: the parsed answer, or None.
            try:
                message.additional_kwargs["parsed"] = call.parse_as.model_validate_json(result.text)
            except ValidationError:
                message.additional_kwargs["parsed"] = None
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _chunk_mapper(self, stream: StreamSource, call: _Call) -> ChunkMapper:
        return ChunkMapper(
            stream,
            requested_model=call.request.model,
            include_usage=call.include_usage,
            blocks=self.output_version == "v1",
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        self._verify(call)
        return self._result(self.client.create(call.request, extra_headers=call.extra_headers), call)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        await self._averify(call)
        return self._result(await self.client.acreate(call.request, extra_headers=call.extra_headers), call)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        self._verify(call)
        with self.client.stream(call.request, extra_headers=call.extra_headers) as stream:
            to_chunk = self._chunk_mapper(stream, call)
            for delta in stream:
                chunk = to_chunk(delta)
                # LangChain's own stream()/invoke fire tokens themselves and pass no run_manager here;
                # its event-protocol path passes one and expects the model to report tokens.
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        await self._averify(call)
        async with self.client.astream(call.request, extra_headers=call.extra_headers) as stream:
            to_chunk = self._chunk_mapper(stream, call)
            async for delta in stream:
                chunk = to_chunk(delta)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    # -- Batch Inference (see `batch`: the function forms also take bindings and structured output) -----
    def _batch_message(self, result: ResponseResult, call: _Call | None) -> AIMessage:
        if call is None:
            return message_from_result(result, requested_model=self.model)
        message = self._result(result, call).generations[0].message
        assert isinstance(message, AIMessage)
        return message

    @staticmethod
    def _not_through_binding(config: Any) -> None:
        # A RunnableBinding forwards a method call with `config=` filled in but without its bound options
        # (tools, response_format): refuse instead of submitting lines that silently lack them.
        if config is not None:
            raise InvalidRequestError(
                "submit_batch",
                "called through a binding (bind_tools, bind, with_config), whose bound options a method "
                "call cannot see; use gradient_integrations.langchain.submit_batch(bound, inputs)",
            )

    def submit_batch(
        self,
        inputs: Sequence[LanguageModelInput],
        *,
        batch_metadata: Mapping[str, str] | None = None,
        config: Any = None,
        **call_options: Any,
    ) -> BatchJob[AIMessage]:
        """Submit `inputs` (strings, message lists, prompt values) as a DigitalOcean Batch Inference job.

        Each line's body is what `invoke(input, **call_options)` would send. Returns a `BatchJob`: `.id`
        (keep it to re-attach with `batch_job(id)`), `.status`, `.request_counts`, `.wait(progress=True)`,
        `.results()` (one AIMessage or the exception per input, in input order), `.cancel()`. Inputs over
        50,000 lines or 200 MB become several jobs under one handle. Batch Inference serves OpenAI models
        through these lines; other models are refused before anything is uploaded."""
        from .batch import submit_batch

        self._not_through_binding(config)
        job: BatchJob[AIMessage] = submit_batch(self, inputs, batch_metadata=batch_metadata, **call_options)
        return job

    async def asubmit_batch(
        self,
        inputs: Sequence[LanguageModelInput],
        *,
        batch_metadata: Mapping[str, str] | None = None,
        config: Any = None,
        **call_options: Any,
    ) -> BatchJob[AIMessage]:
        """Async `submit_batch`."""
        from .batch import asubmit_batch

        self._not_through_binding(config)
        job: BatchJob[AIMessage] = await asubmit_batch(
            self, inputs, batch_metadata=batch_metadata, **call_options
        )
        return job

    def batch_job(self, job_id: str | Sequence[str]) -> BatchJob[AIMessage]:
        """Re-attach to a submitted job by its `BatchJob.id` (after a restart, in another process)."""
        from .batch import attach_batch

        job: BatchJob[AIMessage] = attach_batch(self, job_id)
        return job

    async def abatch_job(self, job_id: str | Sequence[str]) -> BatchJob[AIMessage]:
        """Async `batch_job`."""
        from .batch import aattach_batch

        job: BatchJob[AIMessage] = await aattach_batch(self, job_id)
        return job

    # -- tools and structured output -----------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools: LangChain tools, functions, pydantic classes and dicts as flat function tools, and
        DO's built-in tools (`{"type": "web_search"}`, `WebSearchTool`, `KnowledgeBaseRetrievalTool`,
        `McpTool`, ...), which run on DO's side and never come back as `tool_calls`.

        `tool_choice`: `auto`, `none`, `required`/`any`/`True` (call some tool), a bound tool's name, or a
        dict; a name that is not bound raises `InvalidRequestError` now, not at call time.
        """
        wire_tools = tools_to_wire(tools, strict=strict)
        names = tool_names(wire_tools)
        choice = values.tool_choice(tool_choice, names, built_in=len(wire_tools) - len(names))
        if choice is not None:
            kwargs["tool_choice"] = choice if isinstance(choice, str) else choice.model_dump()
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        # Unknown or invalid options (e.g. a ProviderStrategy's `response_format`) fail here, not per call.
        self._options({key: value for key, value in kwargs.items() if key not in _LANGCHAIN_CALL_FLAGS})
        return super().bind(tools=wire_tools, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredOutputMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Return output matching `schema` via a forced tool call, json_schema decoding or JSON mode."""
        if kwargs:
            raise ValueError(f"with_structured_output got unsupported arguments {sorted(kwargs)}")
        return structured_output(self, schema, method=method, include_raw=include_raw, strict=strict)


def _is_pydantic_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


@cache
def _accepted_arguments() -> frozenset[str]:
    """Every name ChatGradient's constructor takes as its own: field names and their aliases."""
    return field_names(ChatGradient)
