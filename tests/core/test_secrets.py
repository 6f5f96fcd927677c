"""The access key never shows: not in a repr or str, a log line, an error or its cause chain, or a pickle.

The key is "sk-do-TESTSECRET123". Servers in these tests are hostile on purpose: they echo the
Authorization header back in error bodies and stream error events, and the logging level is DEBUG for
everything (httpx and httpcore included) while requests run over both the in-process transport and a
real loopback socket.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import traceback
from collections.abc import Iterator

import httpx
import pytest

from gradient_integrations.core import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    GradientError,
    InvalidRequestError,
    ResponsesClient,
    RetryPolicy,
    Settings,
    StreamError,
    build_request,
)
from gradient_integrations.core.settings import API_KEY_ENV_VARS

from ._loopback import StallingServer
from ._support import (
    BASE_URL,
    Reply,
    Script,
    SleepRecorder,
    acollect,
    collect,
    json_reply,
    load_json,
    sse_event,
)

KEY = "sk-do-TESTSECRET123"
SECRET = "TESTSECRET123"  # the part that must never appear, whatever prefix or masking surrounds it
REQUEST = build_request(model="m", input="hi")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # root: gradient_integrations, httpx, httpcore, everything
    yield caplog
    records = caplog.get_records("call")
    text = "\n".join(f"{record.getMessage()} {record.args!r}" for record in records)
    assert records, "the scenario should have logged something"
    assert SECRET not in text


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


def _client(script: Script) -> ResponsesClient:
    sleeper = SleepRecorder()
    return ResponsesClient(
        api_key=KEY,
        base_url=BASE_URL,
        transport=script.transport,
        async_transport=script.async_transport,
        retry_policy=RetryPolicy(sleep=sleeper, async_sleep=sleeper.async_sleep),
    )


def assert_clean(error: BaseException) -> None:
    """No message, repr, arg or formatted traceback anywhere in the cause/context chain holds the key."""
    seen: BaseException | None = error
    while seen is not None:
        assert SECRET not in str(seen)
        assert SECRET not in repr(seen)
        assert all(SECRET not in str(arg) for arg in seen.args)
        seen = seen.__cause__ or seen.__context__
    assert SECRET not in "".join(traceback.format_exception(error))


def test_reprs_and_strs(monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = ResponsesClient(api_key=KEY)
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", KEY)
    from_env = ResponsesClient()
    for client in (explicit, from_env):
        assert client.settings.api_key is not None and client.settings.api_key.get_secret_value() == KEY
        for shown in (repr(client), str(client), repr(client.settings), str(client.settings)):
            assert SECRET not in shown
        assert SECRET not in repr(client.settings.api_key) and SECRET not in str(client.settings.api_key)
        assert SECRET not in repr(client.stream(REQUEST))
        assert SECRET not in repr(vars(client))
    assert SECRET not in repr(Settings.resolve(api_key=KEY))


async def test_logs_at_debug_over_the_in_process_transport(debug_logs: pytest.LogCaptureFixture) -> None:
    ok = json_reply(load_json("pydo_created_at.json"))
    script = Script(json_reply({"id": "x", "message": "busy"}, status=503), ok)
    client = _client(script)
    client.create(REQUEST)  # one retry, logged
    await client.acreate(REQUEST)
    assert script.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was really sent
    assert any("retrying" in record.getMessage() for record in debug_logs.records)


async def test_logs_at_debug_over_a_real_socket(debug_logs: pytest.LogCaptureFixture) -> None:
    done = sse_event(json.dumps({"choices": [{"index": 0, "delta": {"content": "ok"}}]})) + sse_event(
        "[DONE]"
    )
    with StallingServer([(0.0, done.encode())]) as server:
        client = ResponsesClient(api_key=KEY, base_url=server.base_url)
        stream = client.stream(REQUEST)
        assert collect(stream)[1] is None and stream.result.text == "ok"
        astream = client.astream(REQUEST)
        assert (await acollect(astream))[1] is None
        await client.aclose()
    assert any(record.name.startswith("httpcore") for record in debug_logs.records)


@pytest.mark.parametrize("status", [401, 403, 500])
async def test_status_errors_that_echo_the_key(status: int, debug_logs: pytest.LogCaptureFixture) -> None:
    script = Script(EchoAuth(status=status))
    client = _client(script)
    with pytest.raises(APIStatusError) as sync_caught:
        client.create(REQUEST)
    with pytest.raises(APIStatusError) as async_caught:
        await client.acreate(REQUEST)
    for caught in (sync_caught, async_caught):
        assert "Bearer ***" in str(caught.value) and "sk-do-***" in str(caught.value)
        assert_clean(caught.value)
    assert isinstance(caught.value, AuthenticationError) is (status == 401)


async def test_stream_error_events_that_echo_the_key(debug_logs: pytest.LogCaptureFixture) -> None:
    script = Script(EchoAuth(chunks=[]))
    client = _client(script)
    deltas, error = collect(client.stream(REQUEST))
    adeltas, aerror = await acollect(client.astream(REQUEST))
    assert [d.text for d in deltas] == [d.text for d in adeltas] == ["Hi"]
    for failure in (error, aerror):
        assert isinstance(failure, StreamError)
        assert "revoked" in str(failure)
        assert_clean(failure)


def test_malformed_event_that_contains_the_key_is_not_quoted_back() -> None:
    script = Script(Reply(chunks=[f"data: {{oops Bearer {KEY}\n\n".encode()]))
    _, error = collect(_client(script).stream(REQUEST))
    assert error is not None and "Malformed JSON" in str(error)
    assert_clean(error)


def test_connection_errors(debug_logs: pytest.LogCaptureFixture) -> None:
    script = Script(Reply(raises=httpx.ConnectError("[Errno 111] Connection refused")))
    with pytest.raises(APIConnectionError) as caught:
        _client(script).create(REQUEST)
    assert_clean(caught.value)
    assert caught.value.request is not None
    assert SECRET not in repr(caught.value.request.headers)  # httpx masks it in the attached request


def test_configuration_error_with_another_key_missing() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ResponsesClient(base_url="https://remote.example")
    assert_clean(caught.value)


# -- pickles -----------------------------------------------------------------------------------------
def test_client_pickle_holds_no_key_and_reresolves_it_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ResponsesClient(api_key=KEY, base_url="https://remote.example/v1", max_retries=5, timeout=12.0)
    client.http_client  # a live pool must not get in the way either  # noqa: B018
    data = pickle.dumps(client)
    assert SECRET.encode() not in data
    monkeypatch.setenv("MODEL_ACCESS_KEY", "sk-do-FROM-ENV")
    restored = pickle.loads(data)
    assert restored.settings.api_key.get_secret_value() == "sk-do-FROM-ENV"
    assert restored.settings.base_url == "https://remote.example"
    assert (restored.settings.max_retries, restored.settings.timeout.read) == (5, 12.0)
    script = Script(json_reply(load_json("pydo_created_at.json")))
    restored._transport = script.transport  # what was pickled had no transport to carry over
    restored.create(REQUEST)
    assert script.requests[0].headers["authorization"] == "Bearer sk-do-FROM-ENV"


def test_unpickled_client_without_any_key_fails_clearly_before_sending() -> None:
    restored = pickle.loads(pickle.dumps(ResponsesClient(api_key=KEY, base_url="https://remote.example")))
    assert restored.settings.api_key is None
    script = Script(json_reply(load_json("pydo_created_at.json")))
    restored._transport = script.transport
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        restored.create(REQUEST)
    assert script.count == 0


async def test_errors_pickle_without_the_key_and_load_back() -> None:
    script = Script(EchoAuth(status=401))
    with pytest.raises(AuthenticationError) as caught:
        _client(script).create(REQUEST)
    _, stream_error = collect(_client(Script(EchoAuth(chunks=[]))).stream(REQUEST))
    assert stream_error is not None
    for error in (caught.value, stream_error):
        data = pickle.dumps(error)
        assert SECRET.encode() not in data
        restored = pickle.loads(data)
        assert type(restored) is type(error) and str(restored) == str(error)
        assert restored.request is None
    restored_status = pickle.loads(pickle.dumps(caught.value))
    assert (restored_status.status_code, restored_status.error_id) == (401, "unauthorized")
    assert pickle.loads(pickle.dumps(stream_error)).partial.text == "Hi"
    assert isinstance(restored_status, GradientError)


def test_copies_keep_the_key_in_process() -> None:
    # Only pickles drop the key; frameworks deep-copy models (and their clients) all the time.
    script = Script(json_reply(load_json("pydo_created_at.json")))
    client = _client(script)
    for clone in (copy.copy(client), copy.deepcopy(client)):
        assert clone.settings.api_key is not None and clone.settings.api_key.get_secret_value() == KEY
        clone.create(REQUEST)
    assert [r.headers["authorization"] for r in script.requests] == [f"Bearer {KEY}"] * 2


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
    pat = "dop_v1_TESTSECRET123"
    script = Script(EchoAuth(status=401))
    client = ResponsesClient(api_key=pat, base_url=BASE_URL, transport=script.transport, max_retries=0)
    with pytest.raises(AuthenticationError) as caught:
        client.create(REQUEST)
    assert "(token=dop_v1_***)" in str(caught.value)
    assert_clean(caught.value)
