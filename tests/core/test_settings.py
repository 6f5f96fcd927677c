"""Settings resolution: key order, endpoint forms, loopback without a key, default timeouts and retries.

Every test starts from an environment with none of the key or endpoint variables set (`clean_env`), so
the machine running the suite cannot change the outcome.
"""

from __future__ import annotations

import httpx
import pytest
from fakes import FakeEndpoint, json_reply
from pydantic import SecretStr

from gradient_integrations.core import ConfigurationError, ResponsesClient, Settings, build_request
from gradient_integrations.core.settings import API_KEY_ENV_VARS, ENDPOINT_ENV_VAR, missing_key_error

from ._support import load_json

ALL_VARS = (*API_KEY_ENV_VARS, ENDPOINT_ENV_VAR)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)


def test_key_env_vars_are_the_three_documented_names_in_order() -> None:
    assert API_KEY_ENV_VARS == ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")


@pytest.mark.parametrize("winner", range(3))
def test_first_set_env_var_wins(monkeypatch: pytest.MonkeyPatch, winner: int) -> None:
    # Set the winner and every variable after it: only the winner's value may be used.
    for position, name in enumerate(API_KEY_ENV_VARS):
        if position >= winner:
            monkeypatch.setenv(name, f"key-from-{name}")
    settings = Settings.resolve()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == f"key-from-{API_KEY_ENV_VARS[winner]}"


def test_explicit_key_beats_every_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_KEY_ENV_VARS:
        monkeypatch.setenv(name, f"key-from-{name}")
    for explicit in ("explicit-key", SecretStr("explicit-key")):
        settings = Settings.resolve(api_key=explicit)
        assert isinstance(settings.api_key, SecretStr)
        assert settings.api_key.get_secret_value() == "explicit-key"


def test_empty_env_var_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "")
    monkeypatch.setenv("MODEL_ACCESS_KEY", "second")
    settings = Settings.resolve()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "second"


@pytest.mark.parametrize(
    "given",
    [
        "https://h.example",
        "https://h.example/",
        "https://h.example/v1",
        "https://h.example/v1/",
        # the endpoint URL as DO's docs print it, pasted whole: read as its root, never doubled
        "https://h.example/v1/responses",
        "https://h.example/v1/responses/",
        "https://h.example/responses",
    ],
)
def test_base_url_forms_all_post_to_root_v1_responses(given: str) -> None:
    settings = Settings.resolve(api_key="k", base_url=given)
    assert settings.base_url == "https://h.example"
    assert settings.responses_url == "https://h.example/v1/responses"


@pytest.mark.parametrize(
    "given", ["https://h.example", "https://h.example/v1/", "https://h.example/v1/responses"]
)
def test_client_sends_to_the_normalized_url(given: str) -> None:
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    with ResponsesClient(api_key="k", base_url=given, transport=script.transport) as client:
        client.create(build_request(model="m", input="hi"))
    assert str(script.requests[0].url) == "https://h.example/v1/responses"
    assert script.requests[0].method == "POST"


def test_base_url_from_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.resolve(api_key="k").base_url == "https://inference.do-ai.run"
    monkeypatch.setenv(ENDPOINT_ENV_VAR, "https://env.example/v1/")
    assert Settings.resolve(api_key="k").base_url == "https://env.example"
    assert Settings.resolve(api_key="k", base_url="https://explicit.example").base_url == (
        "https://explicit.example"
    )


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("https://h.example/v1/chat/completions", "/chat/completions"),
        ("https://h.example/v1/embeddings/", "/embeddings"),
        ("https://h.example/v1/models", "/models"),
        ("https://h.example/v1/batches", "/batches"),
    ],
)
def test_base_url_ending_in_another_api_path_is_refused_with_the_root(given: str, path: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve(api_key="k", base_url=given)
    assert str(caught.value).startswith("base_url: ")
    assert f"ends in the API path {path!r}" in str(caught.value)
    assert "base_url='https://h.example'" in str(caught.value)


@pytest.mark.parametrize("bad", ["ftp://h.example", "inference.do-ai.run", "https://"])
def test_malformed_base_url_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url must be an http"):
        Settings.resolve(api_key="k", base_url=bad)


def test_missing_key_names_all_three_variables() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve()
    message = str(caught.value)
    for name in API_KEY_ENV_VARS:
        assert name in message
    assert "api_key" in message
    assert isinstance(caught.value, ValueError)


def test_missing_key_raised_by_the_client_constructor() -> None:
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        ResponsesClient(base_url="https://remote.example")


async def test_missing_key_reads_the_same_when_resolved_and_when_a_call_is_made() -> None:
    # Settings resolved without requiring a key (as the adapters do, so a model can be built and pickled
    # keyless) fail at the call with the very message `Settings.resolve` gives.
    expected = str(missing_key_error("https://remote.example"))
    assert expected.startswith("No access key for https://remote.example")
    assert "GRADIENT_MODEL_ACCESS_KEY, MODEL_ACCESS_KEY, DIGITALOCEAN_INFERENCE_KEY" in expected
    assert "api_key=" in expected
    with pytest.raises(ConfigurationError) as resolved:
        Settings.resolve(base_url="https://remote.example/v1")
    client = ResponsesClient.from_settings(
        Settings.resolve(base_url="https://remote.example", require_key=False)
    )
    request = build_request(model="m", input="hi")
    with pytest.raises(ConfigurationError) as at_call:
        client.create(request)
    with pytest.raises(ConfigurationError) as at_async_call:
        await client.acreate(request)
    assert str(resolved.value) == str(at_call.value) == str(at_async_call.value) == expected


@pytest.mark.parametrize(
    "loopback", ["http://127.0.0.1:8000", "http://localhost:9000/v1", "http://[::1]:8000", "http://127.8.9.1"]
)
def test_loopback_needs_no_key_and_sends_no_authorization(loopback: str) -> None:
    settings = Settings.resolve(base_url=loopback)
    assert settings.api_key is None
    assert settings.auth_headers() == {}
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    with ResponsesClient(base_url=loopback, transport=script.transport) as client:
        result = client.create(build_request(model="m", input="hi"))
    assert result.text == "The ocean covers over 70% of Earth."
    assert "authorization" not in script.requests[0].headers


def test_key_is_sent_as_bearer() -> None:
    settings = Settings.resolve(api_key="abc")
    assert settings.auth_headers() == {"Authorization": "Bearer abc"}


def test_defaults_match_do_sdk() -> None:
    settings = Settings.resolve(api_key="k")
    assert settings.timeout.read == 60.0
    assert settings.timeout.connect == 5.0
    assert settings.max_retries == 2
    assert ResponsesClient(api_key="k").retry_policy.max_retries == 2


def test_client_applies_default_timeouts_to_each_request() -> None:
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    with ResponsesClient(api_key="k", transport=script.transport) as client:
        client.create(build_request(model="m", input="hi"))
    timeouts = script.requests[0].extensions["timeout"]
    assert timeouts["connect"] == 5.0
    assert timeouts["read"] == 60.0


@pytest.mark.parametrize(
    ("given", "connect", "read"),
    [(30.0, 5.0, 30.0), (2.0, 2.0, 2.0), ((1.0, 9.0), 1.0, 9.0), (httpx.Timeout(7.0, connect=3.0), 3.0, 7.0)],
)
def test_timeout_forms(
    given: float | tuple[float, float] | httpx.Timeout, connect: float, read: float
) -> None:
    timeout = Settings.resolve(api_key="k", timeout=given).timeout
    assert (timeout.connect, timeout.read) == (connect, read)


def test_max_retries_and_idle_timeout_validation() -> None:
    assert Settings.resolve(api_key="k", max_retries=0).max_retries == 0
    with pytest.raises(ConfigurationError, match="max_retries must be >= 0, got -1"):
        Settings.resolve(api_key="k", max_retries=-1)
    with pytest.raises(ConfigurationError, match="stream_idle_timeout"):
        Settings.resolve(api_key="k", stream_idle_timeout=0)
    assert Settings.resolve(api_key="k", stream_idle_timeout=None).stream_idle_timeout is None


def test_default_headers_are_sent_but_may_not_carry_authorization() -> None:
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    client = ResponsesClient(api_key="k", default_headers={"X-Team": "a"}, transport=script.transport)
    client.create(build_request(model="m", input="hi"), extra_headers={"X-Call": "b"})
    headers = script.requests[0].headers
    assert (headers["x-team"], headers["x-call"], headers["authorization"]) == ("a", "b", "Bearer k")
    with pytest.raises(ConfigurationError, match="Authorization"):
        ResponsesClient(api_key="k", default_headers={"authorization": "Bearer other"})


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_extra_headers_cannot_replace_the_key(name: str) -> None:
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    client = ResponsesClient(api_key="k", transport=script.transport)
    client.create(build_request(model="m", input="hi"), extra_headers={name: "Bearer other"})
    assert script.requests[0].headers.get_list("authorization") == ["Bearer k"]
