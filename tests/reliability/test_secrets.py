"""The access key never leaks: reprs, logs, errors, serializations, pickles, cassettes, notebooks, the demo.

Every test uses one recognisable key (`SECRET_KEY`) and looks for it (and for a fragment of it, in case it
was cut, masked or re-encoded) in everything a user could print, log, persist or ship. Three kinds of
endpoint carry the key, so calls really send it:

- a local server that demands it (`keyed_server`): `repr`/`str` of every public object, DEBUG logs of every
  logger, exception messages with their whole `__cause__`/`__context__` chains and tracebacks, LangChain
  `dumpd`/`dumps` and tracing payloads, LlamaIndex `to_dict`/`to_json` and instrumentation events, pickles
  (which must re-resolve the key from the environment on load), recorded cassettes, notebook outputs and
  the demo's terminal output;
- the in-process fake endpoint (`tests/fakes.py`), hostile on purpose: it echoes the Authorization header
  back in error bodies and stream error events while everything logs at DEBUG; the core client's reprs,
  pickles and copies, and its errors' pickles;
- raw loopback sockets, hostile too (they echo the header into JSON error bodies and response headers), for
  every failure a call can meet (401, 429, 503, refused, read timeout, reset mid-headers), sync and async:
  the httpx request attached to the error, its cause and its response, `exc.body`, the formatted traceback
  *with every frame's local variables*, and httpcore's DEBUG log of the response headers.

By default no key is in the environment; tests marked `key_in_env` have `SECRET_KEY` there.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import pickle
import re
import socket
import struct
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from core._loopback import StallingServer
from core._support import BASE_URL, SleepRecorder, acollect, collect, load_json, sse_event
from fakes import FakeEndpoint, Reply, json_reply
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

from gradient_integrations.core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    GradientError,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
    ResponsesClient,
    RetryPolicy,
    Settings,
    StreamError,
    build_request,
)
from gradient_integrations.core.settings import API_KEY_ENV_VARS
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer

from ._raw_server import RawServer, hold, http_response, read_request, request_header
from ._red_team import HOW, OK_BODY, create
from ._support import KEY_ENV_VARS, MODEL, SECRET_FRAGMENT, SECRET_KEY

REQUEST = build_request(model="m", input="hi")


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in {*API_KEY_ENV_VARS, *KEY_ENV_VARS}:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", SECRET_KEY)


# == adapters and the core against a keyed local server ==============================================
REPO = Path(__file__).resolve().parents[2]
OTHER_KEY = "sk-do-RELOADED-FROM-ENVIRONMENT-42"
# A DO model key or a bearer token that is not redacted: what a cassette or notebook must never hold.
_LIVE_CREDENTIAL = re.compile(
    r"sk-do-(?!\*)[A-Za-z0-9_\-]{8,}|dop_v1_(?!\*)[A-Za-z0-9]{8,}|(?i:bearer)\s+(?![*<]|REDACTED)\S{8,}"
)


def assert_clean(text: str, where: str) -> None:
    """Neither the key nor a fragment of it is in `text`."""
    assert SECRET_KEY not in text, f"the access key leaked into {where}"
    assert SECRET_FRAGMENT not in text, f"part of the access key leaked into {where}"


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalServer]:
    """A local server that answers 401 unless the request carries exactly `SECRET_KEY`."""
    with LocalServer(api_key=SECRET_KEY) as server:
        yield server


def _fault(spec: str) -> dict[str, str]:
    return {"x-gradient-fault": spec, "x-gradient-fault-key": uuid.uuid4().hex}


def _fast(client: ResponsesClient) -> ResponsesClient:
    client.retry_policy = RetryPolicy(max_retries=client.retry_policy.max_retries, sleep=lambda _: None)
    return client


# -- repr / str of every public object --------------------------------------------------------------
@pytest.mark.usefixtures("key_in_env")
def test_repr_and_str_of_public_objects(keyed_server: LocalServer) -> None:
    chat = ChatGradient(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url)
    llm = GradientLLM(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url)
    client = ResponsesClient(api_key=SECRET_KEY, base_url=keyed_server.base_url)
    request = build_request(model=MODEL, input="hi")
    result = client.create(request)  # succeeds: the key really is in use
    assert result.text
    objects: list[Any] = [
        chat,
        chat.client,
        chat.client.settings,
        chat.bind_tools([_tool]),
        chat.with_structured_output(
            {"title": "Answer", "type": "object", "properties": {"a": {"type": "string"}}}
        ),
        llm,
        llm.client,
        llm.metadata,
        client,
        client.settings,
        client.retry_policy,
        client.stream(request),
        client.astream(request),
        Settings.resolve(api_key=SECRET_KEY, base_url=keyed_server.base_url),
        request,
        result,
        keyed_server,
        keyed_server.app,
    ]
    for item in objects:
        assert_clean(repr(item), f"repr({type(item).__name__})")
        assert_clean(str(item), f"str({type(item).__name__})")
    for where, dumped in [
        ("ChatGradient.model_dump_json", chat.model_dump_json()),
        ("ChatGradient.model_dump", repr(chat.model_dump())),
        ("ChatGradient._identifying_params", repr(chat._identifying_params)),
        ("ChatGradient._get_ls_params", repr(chat._get_ls_params())),
        ("GradientLLM.model_dump_json", llm.model_dump_json()),
        ("GradientLLM.to_json", llm.to_json()),
        ("GradientLLM.to_dict", repr(llm.to_dict())),
    ]:
        assert_clean(dumped, where)


def _tool(city: str) -> str:
    """Weather for a city."""
    return city


# -- logs --------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("key_in_env")
def test_debug_logs_of_every_logger(keyed_server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: ours, httpx, httpcore, uvicorn, langchain, llama
    client = _fast(
        ResponsesClient(api_key=SECRET_KEY, base_url=keyed_server.base_url, stream_idle_timeout=0.3)
    )
    request = build_request(model=MODEL, input="log me")
    client.create(request, extra_headers=_fault("rate_limit:1"))  # a retry is logged
    with pytest.raises(GradientError):
        client.create(request, extra_headers=_fault("status:401"))
    with (
        pytest.raises(GradientError),
        client.stream(request, extra_headers=_fault("error_chunk:1")) as stream,
    ):
        list(stream)
    ChatGradient(model=MODEL, base_url=keyed_server.base_url).invoke("log me too")  # key from the env
    GradientLLM(model=MODEL, base_url=keyed_server.base_url).complete("and me")
    assert any(record.name.startswith("gradient_integrations") for record in caplog.records)
    assert any(record.name.startswith("httpx") for record in caplog.records)
    assert_clean(caplog.text, "DEBUG logs")
    for record in caplog.records:
        assert_clean(repr(record.args), f"the args of a {record.name} log record")


# -- errors --------------------------------------------------------------------------------------------
def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [item.__cause__, item.__context__]


def _errors(server: LocalServer) -> list[BaseException]:
    """One of every kind of failure, each raised while the key was in use."""
    client = _fast(ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, stream_idle_timeout=0.3))
    wrong = ResponsesClient(api_key="sk-do-not-the-servers-key", base_url=server.base_url, max_retries=0)
    request = build_request(model=MODEL, input="fail")
    calls: list[Callable[[], object]] = [
        lambda: wrong.create(request),  # 401 from the server itself
        lambda: client.create(request, extra_headers=_fault("status:500")),
        lambda: client.create(request, extra_headers=_fault("disconnect_before_headers")),
        lambda: client.create(request, extra_headers=_fault("malformed_json")),
        lambda: list(client.stream(request, extra_headers=_fault("disconnect_mid_stream:1"))),
        lambda: list(client.stream(request, extra_headers=_fault("stall_mid_stream:1:2"))),
        lambda: ResponsesClient(api_key=SECRET_KEY, base_url="http://127.0.0.1:9", max_retries=0).create(
            request
        ),
        lambda: ChatGradient(model=MODEL, base_url=server.base_url, temperature=9),
        lambda: GradientLLM(model=MODEL, base_url=server.base_url).chat(
            [], extra_headers=_fault("status:400")
        ),
        lambda: ChatGradient(model=MODEL, base_url=server.base_url, max_retries=0).invoke(
            "x", extra_headers=_fault("status:403")
        ),
        lambda: asyncio.run(
            GradientLLM(model=MODEL, base_url=server.base_url, max_retries=0).achat(
                [ChatMessage(role="user", content="x")], extra_headers=_fault("status:429")
            )
        ),
    ]
    errors: list[BaseException] = []
    for call in calls:
        with pytest.raises(Exception) as caught:  # every kind of failure is wanted here
            call()
        errors.append(caught.value)
    return errors


@pytest.mark.usefixtures("key_in_env")
def test_exceptions_and_their_chains(keyed_server: LocalServer) -> None:
    errors = _errors(keyed_server)
    assert len({type(error) for error in errors}) >= 7
    for error in errors:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        assert_clean(text, f"the traceback of {type(error).__name__}")
        for link in _chain(error):
            assert_clean(str(link), f"str of {type(link).__name__} (chained from {type(error).__name__})")
            assert_clean(repr(link), f"repr of {type(link).__name__}")
            assert_clean(repr(link.args), f"args of {type(link).__name__}")
        if isinstance(error, GradientError):  # errors travel between processes: pickled without the key
            assert_clean(repr(pickle.dumps(error)), f"a pickled {type(error).__name__}")


# -- serialization and pickles ------------------------------------------------------------------------
@pytest.mark.usefixtures("key_in_env")
@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_langchain_dumpd_dumps_and_load_from_environment(keyed_server: LocalServer) -> None:
    chat = ChatGradient(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url, temperature=0.5)
    as_dict, as_text = dumpd(chat), dumps(chat)
    assert_clean(json.dumps(as_dict), "dumpd(ChatGradient)")
    assert_clean(as_text, "dumps(ChatGradient)")
    assert as_dict["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["GRADIENT_MODEL_ACCESS_KEY"]}
    loaded = load(
        as_dict,
        secrets_from_env=True,
        valid_namespaces=["gradient_integrations"],
        allowed_objects=[ChatGradient],
    )
    assert isinstance(loaded, ChatGradient)
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == SECRET_KEY
    assert loaded.invoke("after load").content  # the re-resolved key works against the keyed server


@pytest.mark.usefixtures("key_in_env")
def test_tracing_payloads(keyed_server: LocalServer) -> None:
    """What LangSmith or a LlamaIndex observer would receive for one call."""

    class Tracer(BaseCallbackHandler):
        def __init__(self) -> None:
            self.payloads: list[str] = []

        def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
            self.payloads.append(repr((serialized, kwargs)))

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            self.payloads.append(repr(response))

    class Observer(BaseEventHandler):
        payloads: list[str] = []

        @classmethod
        def class_name(cls) -> str:
            return "SecretObserver"

        def handle(self, event: BaseEvent, **kwargs: Any) -> None:
            self.payloads.append(repr(event.model_dump()))

    tracer = Tracer()
    ChatGradient(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url).invoke(
        "trace", config={"callbacks": [tracer]}
    )
    observer = Observer(payloads=[])
    root = get_dispatcher()
    root.add_event_handler(observer)
    try:
        GradientLLM(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url).chat(
            [ChatMessage(role="user", content="observe")]
        )
    finally:
        root.event_handlers.remove(observer)
    assert len(tracer.payloads) == 2 and observer.payloads
    assert_clean("".join(tracer.payloads), "LangChain callback payloads")
    assert_clean("".join(observer.payloads), "LlamaIndex instrumentation events")


@pytest.mark.usefixtures("key_in_env")
def test_pickles_drop_the_key_and_reresolve_it(
    keyed_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ChatGradient(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url)
    llm = GradientLLM(model=MODEL, api_key=SECRET_KEY, base_url=keyed_server.base_url)
    client = ResponsesClient(api_key=SECRET_KEY, base_url=keyed_server.base_url)
    chat.invoke("warm")  # live pools and a used client must pickle cleanly too
    llm.complete("warm")
    blobs = {
        name: pickle.dumps(item)
        for name, item in [("ChatGradient", chat), ("GradientLLM", llm), ("ResponsesClient", client)]
    }
    for name, blob in blobs.items():
        assert_clean(repr(blob), f"a pickled {name}")
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", OTHER_KEY)  # what the loading process has
    for name, blob in blobs.items():
        loaded = pickle.loads(blob)
        core = loaded if isinstance(loaded, ResponsesClient) else loaded.client
        assert core.settings.api_key is not None, name
        assert core.settings.api_key.get_secret_value() == OTHER_KEY, name


@pytest.mark.usefixtures("key_in_env")
def test_settings_pickle_drops_the_key_but_copies_keep_it(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.resolve(api_key=SECRET_KEY, base_url="https://gradient.invalid", max_retries=5)
    assert copy.deepcopy(settings).api_key == settings.api_key == copy.copy(settings).api_key  # same process
    blob = pickle.dumps(settings)
    assert_clean(repr(blob), "a pickled Settings")
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", OTHER_KEY)
    loaded = pickle.loads(blob)
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == OTHER_KEY
    assert (loaded.base_url, loaded.max_retries, loaded.timeout) == (settings.base_url, 5, settings.timeout)


# -- cassettes, notebooks, the demo ---------------------------------------------------------------------
def _credential_leaks(text: str) -> list[str]:
    found = _LIVE_CREDENTIAL.findall(text)
    return found + ([SECRET_FRAGMENT] if SECRET_FRAGMENT in text else [])


def _notebook_outputs(path: Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps([cell.get("outputs", []) for cell in notebook.get("cells", [])])


def test_the_scanner_finds_planted_credentials() -> None:
    assert _credential_leaks(f"authorization: Bearer {SECRET_KEY}")
    assert _credential_leaks("token: dop_v1_abcdef0123456789")
    assert not _credential_leaks("authorization: Bearer ***\nkey: sk-do-***\nBearer <redacted>")


def test_cassettes_hold_no_credentials() -> None:
    files = (
        [path for path in (REPO / "cassettes").rglob("*") if path.is_file()]
        if (REPO / "cassettes").is_dir()
        else []
    )
    files += [path for path in (REPO / "tests").rglob("*.yaml") if "cassette" in str(path)]
    for path in files:
        assert not _credential_leaks(path.read_text(encoding="utf-8", errors="replace")), path


def test_notebook_outputs_hold_no_credentials() -> None:
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert not _credential_leaks(_notebook_outputs(path)), path


@pytest.mark.slow
@pytest.mark.usefixtures("key_in_env")
def test_demo_output(keyed_server: LocalServer) -> None:
    env = {
        **os.environ,
        "GRADIENT_MODEL_ACCESS_KEY": SECRET_KEY,
        "GRADIENT_INFERENCE_ENDPOINT": keyed_server.base_url,
    }
    env.pop("MODEL_ACCESS_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "gradient_integrations.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        cwd=REPO,
        check=False,
    )
    assert_clean(done.stdout, "the demo's stdout")
    assert_clean(done.stderr, "the demo's stderr")
    # The server demands the key, so a clean exit proves the demo really used it.
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.usefixtures("key_in_env")
def test_demo_failure_output_with_traceback() -> None:
    """The demo failing (server wants another key) with `--debug` tracebacks still prints no key."""
    with LocalServer(api_key="sk-do-some-other-servers-key") as server:
        env = {
            **os.environ,
            "GRADIENT_MODEL_ACCESS_KEY": SECRET_KEY,
            "GRADIENT_INFERENCE_ENDPOINT": server.base_url,
        }
        done = subprocess.run(
            [sys.executable, "-m", "gradient_integrations.demo", "--debug"],
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
            cwd=REPO,
            check=False,
        )
    assert done.returncode != 0
    assert "401" in done.stdout + done.stderr or "uthenticat" in done.stdout + done.stderr
    assert_clean(done.stdout, "the failing demo's stdout")
    assert_clean(done.stderr, "the failing demo's stderr")


# == the core client on the in-process fake endpoint ==================================================
@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # root: gradient_integrations, httpx, httpcore, everything
    yield caplog
    records = caplog.get_records("call")
    text = "\n".join(f"{record.getMessage()} {record.args!r}" for record in records)
    assert records, "the scenario should have logged something"
    assert SECRET_FRAGMENT not in text


class EchoAuth(Reply):
    """A server that puts the Authorization header it received into its answer."""

    def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
        echoed = request.headers.get("authorization", "")
        if self.chunks is not None:
            event = sse_event(json.dumps({"error": {"message": f"token {echoed} revoked", "code": "auth"}}))
            head = sse_event(json.dumps({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}))
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=(head + event).encode()
            )
        body = {"id": "unauthorized", "message": f"Invalid credentials {echoed} (token={echoed[7:]})"}
        return httpx.Response(self.status, json=body)


def _scripted(script: FakeEndpoint) -> ResponsesClient:
    sleeper = SleepRecorder()
    return ResponsesClient(
        api_key=SECRET_KEY,
        base_url=BASE_URL,
        transport=script.transport,
        async_transport=script.async_transport,
        retry_policy=RetryPolicy(sleep=sleeper, async_sleep=sleeper.async_sleep),
    )


def assert_error_clean(error: BaseException) -> None:
    """No message, repr, arg or formatted traceback anywhere in the cause/context chain holds the key."""
    seen: BaseException | None = error
    while seen is not None:
        assert SECRET_FRAGMENT not in str(seen)
        assert SECRET_FRAGMENT not in repr(seen)
        assert all(SECRET_FRAGMENT not in str(arg) for arg in seen.args)
        seen = seen.__cause__ or seen.__context__
    assert SECRET_FRAGMENT not in "".join(traceback.format_exception(error))


def test_reprs_and_strs(monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = ResponsesClient(api_key=SECRET_KEY)
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", SECRET_KEY)
    from_env = ResponsesClient()
    for client in (explicit, from_env):
        assert (
            client.settings.api_key is not None and client.settings.api_key.get_secret_value() == SECRET_KEY
        )
        for shown in (repr(client), str(client), repr(client.settings), str(client.settings)):
            assert SECRET_FRAGMENT not in shown
        assert SECRET_FRAGMENT not in repr(client.settings.api_key) and SECRET_FRAGMENT not in str(
            client.settings.api_key
        )
        assert SECRET_FRAGMENT not in repr(client.stream(REQUEST))
        assert SECRET_FRAGMENT not in repr(vars(client))
    assert SECRET_FRAGMENT not in repr(Settings.resolve(api_key=SECRET_KEY))


async def test_logs_at_debug_over_the_in_process_transport(debug_logs: pytest.LogCaptureFixture) -> None:
    ok = json_reply(load_json("pydo_created_at.json"))
    script = FakeEndpoint(json_reply({"id": "x", "message": "busy"}, status=503), ok)
    client = _scripted(script)
    client.create(REQUEST)  # one retry, logged
    await client.acreate(REQUEST)
    assert script.requests[0].headers["authorization"] == f"Bearer {SECRET_KEY}"  # it was really sent
    assert any("retrying" in record.getMessage() for record in debug_logs.records)


async def test_logs_at_debug_over_a_real_socket(debug_logs: pytest.LogCaptureFixture) -> None:
    done = sse_event(json.dumps({"choices": [{"index": 0, "delta": {"content": "ok"}}]})) + sse_event(
        "[DONE]"
    )
    with StallingServer([(0.0, done.encode())]) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url)
        stream = client.stream(REQUEST)
        assert collect(stream)[1] is None and stream.result.text == "ok"
        astream = client.astream(REQUEST)
        assert (await acollect(astream))[1] is None
        await client.aclose()
    assert any(record.name.startswith("httpcore") for record in debug_logs.records)


@pytest.mark.parametrize("status", [400, 401, 403, 500])
async def test_status_errors_that_echo_the_key_are_masked(
    status: int, debug_logs: pytest.LogCaptureFixture
) -> None:
    script = FakeEndpoint(EchoAuth(status=status))
    client = _scripted(script)
    with pytest.raises(APIStatusError) as sync_caught:
        client.create(REQUEST)
    with pytest.raises(APIStatusError) as async_caught:
        await client.acreate(REQUEST)
    for caught in (sync_caught, async_caught):
        assert "Bearer ***" in str(caught.value) and "sk-do-***" in str(caught.value)
        assert_error_clean(caught.value)
    assert isinstance(caught.value, AuthenticationError) is (status == 401)


async def test_stream_error_events_that_echo_the_key(debug_logs: pytest.LogCaptureFixture) -> None:
    script = FakeEndpoint(EchoAuth(chunks=[]))
    client = _scripted(script)
    deltas, error = collect(client.stream(REQUEST))
    adeltas, aerror = await acollect(client.astream(REQUEST))
    assert [d.text for d in deltas] == [d.text for d in adeltas] == ["Hi"]
    for failure in (error, aerror):
        assert isinstance(failure, StreamError)
        assert "revoked" in str(failure)
        assert_error_clean(failure)


def test_malformed_event_that_contains_the_key_is_not_quoted_back() -> None:
    script = FakeEndpoint(Reply(chunks=[f"data: {{oops Bearer {SECRET_KEY}\n\n".encode()]))
    _, error = collect(_scripted(script).stream(REQUEST))
    assert error is not None and "Malformed JSON" in str(error)
    assert_error_clean(error)


def test_configuration_error_with_another_key_missing() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ResponsesClient(base_url="https://remote.example")
    assert_error_clean(caught.value)


# -- pickles of the core client and its errors -----------------------------------------------------------
def test_client_pickle_holds_no_key_and_reresolves_it_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ResponsesClient(
        api_key=SECRET_KEY, base_url="https://remote.example/v1", max_retries=5, timeout=12.0
    )
    client.http_client  # a live pool must not get in the way either  # noqa: B018
    data = pickle.dumps(client)
    assert SECRET_FRAGMENT.encode() not in data
    monkeypatch.setenv("MODEL_ACCESS_KEY", "sk-do-FROM-ENV")
    restored = pickle.loads(data)
    assert restored.settings.api_key.get_secret_value() == "sk-do-FROM-ENV"
    assert restored.settings.base_url == "https://remote.example"
    assert (restored.settings.max_retries, restored.settings.timeout.read) == (5, 12.0)
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    restored._transport = script.transport  # what was pickled had no transport to carry over
    restored.create(REQUEST)
    assert script.requests[0].headers["authorization"] == "Bearer sk-do-FROM-ENV"


def test_unpickled_client_without_any_key_fails_clearly_before_sending() -> None:
    restored = pickle.loads(
        pickle.dumps(ResponsesClient(api_key=SECRET_KEY, base_url="https://remote.example"))
    )
    assert restored.settings.api_key is None
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    restored._transport = script.transport
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        restored.create(REQUEST)
    assert script.count == 0


async def test_errors_pickle_without_the_key_and_load_back() -> None:
    script = FakeEndpoint(EchoAuth(status=401))
    with pytest.raises(AuthenticationError) as caught:
        _scripted(script).create(REQUEST)
    _, stream_error = collect(_scripted(FakeEndpoint(EchoAuth(chunks=[]))).stream(REQUEST))
    assert stream_error is not None
    for error in (caught.value, stream_error):
        data = pickle.dumps(error)
        assert SECRET_FRAGMENT.encode() not in data
        restored = pickle.loads(data)
        assert type(restored) is type(error) and str(restored) == str(error)
        assert restored.request is None
    restored_status = pickle.loads(pickle.dumps(caught.value))
    assert (restored_status.status_code, restored_status.error_id) == (401, "unauthorized")
    assert pickle.loads(pickle.dumps(stream_error)).partial.text == "Hi"
    assert isinstance(restored_status, GradientError)


def test_copies_keep_the_key_in_process() -> None:
    # Only pickles drop the key; frameworks deep-copy models (and their clients) all the time.
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    client = _scripted(script)
    for clone in (copy.copy(client), copy.deepcopy(client)):
        assert clone.settings.api_key is not None and clone.settings.api_key.get_secret_value() == SECRET_KEY
        clone.create(REQUEST)
    assert [r.headers["authorization"] for r in script.requests] == [f"Bearer {SECRET_KEY}"] * 2


def test_invalid_request_error_pickles_with_its_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        build_request(model="m", input="hi", temperature=3.5)
    restored = pickle.loads(pickle.dumps(caught.value))
    assert (type(restored), restored.field, str(restored)) == (
        InvalidRequestError,
        "temperature",
        "temperature: must be between 0 and 2, got 3.5",
    )


def test_personal_access_token_echoed_bare_is_scrubbed_too() -> None:
    # DO inference also accepts PATs (`dop_v1_...`); a server quoting one without "Bearer" is still caught.
    pat = f"dop_v1_{SECRET_FRAGMENT}"
    script = FakeEndpoint(EchoAuth(status=401))
    client = ResponsesClient(api_key=pat, base_url=BASE_URL, transport=script.transport, max_retries=0)
    with pytest.raises(AuthenticationError) as caught:
        client.create(REQUEST)
    assert "(token=dop_v1_***)" in str(caught.value)
    assert_error_clean(caught.value)


# == hostile real sockets (red team) ==================================================================
# -- hostile real sockets: echoing servers ---------------------------------------------------------------
def echoing_status(status: int) -> Callable[[socket.socket], None]:
    """Answers `status` with an error body that quotes the Authorization header it received, twice."""

    def handler(conn: socket.socket) -> None:
        head, _ = read_request(conn)
        auth = request_header(head, "authorization") or ""
        token = auth.split(" ", 1)[-1]
        body = {
            "id": "echo",
            "message": f"Invalid credentials {auth} (token={token})",
            "detail": {"received": auth, "token": token},
        }
        conn.sendall(http_response(status, json.dumps(body).encode()))

    return handler


def silent(conn: socket.socket) -> None:
    read_request(conn)
    hold(conn)


def reset_mid_headers(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
    # An abortive close (RST), as a crashing proxy would: SO_LINGER on, zero seconds.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def echo_in_header(conn: socket.socket) -> None:
    head, _ = read_request(conn)
    auth = request_header(head, "authorization") or ""
    conn.sendall(http_response(200, json.dumps(OK_BODY).encode(), {"x-echo": auth}))


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback URL nothing listens on: connecting is refused."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield f"http://127.0.0.1:{port}"


# -- hostile real sockets: the search --------------------------------------------------------------------
def _request_of(error: BaseException) -> httpx.Request | None:
    try:
        request = getattr(error, "request", None)
    except RuntimeError:  # httpx.RequestError.request before one was attached
        return None
    return request if isinstance(request, httpx.Request) else None


def _headers_text(request: httpx.Request) -> str:
    return repr([(name, value) for name, value in request.headers.raw])


def assert_key_on_no_surface(exc: BaseException) -> None:
    assert isinstance(exc, APIError), repr(exc)
    request = exc.request
    assert request is not None, "the error should say which request failed"
    assert SECRET_FRAGMENT not in (request.headers.get("authorization") or "")
    assert SECRET_FRAGMENT not in _headers_text(request)
    cause_request = _request_of(exc.__cause__) if exc.__cause__ is not None else None
    if cause_request is not None:
        assert SECRET_FRAGMENT not in (cause_request.headers.get("authorization") or "")
        assert SECRET_FRAGMENT not in _headers_text(cause_request)
    if isinstance(exc, APIStatusError):
        assert SECRET_FRAGMENT not in (exc.response.request.headers.get("authorization") or "")
        assert SECRET_FRAGMENT not in _headers_text(exc.response.request)
        assert SECRET_FRAGMENT not in repr(exc.body)
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        assert SECRET_FRAGMENT not in str(link), type(link)
        assert SECRET_FRAGMENT not in repr(link), type(link)
        link = link.__cause__ or link.__context__
    formatted = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert SECRET_FRAGMENT not in formatted, _around(formatted)


def assert_sent_the_key(server: RawServer) -> None:
    """The scenario is real: the key did go out on the wire (so there was something to leak)."""
    assert server.requests, "the server saw no request"
    assert request_header(server.requests[0], "authorization") == f"Bearer {SECRET_KEY}"


def _around(text: str) -> str:
    at = text.find(SECRET_FRAGMENT)
    return text[max(0, at - 300) : at + 60]


async def _fail(client: ResponsesClient, how: str) -> BaseException:
    try:
        await create(client, how)
    except Exception as exc:
        return exc
    raise AssertionError("the call should have failed")


# -- status errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    ("status", "expected"), [(401, AuthenticationError), (429, RateLimitError), (503, InternalServerError)]
)
async def test_status_errors_that_echo_the_key_leave_it_on_no_surface(
    status: int, expected: type[APIError], how: str
) -> None:
    with RawServer(echoing_status(status)) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, expected), repr(error)
    assert "Invalid credentials" in str(error)  # the server's message is kept, scrubbed
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


# -- transport failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_connection_refused(closed_port: str, how: str) -> None:
    client = ResponsesClient(api_key=SECRET_KEY, base_url=closed_port, max_retries=0)
    error = await _fail(client, how)
    await client.aclose()
    assert isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError), repr(error)
    assert_key_on_no_surface(error)


@pytest.mark.parametrize("how", HOW)
async def test_read_timeout(how: str) -> None:
    with RawServer(silent) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, timeout=0.3, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, APITimeoutError), repr(error)
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


@pytest.mark.parametrize("how", HOW)
async def test_connection_reset_mid_response(how: str) -> None:
    with RawServer(reset_mid_headers) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, APIConnectionError), repr(error)
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


# -- logs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_key_echoed_in_a_response_header_stays_out_of_debug_logs(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpcore")
    caplog.set_level(logging.DEBUG, logger="httpx")
    with RawServer(echo_in_header) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        result = await create(client, how)
        await client.aclose()
    assert result.text == "hello"
    records = caplog.get_records("call")
    assert any(record.name.startswith("httpcore") for record in records), "httpcore logged nothing"
    assert any("receive_response_headers" in record.getMessage() for record in records)
    leaking = [record.getMessage() for record in records if SECRET_FRAGMENT in record.getMessage()]
    assert not leaking, leaking[0][:300]
