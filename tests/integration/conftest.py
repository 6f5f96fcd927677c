"""Cassette plumbing for the integration tests: the `gradient` fixture and the `local_only` marker.

Each test that takes `gradient` runs inside the vcrpy cassette `cassettes/<group>/<test>.yaml`, where
`<group>` is the test module's name between `test_` and `_cassettes` (`test_langchain_cassettes.py` ->
`cassettes/langchain/`). Replay is the default and needs no network and no server; afterwards every
recorded interaction must have been played, so a retry that no longer happens, or a request too many,
fails the test.

Recording is `GRADIENT_RECORD=1 pytest tests/integration --record-mode=all` (see `_recording`). Each
recording starts from an empty cassette, and a test that fails while recording leaves the previous one in
place. Tests marked `local_only(reason=...)` exercise what only the local server can be asked for
(injected faults, the OpenAI typed-event stream dialect): they always record against it, and their stamp
carries the reason.

This directory has no `__init__.py` on purpose: as a package it would put `tests/` on `sys.path`, where
`tests/langchain/` and `tests/llama_index/` would shadow the real libraries; the helpers live in
`_recording.py`, imported by its plain name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _recording import (
    CASSETTE_ROOT,
    DEFAULT_RECORD_MODEL,
    REPLAY_BASE_URL,
    TEST_ACCESS_KEY,
    CassetteTarget,
    RecordingPlan,
)
from pydantic import SecretStr

from devtools import (
    CassetteError,
    RecordingSource,
    build_vcr,
    cassette_name,
    read_cassette,
)

if TYPE_CHECKING:
    from gradient_integrations.local import LocalServer

_CALL_FAILED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_only(reason): record this cassette against the local server even when a real key is set",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The hygiene scan runs last, so under `make record` it checks the cassettes just written.
    items.sort(key=lambda item: item.path.name == "test_cassette_hygiene.py")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    # Kept on the item so the `gradient` fixture knows, at teardown, whether the test body failed.
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def recording_plan(pytestconfig: pytest.Config) -> RecordingPlan:
    # `--record-mode` comes from pytest-recording; without that plugin there is nothing to record with.
    try:
        return RecordingPlan.from_environment(pytestconfig.getoption("--record-mode", default=None))
    except CassetteError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def recording_server() -> Iterator[LocalServer]:
    """The local server recordings without a real key are made against; it demands TEST_ACCESS_KEY."""
    from gradient_integrations.local import DEFAULT_MODELS, LocalServer

    assert DEFAULT_RECORD_MODEL in DEFAULT_MODELS
    with LocalServer(api_key=TEST_ACCESS_KEY) as server:
        yield server


def _local_model(plan: RecordingPlan) -> str:
    from gradient_integrations.local import DEFAULT_MODELS

    # A real-only model id chosen with GRADIENT_MODEL would be a 404 on the local server.
    return plan.model if plan.model in DEFAULT_MODELS else DEFAULT_RECORD_MODEL


def _restore(path: Path, previous: str | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(previous, encoding="utf-8")


@pytest.fixture
def gradient(request: pytest.FixtureRequest, recording_plan: RecordingPlan) -> Iterator[CassetteTarget]:
    """The test's cassette, live, plus the base URL, key and model its requests must use."""
    group = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").removesuffix("_cassettes")
    path = CASSETTE_ROOT / group / f"{cassette_name(request.node.name)}.yaml"
    local_only = request.node.get_closest_marker("local_only")

    if not recording_plan.recording:
        try:
            source = read_cassette(path).source
        except CassetteError as exc:
            pytest.fail(str(exc), pytrace=False)
        base_url, api_key, write_stamp = REPLAY_BASE_URL, SecretStr(TEST_ACCESS_KEY), None
    elif recording_plan.real_key is not None and local_only is None:
        source = RecordingSource.gradient(recording_plan.endpoint, recording_plan.model)
        base_url, api_key, write_stamp = recording_plan.endpoint, recording_plan.real_key, source
    else:
        server: LocalServer = request.getfixturevalue("recording_server")
        server.reset_faults()  # every cassette starts from the same fault counters
        note = local_only.kwargs.get("reason") if local_only is not None else None
        source = RecordingSource.local_server(_local_model(recording_plan), note=note)
        base_url, api_key, write_stamp = server.base_url, SecretStr(TEST_ACCESS_KEY), source

    previous: str | None = None
    if recording_plan.recording:
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        # vcrpy's "all" mode would load the old interactions and keep those not re-recorded: start empty.
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    recorder = build_vcr(recording_plan.record_mode, write_stamp)
    with recorder.use_cassette(str(path)) as cassette:
        yield CassetteTarget(
            base_url=base_url,
            api_key=api_key,
            model=source.model,
            source=source,
            cassette=cassette,
            recording=recording_plan.recording,
        )
    if request.node.stash.get(_CALL_FAILED, False):
        if recording_plan.recording:  # a failed recording must not replace a good cassette
            _restore(path, previous)
        return  # the test's own failure says more than "some interactions were not played"
    if recording_plan.recording:
        if len(cassette) == 0:
            pytest.fail(f"{path.name}: the test sent no request, so there is nothing to record")
    elif not cassette.all_played:
        unplayed = len(cassette) - cassette.play_count
        pytest.fail(
            f"{path.name}: {unplayed} of {len(cassette)} recorded interaction(s) were never requested; "
            "the code under test no longer sends what was recorded (re-record with `make record`)",
            pytrace=False,
        )
