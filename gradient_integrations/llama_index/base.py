"""`GradientLLM`: DigitalOcean Gradient's `/v1/responses` as a LlamaIndex `FunctionCallingLLM`.

This module holds configuration and the LlamaIndex method surface only. Every HTTP concern (auth,
retries, timeouts, SSE decoding, typed errors) is the shared core's `ResponsesClient`, created lazily
and never pickled; the mapping between LlamaIndex and wire types lives in `_messages`, `_results` and
`_tools`. Sync and async differ only in `client.create`/`client.stream` vs `acreate`/`astream`.

Request options are the core's one vocabulary (`gradient_integrations.core.options`): taken, later
winning, from the instance fields, `additional_kwargs` (any name of the core's table; unknown names are
sent verbatim) and per-call keyword arguments (any name of the table, `extra_body={...}`,
`extra_headers={...}`; anything else is rejected before a request is sent, naming the option).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    chat_to_completion_decorator,
    prompt_to_messages,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)

# llama-index-core re-exports get_dispatcher without listing it in __all__.
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.program.function_program import FunctionCallingProgram
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.types import BasePydanticProgram, Model, PydanticProgramMode
from pydantic import Field, PrivateAttr, SecretStr, field_validator

from gradient_integrations.core import ResponseRequest, ResponseResult, ResponsesClient
from gradient_integrations.core.batch_jobs import (
    BatchJob,
    aattach_batch,
    asubmit_batch,
    attach_batch,
    submit_batch,
)
from gradient_integrations.core.builtin_tools import BuiltInToolValue, built_in_tool
from gradient_integrations.core.catalog import CATALOG, UNKNOWN_MODEL_DEFAULTS
from gradient_integrations.core.lifecycle import ClosesClient
from gradient_integrations.core.options import constructor_arguments, field_names, resolve_options
from gradient_integrations.core.secrets import AccessKey
from gradient_integrations.core.settings import DEFAULT_STREAM_IDLE_TIMEOUT, Settings

from ._messages import to_input_items
from ._results import (
    ChatStreamState,
    achat_to_completion_stream,
    chat_response_from_result,
    chat_to_completion_stream,
)
from ._structured import JsonSchemaProgram
from ._tools import keep_first_tool_call, resolve_tool_choice, tool_selections, tool_specs
from .batch import BatchInput, plan_batch, read_batch_result

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "GradientLLM"]

DEFAULT_MODEL = "openai-gpt-oss-120b"
dispatcher = get_dispatcher(__name__)

# Request fields this class holds as its own fields (the rest of the vocabulary goes to additional_kwargs).
_FIELD_FOR = {
    "model": "model",
    "instructions": "instructions",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "stop": "stop",
    "metadata": "call_metadata",
    "user": "user",
    "reasoning": "reasoning",
}


class GradientLLM(ClosesClient, FunctionCallingLLM):
    """DigitalOcean Gradient serverless inference (`POST /v1/responses`) for LlamaIndex.

    ```python
    from gradient_integrations.llama_index import GradientLLM

    llm = GradientLLM(model="openai-gpt-oss-120b")  # key from GRADIENT_MODEL_ACCESS_KEY
    print(llm.complete("Say hi").text)
    ```
    """

    model: str = Field(default=DEFAULT_MODEL, description="Gradient model id (see GET /v1/models).")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Model access key; else GRADIENT_MODEL_ACCESS_KEY, MODEL_ACCESS_KEY, "
        "DIGITALOCEAN_INFERENCE_KEY. Never serialized.",
    )
    base_url: str | None = Field(
        default=None, description="Endpoint root; else GRADIENT_INFERENCE_ENDPOINT, else DO's."
    )
    timeout: float | None = Field(default=None, description="Seconds per request (default 60).")
    max_retries: int | None = Field(default=None, description="Retries of failed calls (default 2).")
    stream_idle_timeout: float | None = Field(
        default=DEFAULT_STREAM_IDLE_TIMEOUT,
        description="Longest wait between stream chunks: min(read timeout, this); default the read timeout.",
    )
    deadline: float | None = Field(
        default=None,
        description="Seconds for a whole call, retries and the whole stream included; math.inf for none. "
        "Default: (max_retries + 1) x (connect + read timeout) until the answer begins.",
    )
    max_response_bytes: int | None = Field(
        default=None, description="Largest JSON answer and stream line or event, in bytes (default 16 MiB)."
    )
    allow_insecure_http: bool = Field(
        default=False, description="Send the key over plain http to a non-loopback host (trusted networks)."
    )
    temperature: float | None = Field(default=None, description="Sampling temperature, 0 to 2.")
    top_p: float | None = Field(default=None, description="Nucleus sampling, 0 to 1.")
    max_tokens: int | None = Field(default=None, description="Most tokens to generate (max_output_tokens).")
    stop: str | list[str] | None = Field(default=None, description="Up to 4 stop sequences.")
    instructions: str | None = Field(default=None, description="System-level instructions.")
    call_metadata: dict[str, str] | None = Field(
        default=None, description="The request's `metadata` (named apart from LlamaIndex's `metadata`)."
    )
    user: str | None = Field(default=None, description="End-user id for abuse tracking.")
    reasoning: dict[str, Any] | None = Field(default=None, description="e.g. {'effort': 'low'}.")
    built_in_tools: list[BuiltInToolValue] | None = Field(
        default=None,
        description="Tools DO runs on its side (WebSearchTool, KnowledgeBaseRetrievalTool, McpTool or "
        "their dicts), sent ahead of any function tools on every call; a call's built_in_tools=[...] "
        "replaces them.",
    )
    strict: bool = Field(default=False, description="Send tool schemas as strict.")
    structured_output_method: Literal["function_calling", "json_schema"] = Field(
        default="function_calling",
        description="structured_predict by a forced tool call, or by text.format json_schema.",
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window for this model."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog's tool-calling fact (unknown models: False)."
    )
    verify_model: bool = Field(
        default=False,
        description="Before the first call, check GET /v1/models lists the model (UnknownModelError).",
    )
    default_headers: dict[str, str] | None = Field(default=None, description="Headers on every request.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request-body fields for every call."
    )

    @field_validator("built_in_tools", mode="before")
    @classmethod
    def _typed_built_in_tools(cls, tools: Any) -> Any:
        if tools is None or isinstance(tools, (str, bytes, dict)):
            return tools  # pydantic names the wrong type
        return [built_in_tool(tool, field=f"built_in_tools[{i}]") for i, tool in enumerate(tools)]

    _client: ResponsesClient | None = PrivateAttr(default=None)
    _client_config: tuple[Any, ...] = PrivateAttr(default=())
    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        metadata: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if metadata is not None:  # LangChain-style spelling of the request metadata
            kwargs.setdefault("call_metadata", metadata)
        # Every spelling a user brings (OpenAIResponses' names, aliases of the core's table) is mapped
        # here, and anything unknown is an InvalidRequestError naming it, before pydantic sees it.
        arguments = constructor_arguments(
            kwargs,
            owner="GradientLLM",
            accepted=_accepted_arguments(),
            field_for=_FIELD_FOR,
            kwargs_field="additional_kwargs",
        )
        api_key = arguments.pop("api_key", api_key)  # given as openai_api_key
        # Typed here so a bad tool is an InvalidRequestError naming it (the validator covers assignment).
        arguments["built_in_tools"] = self._typed_built_in_tools(arguments.get("built_in_tools"))
        super().__init__(model=model, api_key=AccessKey.of(api_key), **arguments)
        self._http_client = http_client
        self._async_http_client = async_http_client
        # Fail at construction, not at the first call: settings (URL, timeouts) and request fields.
        self._settings()
        self._request([ChatMessage(role=MessageRole.USER, content="-")], {})

    @classmethod
    def class_name(cls) -> str:
        return "gradient_llm"

    @property
    def metadata(self) -> LLMMetadata:
        """From the core catalog (`core.catalog`): the model's window, output and tool calling; a model it
        does not know gets its conservative defaults. `num_output` is what LlamaIndex reserves for the
        answer when it packs a prompt: `max_tokens` when set, else the model's maximum output capped at
        a quarter of its window (several models' maximum output is their whole window)."""
        info = CATALOG.info(self.model)
        window = self.context_window or info.context_window or UNKNOWN_MODEL_DEFAULTS["context_window"]
        most = info.max_output_tokens or UNKNOWN_MODEL_DEFAULTS["max_output_tokens"]
        tools = self.is_function_calling_model
        return LLMMetadata(
            context_window=window,
            num_output=self.max_tokens or min(most, window // 4),
            is_chat_model=True,
            is_function_calling_model=bool(info.tool_calling) if tools is None else tools,
            model_name=self.model,
        )

    # -- the core client: lazy, shared by every call of this instance, never pickled ---------------
    def _settings(self) -> Settings:
        return Settings.of(self)

    @property
    def client(self) -> ResponsesClient:
        """The core client for the current settings (re-created if they changed, e.g. by model_copy)."""
        config = (
            self.api_key,
            self.base_url,
            self.timeout,
            self.max_retries,
            self.stream_idle_timeout,
            self.deadline,
            self.max_response_bytes,
            self.allow_insecure_http,
            tuple(sorted((self.default_headers or {}).items())),
        )
        if self._client is None or self._client_config != config:
            self._client = ResponsesClient.from_settings(
                self._settings(),
                http_client=self._http_client,
                http_async_client=self._async_http_client,
            )
            self._client_config = config
        return self._client

    def __getstate__(self) -> dict[Any, Any]:
        # Live connections are detached while the parent pickles, so nothing of them is written and it
        # logs no warnings. The key needs nothing here: an AccessKey pickles as "read from the environment".
        live = (self._client, self._client_config, self._http_client, self._async_http_client)
        self._client, self._client_config, self._http_client, self._async_http_client = None, (), None, None
        try:
            return super().__getstate__()
        finally:
            self._client, self._client_config, self._http_client, self._async_http_client = live

    # -- request building (the only place options become a request) -------------------------------
    def _request(
        self, messages: Sequence[ChatMessage], options: Mapping[str, Any]
    ) -> tuple[ResponseRequest, Mapping[str, str] | None]:
        instance = {
            "model": self.model,
            "instructions": self.instructions,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "call_metadata": self.call_metadata,
            "user": self.user,
            "reasoning": self.reasoning,
            "built_in_tools": self.built_in_tools,
        }
        call = resolve_options(instance, self.additional_kwargs, options, owner="GradientLLM")
        return call.request(to_input_items(messages)), call.extra_headers

    # `verify_model`: the client lists the models once; each call only looks its model up in that list.
    def _verify(self, model: str) -> None:
        if self.verify_model:
            self.client.check_model(model)

    async def _averify(self, model: str) -> None:
        if self.verify_model:
            await self.client.acheck_model(model)

    # -- chat and completion, sync ---------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        # What llama-index's stream_chat_to_completion_decorator does, without reading (so building) the
        # text so far of every response: completion_from_chat leaves it to be read when used.
        return chat_to_completion_stream(self._stream_chat(prompt_to_messages(prompt), **kwargs))

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request, headers = self._request(messages, kwargs)
        self._verify(request.model)
        return chat_response_from_result(self.client.create(request, extra_headers=headers))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request, headers = self._request(messages, kwargs)  # bad input raises here, not mid-iteration
        self._verify(request.model)
        stream = self.client.stream(request, extra_headers=headers)  # sends on first iteration

        def gen() -> ChatResponseGen:
            state = ChatStreamState()
            with stream:
                for delta in stream:
                    yield state.apply(delta, stream)

        return gen()

    # -- chat and completion, async --------------------------------------------------------------
    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return achat_to_completion_stream(await self._astream_chat(prompt_to_messages(prompt), **kwargs))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request, headers = self._request(messages, kwargs)
        await self._averify(request.model)
        return chat_response_from_result(await self.client.acreate(request, extra_headers=headers))

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        request, headers = self._request(messages, kwargs)
        await self._averify(request.model)
        stream = self.client.astream(request, extra_headers=headers)

        async def gen() -> ChatResponseAsyncGen:
            state = ChatStreamState()
            async with stream:
                async for delta in stream:
                    yield state.apply(delta, stream)

        return gen()

    # -- tools -----------------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        specs = tool_specs(tools, strict=self.strict if strict is None else strict)
        messages = list(chat_history or [])  # never append to the caller's history list
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        return {
            "messages": messages,
            "tools": specs or None,
            "tool_choice": resolve_tool_choice(tool_choice, tool_required) if specs else None,
            "parallel_tool_calls": allow_parallel_tool_calls if specs else None,
            **kwargs,
        }

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return response if allow_parallel_tool_calls else keep_first_tool_call(response)

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)

    # -- Batch Inference (see `batch`) -----------------------------------------------------------------
    def submit_batch(
        self,
        inputs: Sequence[BatchInput],
        *,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        allow_parallel_tool_calls: bool = False,
        batch_metadata: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> BatchJob[ChatResponse]:
        """Submit `inputs` (message lists or prompt strings) as a DigitalOcean Batch Inference job.

        Each line's body is what `chat(messages, **kwargs)` sends (with `tools=`, `chat_with_tools`).
        Returns a `BatchJob`: `.id` (keep it to re-attach with `batch_job(id)`), `.status`,
        `.request_counts`, `.wait(progress=True)`, `.results()` (one ChatResponse or the exception per
        input, in input order), `.cancel()`. Inputs over 50,000 lines or 200 MB become several jobs under
        one handle. Batch Inference serves OpenAI models; others are refused before anything is sent."""
        requests, convert = self._batch_plan(
            inputs, tools, tool_required, tool_choice, allow_parallel_tool_calls, kwargs
        )
        return submit_batch(self.client, requests, convert, metadata=batch_metadata)

    async def asubmit_batch(
        self,
        inputs: Sequence[BatchInput],
        *,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        allow_parallel_tool_calls: bool = False,
        batch_metadata: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> BatchJob[ChatResponse]:
        """Async `submit_batch`."""
        requests, convert = self._batch_plan(
            inputs, tools, tool_required, tool_choice, allow_parallel_tool_calls, kwargs
        )
        return await asubmit_batch(self.client, requests, convert, metadata=batch_metadata)

    def batch_job(self, job_id: str | Sequence[str]) -> BatchJob[ChatResponse]:
        """Re-attach to a submitted job by its `BatchJob.id` (after a restart, in another process)."""
        return attach_batch(self.client, job_id, read_batch_result)

    async def abatch_job(self, job_id: str | Sequence[str]) -> BatchJob[ChatResponse]:
        """Async `batch_job`."""
        return await aattach_batch(self.client, job_id, read_batch_result)

    def _batch_plan(
        self,
        inputs: Sequence[BatchInput],
        tools: Sequence[BaseTool] | None,
        tool_required: bool,
        tool_choice: str | dict[str, Any] | None,
        allow_parallel_tool_calls: bool,
        kwargs: Mapping[str, Any],
    ) -> tuple[list[ResponseRequest], Callable[[ResponseResult], ChatResponse]]:
        tool_options = {
            "tool_required": tool_required,
            "tool_choice": tool_choice,
            "allow_parallel_tool_calls": allow_parallel_tool_calls,
        }
        return plan_batch(self, inputs, tools=tools, tool_options=tool_options, options=kwargs)

    # -- structured output -----------------------------------------------------------------------
    # llama-index picks a program by `pydantic_program_mode`; in its DEFAULT and FUNCTION modes this LLM
    # supplies its own, because llama-index's streaming program forgets to force the tool call.
    def _uses_json_schema(self) -> bool:
        return (
            self.structured_output_method == "json_schema"
            and self.pydantic_program_mode == PydanticProgramMode.DEFAULT
        )

    def _structured_program(
        self, output_cls: type[Model], prompt: BasePromptTemplate
    ) -> BasePydanticProgram[Model] | None:
        """This LLM's program for `output_cls`, or None to leave the choice to llama-index."""
        if self._uses_json_schema():
            return JsonSchemaProgram(output_cls, self, prompt, strict=self.strict)
        if self.pydantic_program_mode in (PydanticProgramMode.DEFAULT, PydanticProgramMode.FUNCTION):
            return FunctionCallingProgram.from_defaults(
                output_cls=output_cls, prompt=prompt, llm=self, tool_choice="required"
            )
        return None

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        if not self._uses_json_schema():
            return cast(Model, super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args))
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        program = JsonSchemaProgram(output_cls, self, prompt, strict=self.strict)
        result = program(llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        if not self._uses_json_schema():
            parent = super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            return cast(Model, await parent)
        dispatcher.event(
            LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt, template_args=prompt_args)
        )
        program = JsonSchemaProgram(output_cls, self, prompt, strict=self.strict)
        result = await program.acall(llm_kwargs=llm_kwargs, **prompt_args)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    # llama-index's stream_structured_predict / astream_structured_predict build their program here.
    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        program = self._structured_program(output_cls, prompt)
        if program is None:
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        return program.stream_call(llm_kwargs=llm_kwargs, **prompt_args)

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        program = self._structured_program(output_cls, prompt)
        if program is None:
            return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        return await program.astream_call(llm_kwargs=llm_kwargs, **prompt_args)


@cache
def _accepted_arguments() -> frozenset[str]:
    """Every name GradientLLM's constructor takes as its own: its fields, their aliases, its parameters."""
    return field_names(GradientLLM) | {"api_key", "http_client", "async_http_client", "metadata"}
