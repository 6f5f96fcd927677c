"""Measurement 1: non-streaming call overhead with no sockets.

Every contender talks to the same `httpx.MockTransport` serving the same prebuilt answer bytes
(`_common.canned_transport`), so what differs is only the client-side work: building the request,
httpx, parsing, and the framework's own machinery. A MockTransport rather than the local server's ASGI
app through `httpx.ASGITransport` keeps the fake server's cost (routing, the scripted model) out of the
numbers; that cost would be identical for everyone and would only shrink every ratio toward 1.

The floor is raw `httpx.Client.post` + `json.loads` with the headers the API needs. The framework floors
(`_floors`) are measured alongside so the adapters' cost can be split into ours and the framework's.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from llama_index.core.base.llms.types import ChatMessage

from gradient_integrations.core import ResponsesClient, build_request, parse_response
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.langchain._messages import message_from_result
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.llama_index._results import chat_response_from_result

from ._common import (
    ANSWER,
    FAKE_KEY,
    FAKE_ROOT,
    MODEL,
    PROMPT,
    Column,
    Row,
    Section,
    Target,
    canned_transport,
    chat_completion_body,
    encode,
    median,
    ratio,
    responses_body,
    time_interleaved,
)
from ._floors import langchain_floor, llama_index_floor

FLOOR = "raw httpx + json.loads"
CORE = "ours: core ResponsesClient.create"
CHAT_GRADIENT = "ours: ChatGradient.invoke"
GRADIENT_LLM = "ours: GradientLLM.chat"
OPENAI_RESPONSES = "langchain-openai ChatOpenAI.invoke (Responses)"
OPENAI_CHAT = "langchain-openai ChatOpenAI.invoke (chat completions)"
LANGCHAIN_FLOOR = "langchain-core floor: GenericFakeChatModel.invoke (no HTTP)"
LLAMA_FLOOR = "llama-index-core floor: fixed-answer LLM.chat (no HTTP)"
CHAT_GRADIENT_MAPPING = "ours: ChatGradient mapping only (messages -> request, result -> AIMessage)"
GRADIENT_LLM_MAPPING = "ours: GradientLLM mapping only (messages -> request, result -> ChatResponse)"


def build_contenders(transport: httpx.MockTransport) -> dict[str, Callable[[], str]]:
    """One zero-argument call per contender; each returns the answer text so it can be checked."""
    url = f"{FAKE_ROOT}/v1/responses"
    headers = {"Authorization": f"Bearer {FAKE_KEY}", "Accept": "application/json"}
    raw = httpx.Client(transport=transport)

    def floor() -> str:
        response = raw.post(url, json={"model": MODEL, "input": PROMPT}, headers=headers)
        return str(json.loads(response.content)["output"][0]["content"][0]["text"])

    core = ResponsesClient(api_key=FAKE_KEY, base_url=FAKE_ROOT, transport=transport)
    # Each framework contender gets its own httpx.Client on the shared transport, the way ChatOpenAI does.
    chat_gradient = ChatGradient(
        model=MODEL, api_key=FAKE_KEY, base_url=FAKE_ROOT, http_client=httpx.Client(transport=transport)
    )
    gradient_llm = GradientLLM(
        model=MODEL, api_key=FAKE_KEY, base_url=FAKE_ROOT, http_client=httpx.Client(transport=transport)
    )
    openai_kwargs = {"model": MODEL, "api_key": FAKE_KEY, "base_url": f"{FAKE_ROOT}/v1"}
    openai_responses = ChatOpenAI(
        **openai_kwargs, http_client=httpx.Client(transport=transport), use_responses_api=True
    )
    openai_chat = ChatOpenAI(**openai_kwargs, http_client=httpx.Client(transport=transport))
    langchain_fake = langchain_floor(ANSWER)
    llama_fake = llama_index_floor([ANSWER])
    llama_messages = [ChatMessage(role="user", content=PROMPT)]
    langchain_messages = [HumanMessage(PROMPT)]
    result = parse_response(responses_body())

    # The adapters' own work, timed alone: the same request builders and result mappers every call uses.
    def chat_gradient_mapping() -> str:
        chat_gradient._prepare(langchain_messages, None, {})
        return message_from_result(result, requested_model=MODEL).text

    def gradient_llm_mapping() -> str:
        gradient_llm._request(llama_messages, {})
        return str(chat_response_from_result(result).message.content)

    return {
        FLOOR: floor,
        CORE: lambda: core.create(build_request(model=MODEL, input=PROMPT)).text,
        CHAT_GRADIENT: lambda: chat_gradient.invoke(PROMPT).text,
        GRADIENT_LLM: lambda: str(gradient_llm.chat(llama_messages).message.content),
        OPENAI_RESPONSES: lambda: openai_responses.invoke(PROMPT).text,
        OPENAI_CHAT: lambda: openai_chat.invoke(PROMPT).text,
        LANGCHAIN_FLOOR: lambda: langchain_fake.invoke(PROMPT).text,
        LLAMA_FLOOR: lambda: str(llama_fake.chat(llama_messages).message.content),
        CHAT_GRADIENT_MAPPING: chat_gradient_mapping,
        GRADIENT_LLM_MAPPING: gradient_llm_mapping,
    }


def run(*, smoke: bool = False) -> list[Section]:
    transport = canned_transport(
        {"/v1/responses": encode(responses_body()), "/v1/chat/completions": encode(chat_completion_body())}
    )
    contenders = build_contenders(transport)
    for name, call in contenders.items():
        answer = call()  # also the warm-up: first calls pay for lazy imports and pools
        if answer != ANSWER:
            raise AssertionError(f"{name} answered {answer!r}, expected {ANSWER!r}: fix the contender")
    rounds, batch = (2, 3) if smoke else (15, 40)
    samples = time_interleaved(contenders, rounds=rounds, batch=batch)
    medians = {name: median(values) for name, values in samples.items()}
    floor, openai = medians[FLOOR], medians[OPENAI_RESPONSES]
    rows = [
        Row(
            name,
            {
                "median_us": value * 1e6,
                "vs_floor": ratio(value, floor),
                "vs_chatopenai": ratio(value, openai),
            },
        )
        for name, value in medians.items()
    ]
    us = {name: value * 1e6 for name, value in medians.items()}
    notes = [
        f"Where ChatGradient.invoke's {us[CHAT_GRADIENT]:.0f} µs go (each part timed on its own): httpx + "
        f"json {us[FLOOR]:.0f} µs, our core on top of that {us[CORE] - us[FLOOR]:.0f} µs, langchain-core's "
        f"own invoke machinery {us[LANGCHAIN_FLOOR]:.0f} µs (callbacks, run config, building the AIMessage), "
        f"our LangChain mapping {us[CHAT_GRADIENT_MAPPING]:.0f} µs. langchain-core alone costs "
        f"{us[LANGCHAIN_FLOOR] / us[FLOOR]:.2f}x the raw-httpx floor"
        + (
            ", so no LangChain chat model that sends a request can stay within 1.5x of that floor."
            if us[LANGCHAIN_FLOOR] > 0.5 * us[FLOOR]
            else "."
        ),
        f"Where GradientLLM.chat's {us[GRADIENT_LLM]:.0f} µs go: our core {us[CORE]:.0f} µs, "
        f"llama-index-core's chat callbacks and instrumentation {us[LLAMA_FLOOR]:.0f} µs, "
        f"our LlamaIndex mapping {us[GRADIENT_LLM_MAPPING]:.0f} µs.",
    ]
    chat_gradient, core = medians[CHAT_GRADIENT], medians[CORE]
    section = Section(
        key="overhead_inprocess",
        title="1. Non-streaming call overhead, in-process transport (no sockets)",
        method=(
            f"Same prebuilt answer bytes from one `httpx.MockTransport` for every contender; {rounds} "
            f"interleaved rounds of {batch} sequential calls each; median of the per-round mean per call."
        ),
        columns=[
            Column("median_us", "median per call (µs)", 1),
            Column("vs_floor", "x raw httpx"),
            Column("vs_chatopenai", "x ChatOpenAI (Responses)"),
        ],
        rows=rows,
        targets=[
            Target("core <= 1.3x raw httpx", ratio(core, floor), 1.3),
            Target("ChatGradient.invoke <= 1.5x raw httpx", ratio(chat_gradient, floor), 1.5),
            Target("ChatGradient.invoke <= 0.5x ChatOpenAI (Responses)", ratio(chat_gradient, openai), 0.5),
        ],
        notes=notes,
    )
    return [section]
