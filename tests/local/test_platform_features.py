"""DO's platform features around the model, over real loopback HTTP with plain httpx: model routers,
reasoning effort, rate limits and their headers, prompt caching (docs/local-server.md, "Platform
features"). The built-in tools have their own file, `test_builtin_tools.py`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gradient_integrations.local import LocalServer, ModelRoute, RateLimits
from gradient_integrations.local.__main__ import parse_args
from gradient_integrations.local.prompt_cache import BreakpointCache
from gradient_integrations.local.quotas import QuotaExceeded, Quotas, go_duration

from ._streams import answer, completed_output, do_chunks, post, typed_events

ROUTE = "x-model-router-selected-route"
RATE_HEADERS = {
    *(
        f"x-ratelimit-{what}-{suffix}"
        for what in ("limit", "remaining", "reset")
        for suffix in ("requests", "tokens-per-minute", "tokens-per-day")
    ),
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
}
_GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    support = ModelRoute("support", "mistral-3-14B", ("refund", "order"))
    with LocalServer(routers={"shop": [support, ModelRoute("other", "openai-gpt-4o-mini")]}) as running:
        yield running


# -- routers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "route", "model"),
    [
        ("Write a python function that adds numbers", "code", "openai-gpt-oss-120b"),
        ("Tell me about the sea", "general", "llama3.3-70b-instruct"),
    ],
)
def test_the_demo_router_picks_a_route_and_says_which(
    server: LocalServer, message: str, route: str, model: str
) -> None:
    response = answer(server.base_url, {"model": "router:demo", "input": message})
    assert response.headers[ROUTE] == route
    assert response.json()["model"] == model
    for dialect in ("do", "openai", "vllm"):
        streamed = post(
            server.base_url,
            "/v1/responses",
            {"model": "router:demo", "input": message, "stream": True},
            **{"x-gradient-stream-dialect": dialect},
        )
        assert streamed.headers[ROUTE] == route
        assert f'"model":"{model}"' in streamed.text


def test_the_chosen_model_answers_as_itself(server: LocalServer) -> None:
    output = answer(server.base_url, {"model": "router:demo", "input": "Debug my code"}).json()["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]  # gpt-oss reasons


def test_configured_routers_and_chat_completions(server: LocalServer) -> None:
    body = {
        "model": "router:shop",
        "messages": [{"role": "user", "content": "I want a refund for my orders"}],
    }
    response = post(server.base_url, "/v1/chat/completions", body)
    assert response.status_code == 200 and response.headers[ROUTE] == "support"
    assert response.json()["model"] == "mistral-3-14B"
    fallback = answer(server.base_url, {"model": "router:shop", "input": "hello"})
    assert (fallback.headers[ROUTE], fallback.json()["model"]) == ("other", "openai-gpt-4o-mini")


def test_an_unknown_router_is_a_404_naming_it(server: LocalServer) -> None:
    response = post(server.base_url, "/v1/responses", {"model": "router:nope", "input": "hi"})
    assert response.status_code == 404
    assert response.json()["id"] == "not_found"
    assert "'nope'" in response.json()["message"] and "router:demo" in response.json()["message"]
    assert ROUTE not in response.headers


def test_a_plain_model_gets_no_route_header(server: LocalServer) -> None:
    assert ROUTE not in answer(server.base_url, {"model": "m", "input": "hi"}).headers


# -- reasoning effort -------------------------------------------------------------------------------------
def reasoning_text(server: LocalServer, effort: str | None) -> str | None:
    body: dict[str, Any] = {"model": "openai-gpt-oss-20b", "input": "Why is the sky blue?"}
    if effort is not None:
        body["reasoning"] = {"effort": effort}
    output = answer(server.base_url, body).json()["output"]
    reasoning = [item for item in output if item["type"] == "reasoning"]
    return reasoning[0]["content"][0]["text"] if reasoning else None


def test_effort_none_gives_no_reasoning_item_and_max_the_most(server: LocalServer) -> None:
    assert reasoning_text(server, "none") is None
    sentences = {
        effort: (reasoning_text(server, effort) or "").count(".")
        for effort in ("low", "medium", "high", "xhigh", "max")
    }
    assert list(sentences.values()) == sorted(sentences.values()) and sentences["max"] > sentences["high"]
    assert reasoning_text(server, None) == reasoning_text(server, "medium")
    events = typed_events(
        server.base_url,
        {"model": "openai-gpt-oss-20b", "input": "Hi", "reasoning": {"effort": "none"}},
        "openai",
    )
    assert not any(kind.startswith("response.reasoning") for kind, _ in events)
    assert [item["type"] for item in completed_output(events)] == ["message"]


def test_an_unknown_effort_is_a_400_naming_the_field(server: LocalServer) -> None:
    response = post(
        server.base_url,
        "/v1/responses",
        {"model": "openai-gpt-oss-20b", "input": "hi", "reasoning": {"effort": "extreme"}},
    )
    assert response.status_code == 400 and response.json()["message"].startswith("reasoning.effort: ")
    chat = {
        "model": "openai-gpt-oss-20b",
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "extreme",
    }
    response = post(server.base_url, "/v1/chat/completions", chat)
    assert response.status_code == 400 and response.json()["message"].startswith("reasoning_effort: ")


# -- rate limits ---------------------------------------------------------------------------------------------
def test_every_answer_carries_the_rate_limit_headers_and_they_count_down(server: LocalServer) -> None:
    key = {"authorization": "Bearer caller-count-down"}
    first = answer(server.base_url, {"model": "m", "input": "one two three"}, **key)
    second = answer(server.base_url, {"model": "m", "input": "one two three"}, **key)
    for response in (first, second):
        assert set(response.headers) >= RATE_HEADERS
        for suffix in ("requests", "tokens-per-minute", "tokens-per-day"):
            assert _GO_DURATION.match(response.headers[f"x-ratelimit-reset-{suffix}"])
        assert response.headers["ratelimit-reset"].isdigit()
    remaining = lambda response, what: int(response.headers[f"x-ratelimit-remaining-{what}"])  # noqa: E731
    assert remaining(first, "requests") - remaining(second, "requests") == 1
    usage = second.json()["usage"]
    assert (
        remaining(first, "tokens-per-minute") - remaining(second, "tokens-per-minute")
        == usage["total_tokens"]
    )
    assert remaining(first, "tokens-per-day") - remaining(second, "tokens-per-day") == usage["total_tokens"]
    assert second.headers["ratelimit-remaining"] == second.headers["x-ratelimit-remaining-requests"]
    errors = post(server.base_url, "/v1/responses", {"model": "m"}, **key)  # a 400 carries them too
    assert errors.status_code == 400 and set(errors.headers) >= RATE_HEADERS
    chat = post(
        server.base_url,
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        **key,
    )
    assert int(chat.headers["x-ratelimit-remaining-requests"]) == remaining(second, "requests") - 2
    streamed = post(server.base_url, "/v1/responses", {"model": "m", "input": "x", "stream": True}, **key)
    assert set(streamed.headers) >= RATE_HEADERS


def test_an_exhausted_limit_is_a_429_with_retry_after() -> None:
    with LocalServer(rate_limits=RateLimits(requests_per_minute=2)) as small:
        body = {"model": "m", "input": "hi"}
        remaining = [answer(small.base_url, body).headers["x-ratelimit-remaining-requests"] for _ in range(2)]
        assert remaining == ["1", "0"]
        refused = post(small.base_url, "/v1/responses", body)
        assert refused.status_code == 429
        assert {key: refused.json()[key] for key in ("id", "message")} == {
            "id": "too_many_requests",
            "message": "API rate limit exceeded.",
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (
            set(refused.headers) >= RATE_HEADERS and refused.headers["x-ratelimit-remaining-requests"] == "0"
        )
        other = answer(small.base_url, body, authorization="Bearer another-caller")  # limits are per key
        assert other.headers["x-ratelimit-remaining-requests"] == "1"


def test_a_token_limit_refuses_the_next_request() -> None:
    with LocalServer(rate_limits=RateLimits(tokens_per_minute=10)) as small:
        answer(small.base_url, {"model": "m", "input": "one two three four five six"})
        refused = post(
            small.base_url,
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
        assert (
            refused.status_code == 429 and refused.headers["x-ratelimit-remaining-tokens-per-minute"] == "0"
        )


def test_a_staged_rate_limit_fault_carries_the_headers_too(server: LocalServer) -> None:
    response = post(
        server.base_url, "/v1/responses", {"model": "m", "input": "hi"}, **{"x-gradient-fault": "status:429"}
    )
    assert response.status_code == 429 and set(response.headers) >= RATE_HEADERS
    counted = post(
        server.base_url,
        "/v1/responses",
        {"model": "m", "input": "staged"},
        **{"x-gradient-fault": "rate_limit:1:3", "x-gradient-fault-key": "staged-429"},
    )
    assert (
        counted.status_code == 429
        and counted.headers["retry-after"] == "3"
        and set(counted.headers) >= RATE_HEADERS
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (1, "1s"),
        (59.5, "59.5s"),
        (360, "6m0s"),
        (3723.5, "1h2m3.5s"),
        (86399, "23h59m59s"),
    ],
)
def test_resets_are_written_as_openai_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_windows_reset_after_their_length() -> None:
    now = [1000.0]
    quotas = Quotas(RateLimits(requests_per_minute=1), clock=lambda: now[0])
    quotas.admit("Bearer k").spend_tokens(5)
    with pytest.raises(QuotaExceeded, match="rate limit"):
        quotas.admit("Bearer k")
    now[0] += 60.0
    ticket = quotas.admit("Bearer k")
    headers = ticket.headers()
    assert (
        headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-reset-requests"] == "1m0s"
    )
    assert headers["x-ratelimit-remaining-tokens-per-day"] == str(100_000_000_000 - 5)


# -- prompt caching ---------------------------------------------------------------------------------------
def cached_body(model: str, system: str, question: str, ttl: str | None = None) -> dict[str, Any]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    content = [
        {"type": "input_text", "text": system, "cache_control": control},
        {"type": "input_text", "text": question},
    ]
    return {"model": model, "input": [{"role": "user", "content": content}]}


def test_a_repeated_anthropic_prefix_is_written_then_read(server: LocalServer) -> None:
    system = "You are a careful assistant for the unique manual number 4711. " * 3
    words = len(system.split())
    first = answer(
        server.base_url, cached_body("anthropic-claude-sonnet-4", system, "First question?")
    ).json()["usage"]
    assert (first["cache_created_input_tokens"], first["cache_read_input_tokens"]) == (words, 0)
    assert first["input_tokens_details"]["cached_tokens"] == 0
    second = answer(server.base_url, cached_body("anthropic-claude-sonnet-4", system, "Another one?")).json()[
        "usage"
    ]
    assert (second["cache_created_input_tokens"], second["cache_read_input_tokens"]) == (0, words)
    assert second["input_tokens_details"]["cached_tokens"] == words
    other_model = answer(
        server.base_url, cached_body("anthropic-claude-haiku-4.5", system, "Another one?")
    ).json()["usage"]
    assert other_model["cache_read_input_tokens"] == 0  # caches are per model
    events = typed_events(
        server.base_url, cached_body("anthropic-claude-sonnet-4", system, "Third?"), "openai"
    )
    streamed = completed_output(events) and events[-1][1]["response"]["usage"]
    assert (
        streamed["cache_read_input_tokens"] == words
        and streamed["input_tokens_details"]["cache_write_tokens"] == 0
    )


def test_chat_completions_report_the_cache_with_dos_names(server: LocalServer) -> None:
    system = "Chat prefix for the cache test, manual 9001, read carefully. " * 2
    control = {"type": "ephemeral", "ttl": "1h"}
    messages = [
        {"role": "system", "content": [{"type": "text", "text": system, "cache_control": control}]},
        {"role": "user", "content": "Question?"},
    ]
    body = {"model": "anthropic-claude-sonnet-4", "messages": messages}
    first = post(server.base_url, "/v1/chat/completions", body).json()["usage"]
    words = len(system.split())
    assert first["cache_created_input_tokens"] == words
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": words}
    second = post(server.base_url, "/v1/chat/completions", body).json()["usage"]
    assert (second["cache_read_input_tokens"], second["cache_created_input_tokens"]) == (words, 0)
    assert second["prompt_tokens_details"]["cached_tokens"] == words
    usage_chunk = do_chunks(
        server.base_url, {**body, "stream_options": {"include_usage": True}}, "/v1/chat/completions"
    )[-1]
    assert usage_chunk["usage"]["cache_read_input_tokens"] == words


def test_cache_settings_are_accepted_and_ignored_where_unsupported(server: LocalServer) -> None:
    system = "Open model prefix words here. " * 3
    for model in ("llama3.3-70b-instruct", "openai-gpt-oss-120b"):
        usage = answer(server.base_url, cached_body(model, system, "Q?")).json()["usage"]
        assert "cache_created_input_tokens" not in usage and "cache_read_input_tokens" not in usage
    for model in ("openai-gpt-4o-mini", "llama3.3-70b-instruct"):
        for retention in ("in_memory", "24h"):
            answer(server.base_url, {"model": model, "input": "hi", "prompt_cache_retention": retention})
    refused = post(
        server.base_url, "/v1/responses", {"model": "m", "input": "hi", "prompt_cache_retention": "forever"}
    )
    assert refused.status_code == 400 and refused.json()["message"].startswith("prompt_cache_retention")


def test_breakpoint_cache_entries_expire_after_their_ttl() -> None:
    now = [0.0]
    cache = BreakpointCache(clock=lambda: now[0])
    words = ["w"] * 10
    assert cache.lookup_and_store("anthropic-x", words, [(6, None)]).created == 6
    now[0] += 299
    assert cache.lookup_and_store("anthropic-x", words, [(6, None), (10, "1h")]).read == 6
    use = cache.lookup_and_store("anthropic-x", words, [(6, None), (10, "1h")])
    assert (use.read, use.created) == (10, 0)
    now[0] += 301  # the 5m entry was refreshed at 299, so it is gone now; the 1h one is not
    use = cache.lookup_and_store("anthropic-x", words, [(6, None), (10, "1h")])
    assert (use.read, use.created_5m, use.created_1h) == (10, 0, 0)  # the longer prefix covers it


def test_the_cli_sets_the_mcp_token_and_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIENT_LOCAL_MCP_TOKEN", "from-env")
    args = parse_args(["--requests-per-minute", "5", "--tokens-per-day", "100"])
    assert (args.mcp_token, args.requests_per_minute, args.tokens_per_day) == ("from-env", 5, 100)
    assert args.tokens_per_minute == RateLimits().tokens_per_minute
    assert parse_args(["--mcp-token", "flag"]).mcp_token == "flag"
    with pytest.raises(SystemExit):
        parse_args(["--requests-per-minute", "0"])
