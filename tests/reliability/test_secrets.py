"""The access key never leaks: reprs, logs, errors, serializations, pickles, cassettes, notebooks, the demo.

Every test uses one recognisable key (`SECRET_KEY`) against a local server that demands it, so calls
really carry it, then looks for it (and for a fragment of it, in case it was cut or re-encoded) in
everything a user could print, log, persist or ship: `repr`/`str` of every public object, DEBUG logs of
every logger, exception messages with their whole `__cause__`/`__context__` chains and tracebacks,
LangChain `dumpd`/`dumps` and tracing payloads, LlamaIndex `to_dict`/`to_json` and instrumentation
events, pickles (which must re-resolve the key from the environment on load), recorded cassettes,
notebook outputs and the demo's terminal output.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

from gradient_integrations.core import (
    GradientError,
    ResponsesClient,
    RetryPolicy,
    Settings,
    build_request,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer

from ._support import KEY_ENV_VARS, MODEL, SECRET_FRAGMENT, SECRET_KEY

REPO = Path(__file__).resolve().parents[2]
OTHER_KEY = "sk-do-RELOADED-FROM-ENVIRONMENT-42"
# A DO model key or a bearer token that is not redacted: what a cassette or notebook must never hold.
_LIVE_CREDENTIAL = re.compile(
    r"sk-do-(?!\*)[A-Za-z0-9_\-]{8,}|dop_v1_(?!\*)[A-Za-z0-9]{8,}|(?i:bearer)\s+(?![*<]|REDACTED)\S{8,}"
)


def assert_clean(text: str, where: str) -> None:
    assert SECRET_KEY not in text, f"the access key leaked into {where}"
    assert SECRET_FRAGMENT not in text, f"part of the access key leaked into {where}"


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalServer]:
    """A local server that answers 401 unless the request carries exactly `SECRET_KEY`."""
    with LocalServer(api_key=SECRET_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", SECRET_KEY)


def _fault(spec: str) -> dict[str, str]:
    return {"x-gradient-fault": spec, "x-gradient-fault-key": uuid.uuid4().hex}


def _fast(client: ResponsesClient) -> ResponsesClient:
    client.retry_policy = RetryPolicy(max_retries=client.retry_policy.max_retries, sleep=lambda _: None)
    return client


# -- repr / str of every public object --------------------------------------------------------------
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


def test_a_server_echoing_the_key_is_redacted() -> None:
    """A misbehaving endpoint that repeats the Authorization header in its error body."""

    def echo(request: httpx.Request) -> httpx.Response:
        echoed = request.headers["authorization"]
        return httpx.Response(400, json={"id": "bad_request", "message": f"bad header {echoed}"})

    client = ResponsesClient(
        api_key=SECRET_KEY, base_url="https://gradient.invalid", transport=httpx.MockTransport(echo)
    )
    with pytest.raises(GradientError) as caught:
        client.create(build_request(model=MODEL, input="x"))
    assert "bad header" in str(caught.value)
    assert_clean(str(caught.value), "an error built from an echoing server's body")
    assert_clean(repr(pickle.dumps(caught.value)), "a pickled error built from an echoing server's body")


# -- serialization and pickles ------------------------------------------------------------------------
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
