"""One way to drive either adapter through any of its four call paths, observing everything a user sees.

`run_call(adapter, mode, base_url, ...)` builds a fresh `ChatGradient` or `GradientLLM` whose httpx
clients sit on counting transports (so attempts are counted on the wire, sync and async alike), makes one
call in `mode` ("invoke", "stream", "ainvoke" or "astream") and returns an `Outcome`: the text pieces that
were delivered before the call ended, the error it raised (if any), how many HTTP attempts it made, the
retry waits it chose, how long it took, and what the framework's own token hooks saw (LangChain
`on_llm_new_token` through a callback handler; LlamaIndex `LLMChatInProgressEvent` through an
instrumentation event handler). Async modes build the model inside their own event loop, as a user would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fakes import AsyncCountingTransport, CountingTransport
from langchain_core.callbacks import BaseCallbackHandler
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatInProgressEvent

from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

from ._support import MODEL, install_fast_retries

Adapter = Literal["langchain", "llama_index"]
Mode = Literal["invoke", "stream", "ainvoke", "astream"]
ADAPTERS: tuple[Adapter, ...] = ("langchain", "llama_index")
MODES: tuple[Mode, ...] = ("invoke", "stream", "ainvoke", "astream")
STREAM_MODES = frozenset({"stream", "astream"})


@dataclass
class Outcome:
    pieces: list[str] = field(default_factory=list)  # text of each chunk/response delivered, in order
    hook_pieces: list[str] = field(default_factory=list)  # what the framework's token hook saw, in order
    error: BaseException | None = None
    attempts: int = 0
    waits: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    final_text: str | None = None  # the whole answer of a call that succeeded

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class CallSettings:
    max_retries: int = 2
    timeout: float = 5.0
    stream_idle_timeout: float = 0.5
    api_key: str | None = None


class _TokenRecorder(BaseCallbackHandler):
    run_inline = True  # called in order on the event loop thread, not from an executor

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        self.tokens.append(str(token))


class _ChatEventRecorder(BaseEventHandler):
    deltas: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "ReliabilityChatEventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatInProgressEvent):
            self.deltas.append(event.response.delta or "")


@dataclass
class _Rig:
    """A fresh adapter on counting transports, with its token hook and retry recorder attached."""

    adapter: Adapter
    model: Any
    sync_transport: CountingTransport
    async_transport: AsyncCountingTransport
    http: httpx.Client
    ahttp: httpx.AsyncClient
    waits: list[float]
    prompt: str
    tokens: _TokenRecorder = field(default_factory=_TokenRecorder)
    events: _ChatEventRecorder = field(default_factory=lambda: _ChatEventRecorder(deltas=[]))

    @classmethod
    def build(cls, adapter: Adapter, base_url: str, settings: CallSettings, prompt: str) -> _Rig:
        sync_transport = CountingTransport(httpx.HTTPTransport())
        async_transport = AsyncCountingTransport(httpx.AsyncHTTPTransport())
        http, ahttp = httpx.Client(transport=sync_transport), httpx.AsyncClient(transport=async_transport)
        common: dict[str, Any] = {
            "model": MODEL,
            "base_url": base_url,
            "api_key": settings.api_key,
            "max_retries": settings.max_retries,
            "timeout": settings.timeout,
            "stream_idle_timeout": settings.stream_idle_timeout,
            "http_client": http,
        }
        if adapter == "langchain":
            model: Any = ChatGradient(**common, http_async_client=ahttp)
        else:
            model = GradientLLM(**common, async_http_client=ahttp)
        recorder = install_fast_retries(model, settings.max_retries)
        return cls(adapter, model, sync_transport, async_transport, http, ahttp, recorder.waits, prompt)

    @property
    def messages(self) -> Any:
        return [ChatMessage(role=MessageRole.USER, content=self.prompt)]

    def finish(self, outcome: Outcome, started: float) -> Outcome:
        outcome.elapsed = time.perf_counter() - started
        outcome.hook_pieces = list(self.tokens.tokens if self.adapter == "langchain" else self.events.deltas)
        outcome.attempts = self.sync_transport.count + self.async_transport.count
        outcome.waits = self.waits
        if outcome.error is not None:
            outcome.final_text = None
        return outcome


def run_call(
    adapter: Adapter,
    mode: Mode,
    base_url: str,
    *,
    prompt: str,
    headers: Mapping[str, str] | None = None,
    settings: CallSettings | None = None,
) -> Outcome:
    """Make one call and report what happened (never raises the call's error: it is in `Outcome.error`)."""
    settings = settings or CallSettings()
    if mode in ("invoke", "stream"):
        return _run_sync(adapter, mode, base_url, prompt, dict(headers or {}), settings)
    return asyncio.run(_run_async(adapter, mode, base_url, prompt, dict(headers or {}), settings))


def _run_sync(
    adapter: Adapter, mode: Mode, base_url: str, prompt: str, headers: dict[str, str], settings: CallSettings
) -> Outcome:
    rig = _Rig.build(adapter, base_url, settings, prompt)
    outcome = Outcome()
    root = get_dispatcher()
    root.add_event_handler(rig.events)
    started = time.perf_counter()
    try:
        if adapter == "langchain" and mode == "invoke":
            message = rig.model.invoke(prompt, config={"callbacks": [rig.tokens]}, extra_headers=headers)
            outcome.final_text = str(message.content)
        elif adapter == "langchain":
            for chunk in rig.model.stream(prompt, config={"callbacks": [rig.tokens]}, extra_headers=headers):
                outcome.pieces.append(str(chunk.content))
            outcome.final_text = outcome.text
        elif mode == "invoke":
            outcome.final_text = rig.model.chat(rig.messages, extra_headers=headers).message.content
        else:
            for response in rig.model.stream_chat(rig.messages, extra_headers=headers):
                outcome.pieces.append(response.delta or "")
                outcome.final_text = response.message.content
    except Exception as exc:
        outcome.error = exc
    finally:
        root.event_handlers.remove(rig.events)
        rig.http.close()
    return rig.finish(outcome, started)


async def _run_async(
    adapter: Adapter, mode: Mode, base_url: str, prompt: str, headers: dict[str, str], settings: CallSettings
) -> Outcome:
    rig = _Rig.build(adapter, base_url, settings, prompt)
    outcome = Outcome()
    root = get_dispatcher()
    root.add_event_handler(rig.events)
    started = time.perf_counter()
    try:
        if adapter == "langchain" and mode == "ainvoke":
            message = await rig.model.ainvoke(
                prompt, config={"callbacks": [rig.tokens]}, extra_headers=headers
            )
            outcome.final_text = str(message.content)
        elif adapter == "langchain":
            async for chunk in rig.model.astream(
                prompt, config={"callbacks": [rig.tokens]}, extra_headers=headers
            ):
                outcome.pieces.append(str(chunk.content))
            outcome.final_text = outcome.text
        elif mode == "ainvoke":
            outcome.final_text = (await rig.model.achat(rig.messages, extra_headers=headers)).message.content
        else:
            async for response in await rig.model.astream_chat(rig.messages, extra_headers=headers):
                outcome.pieces.append(response.delta or "")
                outcome.final_text = response.message.content
    except Exception as exc:
        outcome.error = exc
    finally:
        root.event_handlers.remove(rig.events)
        await rig.ahttp.aclose()
        rig.http.close()
    return rig.finish(outcome, started)
