"""The contenders of the loopback benchmark: one client object each, pointed at the local server.

Each builder returns zero-argument calls that ask `PROMPT` and return the answer text, so the benchmark
can check every contender got the scripted model's answer. Every client is built once, as a user would
keep it, with its library's default connection handling (raw httpx gets our timeouts, see RAW_TIMEOUT).

Two peers need a nudge to reach a loopback server (`point_peers_at`), outside any timed work:
`langchain-gradient` builds a `pydo.inference.Client` per call with the default endpoint, so its
`Client` is pointed at the local server with `functools.partial`; and azure-core's "bearer tokens need
https" check is switched off for this process, so that every contender speaks plain HTTP to one server.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import azure.core.pipeline.policies._authentication as azure_auth
import httpx
import langchain_gradient.chat_models  # type: ignore[import-untyped]
import pydo.inference
from langchain_gradient import ChatGradient as DOChatGradient
from langchain_openai import ChatOpenAI
from llama_index.core.base.llms.types import ChatMessage
from llama_index.llms.digitalocean.gradientai import GradientAI  # type: ignore[import-untyped]

from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.core.settings import DEFAULT_LIMITS, DEFAULT_TIMEOUT
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

from ._common import FAKE_KEY, MODEL, PROMPT

RAW = "raw httpx + json.loads"
CORE = "ours: core ResponsesClient"
CHAT_GRADIENT = "ours: ChatGradient"
GRADIENT_LLM = "ours: GradientLLM"
OPENAI_RESPONSES = "langchain-openai ChatOpenAI (Responses)"
OPENAI_CHAT = "langchain-openai ChatOpenAI (chat completions)"
DO_LANGCHAIN = "DO langchain-gradient ChatGradient (chat completions)"
DO_LLAMA = "llama-index GradientAI (chat completions)"
CORE_NARROW_POOL = "ours: core on httpx's default pool (100 connections, 20 kept alive; not our default)"
OURS = (CORE, CHAT_GRADIENT, GRADIENT_LLM)
POOL_LIMIT = DEFAULT_LIMITS.max_connections or 0
NARROW_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# The raw floor gets our timeouts: httpx's own 5 s pool timeout fails a 500-call burst on a busy machine,
# where our client (60 s) would simply wait its turn for a pooled connection.
RAW_TIMEOUT = DEFAULT_TIMEOUT
BODY = {"model": MODEL, "input": PROMPT}


def point_peers_at(root: str) -> None:
    langchain_gradient.chat_models.Client = functools.partial(pydo.inference.Client, inference_endpoint=root)
    azure_auth._enforce_https = lambda request: None


def raw_text(body: dict[str, Any]) -> str:
    return str(body["output"][0]["content"][0]["text"])


def sync_contenders(root: str) -> dict[str, Callable[[], str]]:
    raw = httpx.Client(timeout=RAW_TIMEOUT)
    core = ResponsesClient(base_url=root)
    chat_gradient = ChatGradient(model=MODEL, base_url=root)
    gradient_llm = GradientLLM(model=MODEL, base_url=root)
    peer = {"model": MODEL, "api_key": FAKE_KEY, "base_url": f"{root}/v1"}
    openai_responses = ChatOpenAI(**peer, use_responses_api=True)
    openai_chat = ChatOpenAI(**peer)
    do_langchain = DOChatGradient(model=MODEL, api_key=FAKE_KEY)
    do_llama = GradientAI(model=MODEL, model_access_key=FAKE_KEY, base_url=f"{root}/v1")
    messages = [ChatMessage(role="user", content=PROMPT)]
    return {
        RAW: lambda: raw_text(json.loads(raw.post(f"{root}/v1/responses", json=BODY).content)),
        CORE: lambda: core.create(build_request(**BODY)).text,
        CHAT_GRADIENT: lambda: chat_gradient.invoke(PROMPT).text,
        GRADIENT_LLM: lambda: str(gradient_llm.chat(messages).message.content),
        OPENAI_RESPONSES: lambda: openai_responses.invoke(PROMPT).text,
        OPENAI_CHAT: lambda: openai_chat.invoke(PROMPT).text,
        DO_LANGCHAIN: lambda: str(do_langchain.invoke(PROMPT).text),
        DO_LLAMA: lambda: str(do_llama.chat(messages).message.content),
    }


def async_contenders(
    root: str,
) -> tuple[dict[str, Callable[[], Awaitable[str]]], Callable[[], Awaitable[None]]]:
    """The async calls, and how to close every pool they opened (on the loop that ran them)."""
    raw = httpx.AsyncClient(timeout=RAW_TIMEOUT)
    core = ResponsesClient(base_url=root)
    # httpx's default pool, which DO's SDK uses too: measured alongside to show what our wider one buys.
    narrow = ResponsesClient(
        base_url=root, http_async_client=httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, limits=NARROW_LIMITS)
    )
    chat_gradient = ChatGradient(model=MODEL, base_url=root)
    gradient_llm = GradientLLM(model=MODEL, base_url=root)
    peer = {"model": MODEL, "api_key": FAKE_KEY, "base_url": f"{root}/v1"}
    openai_responses = ChatOpenAI(**peer, use_responses_api=True)
    openai_chat = ChatOpenAI(**peer)
    do_langchain = DOChatGradient(model=MODEL, api_key=FAKE_KEY)
    do_llama = GradientAI(model=MODEL, model_access_key=FAKE_KEY, base_url=f"{root}/v1")
    messages = [ChatMessage(role="user", content=PROMPT)]

    async def raw_call() -> str:
        return raw_text(json.loads((await raw.post(f"{root}/v1/responses", json=BODY)).content))

    async def core_call() -> str:
        return (await core.acreate(build_request(**BODY))).text

    async def narrow_call() -> str:
        return (await narrow.acreate(build_request(**BODY))).text

    async def chat_gradient_call() -> str:
        return (await chat_gradient.ainvoke(PROMPT)).text

    async def gradient_llm_call() -> str:
        return str((await gradient_llm.achat(messages)).message.content)

    async def openai_responses_call() -> str:
        return (await openai_responses.ainvoke(PROMPT)).text

    async def openai_chat_call() -> str:
        return (await openai_chat.ainvoke(PROMPT)).text

    async def do_langchain_call() -> str:
        return str((await do_langchain.ainvoke(PROMPT)).text)

    async def do_llama_call() -> str:
        return str((await do_llama.achat(messages)).message.content)

    async def aclose() -> None:
        for client in (raw, narrow.http_async_client):
            await client.aclose()
        for ours in (core, chat_gradient, gradient_llm):
            await ours.aclose()
        for peer_model in (openai_responses, openai_chat):
            await peer_model.root_async_client.close()  # type: ignore[union-attr]
        # The DO packages' clients are made per call inside them: nothing here can close those.

    contenders = {
        RAW: raw_call,
        CORE: core_call,
        CORE_NARROW_POOL: narrow_call,
        CHAT_GRADIENT: chat_gradient_call,
        GRADIENT_LLM: gradient_llm_call,
        OPENAI_RESPONSES: openai_responses_call,
        OPENAI_CHAT: openai_chat_call,
        DO_LANGCHAIN: do_langchain_call,
        DO_LLAMA: do_llama_call,
    }
    return contenders, aclose
