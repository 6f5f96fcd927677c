"""The cassette machinery itself: redaction, matching, stamping, scanning, and the record/replay switch.

The last tests record a real call to a key-protected local server into a temporary cassette and replay it
with no server, so the recording path `make record` relies on is exercised by every CI run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _recording import REPLAY_BASE_URL, TEST_ACCESS_KEY, RecordingPlan
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from devtools import (
    CassetteError,
    RecordingSource,
    StampedYamlSerializer,
    build_vcr,
    cassette_name,
    find_key_like,
    json_body_matcher,
    read_cassette,
    redact_request,
    redact_response,
)
from devtools.cassettes import REDACTED
from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.local import LocalServer

DO_KEY = "sk-do-v1-abcdef0123456789"


def vcr_request(body: bytes = b'{"model":"m","input":"hi"}', **headers: str) -> Request:
    uri = "https://user:pw@inference.do-ai.run:443/v1/responses?api_key=" + DO_KEY
    return Request("POST", uri, body, {"Authorization": f"Bearer {DO_KEY}", **headers})


def test_importing_the_helpers_loads_no_recording_or_notebook_library() -> None:
    probe = (
        "import sys, devtools, devtools.notebooks\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'vcr', 'yaml', 'nbclient', 'nbformat'}))"
    )
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)

    assert done.stdout.strip() == "[]"


# -- redaction -----------------------------------------------------------------------------------------
def test_redact_request_replaces_every_header_value_and_strips_the_uri() -> None:
    request = redact_request(vcr_request(**{"X-Api-Key": DO_KEY, "Accept": "text/event-stream"}))

    assert dict(request.headers) == {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": REDACTED}
    assert request.uri == "https://inference.do-ai.run/v1/responses"
    assert json.loads(request.body) == {"model": "m", "input": "hi"}
    assert b"\n" in request.body, "JSON bodies are indented for reading"


def test_an_mcp_servers_authorization_is_masked_in_the_cassette_and_replay_still_matches() -> None:
    token = "mcp-oauth-7Qx2pLk9"  # no key shape `redact` knows: masked because of where it sits
    tools = [
        {"type": "web_search"},
        {"type": "mcp", "server_label": "d", "server_url": "https://m.test", "authorization": token},
    ]
    body = json.dumps({"model": "m", "input": "hi", "tools": tools}).encode()
    recorded = redact_request(vcr_request(body=body))
    assert token not in recorded.body.decode()
    assert json.loads(recorded.body)["tools"][1]["authorization"] == REDACTED
    assert json.loads(recorded.body)["tools"][0] == {"type": "web_search"}
    json_body_matcher(recorded, vcr_request(body=body))  # the live request, token and all, replays
    other = json.dumps({"model": "m", "input": "hi", "tools": tools[:1]}).encode()
    with pytest.raises(AssertionError, match="tools"):
        json_body_matcher(recorded, vcr_request(body=other))


def test_redact_request_scrubs_credentials_from_a_body() -> None:
    request = redact_request(vcr_request(body=f"token=Bearer {DO_KEY}".encode()))

    assert DO_KEY not in request.body.decode()
    assert find_key_like(request.body.decode()) == []


def test_redact_response_keeps_replay_headers_and_scrubs_the_body() -> None:
    response = {
        "status": {"code": 429, "message": "Too Many Requests"},
        "headers": {
            "Content-Type": ["application/json"],
            "Retry-After": ["1"],
            "Set-Cookie": ["session=abc"],
            "CF-Ray": ["8f00"],
        },
        "body": {"string": json.dumps({"message": f"bad key {DO_KEY}"}).encode()},
    }

    redacted = redact_response(response)

    assert set(redacted["headers"]) == {"Content-Type", "Retry-After"}
    body = redacted["body"]["string"].decode()
    assert DO_KEY not in body
    assert json.loads(body) == {"message": "bad key sk-do-***"}


def test_redact_response_leaves_a_stream_body_verbatim() -> None:
    stream = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    response = {"headers": {"content-type": ["text/event-stream"]}, "body": {"string": stream}}

    assert redact_response(response)["body"]["string"] == stream


# -- matching --------------------------------------------------------------------------------------------
def test_json_body_matcher_ignores_layout_and_names_the_differing_field() -> None:
    compact = Request("POST", "http://a/v1/responses", b'{"model":"m","input":"hi"}', {})
    indented = Request("POST", "http://b/v1/responses", b'{\n  "input": "hi",\n  "model": "m"\n}', {})
    other = Request("POST", "http://a/v1/responses", b'{"model":"m","input":"bye"}', {})

    assert json_body_matcher(compact, indented) is None
    with pytest.raises(AssertionError, match=r"\['input'\]"):
        json_body_matcher(compact, other)


# -- stamping and reading ------------------------------------------------------------------------------
def test_serializer_refuses_to_write_an_unstamped_cassette() -> None:
    with pytest.raises(CassetteError, match="RecordingSource"):
        StampedYamlSerializer().serialize({"version": 1, "interactions": []})


def test_serializer_writes_the_stamp_first_and_bodies_as_blocks(tmp_path: Path) -> None:
    source = RecordingSource.gradient("https://inference.do-ai.run/v1?key=x", "openai-gpt-oss-20b")
    body = {"string": "data: one\n\ndata: [DONE]\n\n"}
    interaction = {"request": {"uri": "u"}, "response": {"status": {"code": 200}, "body": body}}
    text = StampedYamlSerializer(source).serialize({"version": 1, "interactions": [interaction]})
    path = tmp_path / "c.yaml"
    path.write_text(text)

    stored = read_cassette(path)

    assert text.startswith("recorded_against:\n  server: gradient\n")
    assert "string: |" in text
    assert stored.source == source
    assert stored.source.endpoint == "https://inference.do-ai.run/v1"
    assert stored.interactions[0]["response"]["body"]["string"] == "data: one\n\ndata: [DONE]\n\n"


@pytest.mark.parametrize(
    ("stamp", "message"),
    [
        ("", "no `recorded_against:`"),
        ("recorded_against: {server: local}\n", "recorded_against.endpoint is missing"),
        (
            "recorded_against: {server: cloud, endpoint: e, model: m, recorded_on: '2025-01-01', "
            "recorded_with: x}\n",
            "server must be",
        ),
        (
            "recorded_against: {server: local, endpoint: e, model: m, recorded_on: yesterday, "
            "recorded_with: x}\n",
            "YYYY-MM-DD",
        ),
    ],
)
def test_read_cassette_rejects_a_missing_or_bad_stamp(tmp_path: Path, stamp: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(stamp + "version: 1\ninteractions: []\n")

    with pytest.raises(CassetteError, match=message) as caught:
        read_cassette(path)

    assert "bad.yaml" in str(caught.value)


def test_read_cassette_explains_how_to_record_a_missing_one(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="make record"):
        read_cassette(tmp_path / "absent.yaml")


def test_cassette_name_is_a_safe_file_stem() -> None:
    assert cassette_name("test_stream[openai]") == "test_stream-openai"
    assert cassette_name("test_x[a/b c]") == "test_x-a-b-c"


# -- scanning --------------------------------------------------------------------------------------------
def test_find_key_like_flags_keys_and_never_repeats_them() -> None:
    secret = "my-very-private-test-key"
    text = "\n".join(["fine", f"key: {DO_KEY}", "auth: Bearer abc.def", "auth: Bearer ***", f"x {secret}"])

    findings = find_key_like(text, [secret])

    assert [finding.split(":")[0] for finding in findings] == ["line 2", "line 3", "line 5"]
    assert not any(secret in finding or DO_KEY in finding for finding in findings)


# -- the record/replay switch ----------------------------------------------------------------------------
def test_plan_replays_by_default_and_ignores_a_key() -> None:
    plan = RecordingPlan.resolve(None, {"GRADIENT_MODEL_ACCESS_KEY": DO_KEY})

    assert not plan.recording
    assert plan.real_key is None


@pytest.mark.parametrize(
    ("mode", "env", "message"),
    [
        (None, {"GRADIENT_RECORD": "1"}, "needs a record mode"),
        ("all", {}, "set GRADIENT_RECORD=1"),
        ("new_episodes", {"GRADIENT_RECORD": "1"}, "would merge old and new"),
    ],
)
def test_plan_refuses_half_a_recording_request(mode: str | None, env: dict[str, str], message: str) -> None:
    with pytest.raises(CassetteError, match=message):
        RecordingPlan.resolve(mode, env)


def test_plan_records_against_the_real_endpoint_when_a_key_is_set() -> None:
    env = {
        "GRADIENT_RECORD": "1",
        "GRADIENT_MODEL_ACCESS_KEY": DO_KEY,
        "GRADIENT_MODEL": "openai-gpt-oss-120b",
        "GRADIENT_INFERENCE_ENDPOINT": "https://example.test",
    }

    plan = RecordingPlan.resolve("rewrite", env)

    assert plan.record_mode == "all"
    assert plan.real_key is not None and plan.real_key.get_secret_value() == DO_KEY
    assert (plan.endpoint, plan.model) == ("https://example.test", "openai-gpt-oss-120b")
    assert DO_KEY not in repr(plan)


def test_plan_without_a_key_records_against_the_local_server() -> None:
    plan = RecordingPlan.resolve("all", {"GRADIENT_RECORD": "1"})

    assert plan.recording and plan.real_key is None


# -- record, then replay with no server ----------------------------------------------------------------
def test_a_recorded_call_replays_without_a_server(tmp_path: Path, recording_server: LocalServer) -> None:
    path = str(tmp_path / "round_trip.yaml")
    request = build_request(model="openai-gpt-oss-20b", input="Reply with pong")
    source = RecordingSource.local_server("openai-gpt-oss-20b")

    with (
        build_vcr("all", source).use_cassette(path),
        ResponsesClient(api_key=TEST_ACCESS_KEY, base_url=recording_server.base_url) as client,
    ):
        recorded = client.create(request)
    with (
        build_vcr("none", None).use_cassette(path) as cassette,
        ResponsesClient(api_key=TEST_ACCESS_KEY, base_url=REPLAY_BASE_URL) as client,
    ):
        replayed = client.create(request)
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.create(build_request(model="openai-gpt-oss-20b", input="something else"))

    assert replayed.text == recorded.text and "pong" in replayed.text
    assert cassette.all_played
    stored = read_cassette(Path(path))
    assert stored.source == source
    assert find_key_like(stored.text, [TEST_ACCESS_KEY]) == []
    assert stored.interactions[0]["request"]["headers"]["authorization"] == [REDACTED]
