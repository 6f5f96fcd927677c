"""Every stored cassette is stamped with its source, holds no key, and kept only what replay needs.

These tests read the YAML files under `cassettes/` directly, so they also catch a cassette that was edited
by hand or recorded with another configuration. They list the files when they run (not at collection) and
run after every other test (see conftest), so under `make record` they check the cassettes just written.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from _recording import CASSETTE_ROOT, TEST_ACCESS_KEY, WRONG_ACCESS_KEY

from devtools import StoredCassette, find_key_like, read_cassette
from devtools.cassettes import LOCAL_ENDPOINT, REDACTED, REPLAY_RESPONSE_HEADERS
from gradient_integrations.core.settings import API_KEY_ENV_VARS

GROUPS = ("langchain", "llama_index")
# Any key in this environment counts too: a recording made with it must not contain it.
SECRETS = [TEST_ACCESS_KEY, WRONG_ACCESS_KEY, *(os.environ.get(name, "") for name in API_KEY_ENV_VARS)]


def stored_cassettes() -> list[StoredCassette]:
    paths = sorted(CASSETTE_ROOT.rglob("*.yaml"))
    assert paths, f"no cassettes under {CASSETTE_ROOT.name}/: record them with `make record`"
    return [read_cassette(path) for path in paths]  # raises, naming the file, on a missing stamp


def name(stored: StoredCassette) -> str:
    return f"{stored.path.parent.name}/{stored.path.stem}"


@pytest.mark.parametrize("group", GROUPS)
def test_each_framework_has_its_cassettes(group: str) -> None:
    names = {path.stem.removeprefix("test_") for path in (CASSETTE_ROOT / group).glob("*.yaml")}

    # The kinds the issue asks for: plain, streaming in both dialects, tools, structured output, errors.
    for dialect in ("do", "openai"):
        assert any(name.startswith("stream") and name.endswith(f"-{dialect}") for name in names)
    assert any("tool" in name for name in names)
    assert any("structured" in name for name in names)
    assert {"wrong_key_is_an_authentication_error", "rate_limit_is_retried_then_succeeds"} <= names


def test_every_cassette_is_stamped_with_its_source() -> None:
    for stored in stored_cassettes():
        source = stored.source
        assert stored.text.startswith("recorded_against:"), f"{name(stored)}: the stamp must come first"
        assert stored.interactions, f"{name(stored)}: no interactions, nothing to replay"
        assert source.recorded_with.startswith("gradient-integrations "), name(stored)
        if source.server == "local":
            assert source.endpoint == LOCAL_ENDPOINT, name(stored)
        else:
            assert source.endpoint.startswith("https://"), name(stored)


def test_local_only_cassettes_say_why() -> None:
    for stored in stored_cassettes():
        local_only = (
            "rate_limit" in stored.path.stem
            or stored.path.stem.endswith("-openai")
            # langchain-tests' suite always runs against the session's local server
            or stored.path.parent.name == "langchain_standard"
        )
        if local_only:
            assert stored.source.server == "local", name(stored)
            assert stored.source.note, f"{name(stored)}: a local-only cassette must say why"
        else:
            assert stored.source.note is None, name(stored)


def test_no_cassette_holds_a_key() -> None:
    leaks = {name(stored): find_key_like(stored.text, SECRETS) for stored in stored_cassettes()}

    assert {cassette: found for cassette, found in leaks.items() if found} == {}


def test_every_request_header_is_redacted_and_no_uri_has_a_query() -> None:
    for stored in stored_cassettes():
        for interaction in stored.interactions:
            request = interaction["request"]
            assert request["headers"], f"{name(stored)}: headers were dropped instead of redacted"
            unredacted = [key for key, values in request["headers"].items() if values != [REDACTED]]
            assert unredacted == [], name(stored)
            uri = urlsplit(request["uri"])
            assert (uri.query, uri.username, uri.port) == ("", None, None), name(stored)
            assert uri.path == "/v1/responses", name(stored)


def test_responses_keep_only_the_headers_replay_needs() -> None:
    for stored in stored_cassettes():
        for interaction in stored.interactions:
            names = {header.lower() for header in interaction["response"]["headers"]}
            assert names <= REPLAY_RESPONSE_HEADERS, name(stored)
            assert "content-type" in names, name(stored)
