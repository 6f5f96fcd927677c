"""The fault matrix: every fault the local server injects x {invoke, stream, ainvoke, astream} x 2 adapters.

For each cell the call either recovers exactly as the retry policy says (same answer as a clean call, the
expected number of attempts counted on the wire, the waits the server asked for) or raises the expected
typed error, quickly. For stream paths, the chunks delivered before a failure stay delivered (they equal
the error's `partial` and are a prefix of the clean answer), a stream is never retried after its first
chunk, and the framework's token hook fires exactly once per delivered chunk with the same text.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from gradient_integrations.core import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    StreamTimeoutError,
    StreamValidationError,
    UnprocessableEntityError,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.local import LocalServer

from ._adapters import ADAPTERS, MODES, STREAM_MODES, Adapter, CallSettings, Mode, Outcome, run_call
from ._support import MODEL

DEFAULT_SETTINGS = CallSettings()
PROMPT = "Please summarise the quarterly figures for the northern region in plain words"


@dataclass(frozen=True)
class Expect:
    """What one call path must do under a fault: recover (`error=None`) or raise `error`."""

    error: type[BaseException] | None
    attempts: int
    waits: tuple[float, ...] | None = None  # exact waits when the server dictates them (retry-after)
    delivered_some: bool = False  # a stream failure that happens after some text went out


OK1 = Expect(None, 1)


@dataclass(frozen=True)
class Fault:
    spec: str
    call: Expect  # invoke / ainvoke
    stream: Expect  # stream / astream
    settings: CallSettings = DEFAULT_SETTINGS
    max_seconds: float = 3.0


FAULTS: list[Fault] = [
    # Counted faults: retried with the waits the server asked for (retry-after 0 / 0.25) ...
    Fault("rate_limit:1", Expect(None, 2, (0.0,)), Expect(None, 2, (0.0,))),
    Fault("rate_limit:2:0.25", Expect(None, 3, (0.25, 0.25)), Expect(None, 3, (0.25, 0.25))),
    # ... until the retries (2) are used up.
    Fault("rate_limit:3", Expect(RateLimitError, 3, (0.0, 0.0)), Expect(RateLimitError, 3, (0.0, 0.0))),
    Fault("server_error:2", Expect(None, 3), Expect(None, 3)),
    Fault("server_error:3", Expect(InternalServerError, 3), Expect(InternalServerError, 3)),
    # Fixed statuses: 4xx other than 408/409/429 fail at once; 409, 429 and 5xx are retried.
    Fault("status:400", Expect(BadRequestError, 1), Expect(BadRequestError, 1)),
    Fault("status:401", Expect(AuthenticationError, 1), Expect(AuthenticationError, 1)),
    Fault("status:403", Expect(PermissionDeniedError, 1), Expect(PermissionDeniedError, 1)),
    Fault("status:404", Expect(NotFoundError, 1), Expect(NotFoundError, 1)),
    Fault("status:409", Expect(ConflictError, 3), Expect(ConflictError, 3)),
    Fault("status:422", Expect(UnprocessableEntityError, 1), Expect(UnprocessableEntityError, 1)),
    Fault("status:429", Expect(RateLimitError, 3), Expect(RateLimitError, 3)),
    Fault("status:500", Expect(InternalServerError, 3), Expect(InternalServerError, 3)),
    Fault("status:503", Expect(InternalServerError, 3), Expect(InternalServerError, 3)),
    Fault("disconnect_before_headers", Expect(APIConnectionError, 3), Expect(APIConnectionError, 3)),
    # Mid-stream faults do not touch a JSON answer; a stream fails once and keeps what it delivered.
    Fault("disconnect_mid_stream:2", OK1, Expect(StreamError, 1, delivered_some=True)),
    Fault("error_chunk:2", OK1, Expect(StreamError, 1, delivered_some=True)),
    Fault("truncate_stream:2", OK1, Expect(StreamError, 1, delivered_some=True)),
    Fault("stall_mid_stream:2:0.05", OK1, OK1),  # shorter than the idle timeout: just slow
    Fault("stall_mid_stream:2:3", OK1, Expect(StreamTimeoutError, 1, delivered_some=True), max_seconds=2.0),
    # Broken bodies are not retried (the server answered 200) and are not mistaken for status errors.
    Fault("malformed_json", Expect(APIResponseValidationError, 1), Expect(StreamValidationError, 1)),
    Fault("malformed_sse", Expect(APIResponseValidationError, 1), Expect(StreamError, 1)),
    Fault("latency_ms:30", OK1, OK1),
    Fault("chunk_delay_ms:3", OK1, OK1),
    # Slower than the timeout: each attempt times out, then the typed timeout error (max_retries=1 here).
    Fault(
        "latency_ms:3000",
        Expect(APITimeoutError, 2),
        Expect(APITimeoutError, 2),
        CallSettings(max_retries=1, timeout=0.3, stream_idle_timeout=0.3),
        max_seconds=2.0,
    ),
]


@pytest.fixture(scope="module")
def clean_answers(local_server: LocalServer) -> dict[tuple[Adapter, Mode], str]:
    """The fault-free answer of each adapter and path, for comparing recoveries and partial streams."""
    answers = {}
    for adapter in ADAPTERS:
        for mode in MODES:
            outcome = run_call(adapter, mode, local_server.base_url, prompt=PROMPT)
            assert outcome.error is None, outcome.error
            assert outcome.attempts == 1
            assert outcome.final_text
            answers[adapter, mode] = outcome.final_text
    # All four paths of both adapters agree on the answer.
    assert len(set(answers.values())) == 1, answers
    return answers


def _fault_headers(spec: str, dialect: str = "do") -> dict[str, str]:
    # A fresh fault key per call: counted faults then start from zero, whatever ran before.
    return {
        "x-gradient-fault": spec,
        "x-gradient-fault-key": uuid.uuid4().hex,
        "x-gradient-stream-dialect": dialect,
    }


def _assert_outcome(outcome: Outcome, expect: Expect, clean: str, mode: Mode, max_seconds: float) -> None:
    assert outcome.elapsed < max_seconds, f"took {outcome.elapsed:.2f} s"
    assert outcome.attempts == expect.attempts
    if expect.waits is not None:
        assert outcome.waits == list(expect.waits)
    else:
        assert len(outcome.waits) == expect.attempts - 1
    if expect.error is None:
        assert outcome.error is None, repr(outcome.error)
        assert outcome.final_text == clean
    else:
        assert type(outcome.error) is expect.error or (
            # APIError is the base for bodies that are not JSON: a status error would be the wrong type.
            isinstance(outcome.error, expect.error) and expect.error is not APIError
        ), repr(outcome.error)
        if expect.error is APIError:
            assert not isinstance(outcome.error, (APIStatusError, StreamError))
    if mode not in STREAM_MODES:
        assert outcome.pieces == [] and outcome.hook_pieces == []  # no token hooks without a stream
        return
    # Every delivered chunk was announced to the framework's hook exactly once, in order.
    assert outcome.hook_pieces == outcome.pieces
    assert clean.startswith(outcome.text)
    if isinstance(outcome.error, StreamError):
        assert outcome.error.partial.text == outcome.text  # what was delivered is what the error reports
    if expect.delivered_some:
        assert outcome.text and outcome.text != clean
    elif expect.error is not None:
        assert outcome.text == ""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.spec for fault in FAULTS])
def test_fault(
    fault: Fault,
    adapter: Adapter,
    mode: Mode,
    local_server: LocalServer,
    clean_answers: dict[tuple[Adapter, Mode], str],
) -> None:
    outcome = run_call(
        adapter,
        mode,
        local_server.base_url,
        prompt=PROMPT,
        headers=_fault_headers(fault.spec),
        settings=fault.settings,
    )
    expect = fault.stream if mode in STREAM_MODES else fault.call
    _assert_outcome(outcome, expect, clean_answers[adapter, mode], mode, fault.max_seconds)


# The typed-event dialect frames the same answer differently (several events before the first text), so
# its mid-stream cuts come later; the guarantees are the same.
OPENAI_DIALECT_FAULTS = [
    ("disconnect_mid_stream:6", StreamError),
    ("error_chunk:6", StreamError),
    ("truncate_stream:6", StreamError),
    ("stall_mid_stream:6:3", StreamTimeoutError),
]


@pytest.mark.parametrize("mode", sorted(STREAM_MODES))
@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("spec", "error"), OPENAI_DIALECT_FAULTS, ids=[f for f, _ in OPENAI_DIALECT_FAULTS])
def test_stream_fault_in_openai_dialect(
    spec: str,
    error: type[StreamError],
    adapter: Adapter,
    mode: Mode,
    local_server: LocalServer,
    clean_answers: dict[tuple[Adapter, Mode], str],
) -> None:
    outcome = run_call(
        adapter, mode, local_server.base_url, prompt=PROMPT, headers=_fault_headers(spec, "openai")
    )
    _assert_outcome(outcome, Expect(error, 1, delivered_some=True), clean_answers[adapter, mode], mode, 2.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_clean_openai_dialect_stream_matches_clean_answer(
    adapter: Adapter, mode: Mode, local_server: LocalServer, clean_answers: dict[tuple[Adapter, Mode], str]
) -> None:
    outcome = run_call(
        adapter, mode, local_server.base_url, prompt=PROMPT, headers=_fault_headers("none", "openai")
    )
    _assert_outcome(outcome, OK1, clean_answers[adapter, mode], mode, 3.0)


class _Tokens(BaseCallbackHandler):
    run_inline = True

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        self.tokens.append(str(token))


@pytest.mark.parametrize("fault", ["none", "error_chunk:3"])
@pytest.mark.parametrize("use_async", [False, True], ids=["invoke", "ainvoke"])
def test_streaming_invoke_reports_each_token_once(
    fault: str, use_async: bool, local_server: LocalServer, clean_answers: dict[tuple[Adapter, Mode], str]
) -> None:
    """`ChatGradient(streaming=True).invoke` streams underneath: callbacks see each delta exactly once."""
    tokens = _Tokens()
    model = ChatGradient(model=MODEL, base_url=local_server.base_url, streaming=True, max_retries=0)
    config: Any = {"callbacks": [tokens]}
    headers = _fault_headers(fault)
    try:
        if use_async:
            answer = asyncio.run(model.ainvoke(PROMPT, config=config, extra_headers=headers))
        else:
            answer = model.invoke(PROMPT, config=config, extra_headers=headers)
    except StreamError as exc:
        assert fault != "none"
        assert "".join(tokens.tokens) == exc.partial.text != ""  # what the callbacks saw is what arrived
        return
    assert fault == "none"
    assert "".join(tokens.tokens) == answer.content == clean_answers["langchain", "invoke"]
    # One token per word-sized delta, never two.
    assert len([token for token in tokens.tokens if token]) == len(str(answer.content).split())
