"""What a cassette-backed test talks to, and the decision between replaying and recording.

Replay (the default; what CI runs): requests go to `REPLAY_BASE_URL`, a loopback port where nothing
listens, and vcrpy answers them from the cassette (or raises, in record mode "none", before any socket
is opened). The model id comes from the cassette's `recorded_against:` stamp, so the request body
matches whatever the cassette was recorded with.

Recording (`GRADIENT_RECORD=1 pytest tests/integration --record-mode=all`, i.e. `make record`): against
the real endpoint when GRADIENT_MODEL_ACCESS_KEY is set (endpoint GRADIENT_INFERENCE_ENDPOINT or DO's,
model GRADIENT_MODEL or `DEFAULT_RECORD_MODEL`), else against an in-process local server that demands
`TEST_ACCESS_KEY`, so the Authorization header is really sent and really has to be redacted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from devtools import CassetteError, RecordingSource
from gradient_integrations.core.settings import DEFAULT_BASE_URL, ENDPOINT_ENV_VAR

CASSETTE_ROOT = Path(__file__).resolve().parents[2] / "cassettes"
REPLAY_BASE_URL = "http://127.0.0.1:9"  # the discard port: never contacted, vcrpy answers first
DEFAULT_RECORD_MODEL = "openai-gpt-oss-20b"
RECORD_ENV_VAR = "GRADIENT_RECORD"
MODEL_ENV_VAR = "GRADIENT_MODEL"
KEY_ENV_VAR = "GRADIENT_MODEL_ACCESS_KEY"
# Neither looks like a DO key on purpose: the scan looks for these strings themselves.
TEST_ACCESS_KEY = "gradient-cassette-test-key-7f3a9c"
WRONG_ACCESS_KEY = "gradient-cassette-wrong-key-41d2e8"


@dataclass(frozen=True)
class RecordingPlan:
    """The session's choice: replay (`record_mode == "none"`) or record, and against what."""

    record_mode: str
    real_key: SecretStr | None = field(default=None, repr=False)
    endpoint: str = DEFAULT_BASE_URL
    model: str = DEFAULT_RECORD_MODEL

    @property
    def recording(self) -> bool:
        return self.record_mode != "none"

    @classmethod
    def resolve(cls, record_mode: str | None, env: Mapping[str, str]) -> RecordingPlan:
        """Replay unless both GRADIENT_RECORD=1 and a recording `--record-mode` are given."""
        mode = "all" if record_mode == "rewrite" else (record_mode or "none")
        wants_recording = env.get(RECORD_ENV_VAR, "") not in ("", "0")
        if mode == "none" and wants_recording:
            raise CassetteError(
                f"{RECORD_ENV_VAR}=1 needs a record mode: run "
                f"`{RECORD_ENV_VAR}=1 pytest tests/integration --record-mode=all` (make record)"
            )
        if mode != "none" and not wants_recording:
            raise CassetteError(
                f"--record-mode={mode} would overwrite the cassettes: set {RECORD_ENV_VAR}=1 to mean it"
            )
        if mode == "none":
            return cls(record_mode="none")
        if mode != "all":
            raise CassetteError(
                f"--record-mode={mode} would merge old and new interactions; re-record with --record-mode=all"
            )
        key = env.get(KEY_ENV_VAR)
        return cls(
            record_mode=mode,
            real_key=SecretStr(key) if key else None,
            endpoint=env.get(ENDPOINT_ENV_VAR) or DEFAULT_BASE_URL,
            model=env.get(MODEL_ENV_VAR) or DEFAULT_RECORD_MODEL,
        )

    @classmethod
    def from_environment(cls, record_mode: str | None) -> RecordingPlan:
        return cls.resolve(record_mode, os.environ)


@dataclass(frozen=True)
class CassetteTarget:
    """Where a test sends requests (`base_url`, `api_key`, `model`) and the live vcrpy cassette."""

    base_url: str
    api_key: SecretStr = field(repr=False)
    model: str
    source: RecordingSource
    cassette: Any  # vcr.cassette.Cassette: `.responses` are the recorded (or replayed) answers
    recording: bool

    def response_statuses(self) -> list[int]:
        return [int(response["status"]["code"]) for response in self.cassette.responses]

    def response_bodies(self) -> list[str]:
        bodies = []
        for response in self.cassette.responses:
            raw = response["body"]["string"]
            bodies.append(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        return bodies
