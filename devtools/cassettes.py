"""vcrpy cassettes that cannot hold a key and always say which server they were recorded against.

vcrpy runs `redact_request` on every request before it is stored *and* on every live request before it
is matched during replay, so both sides of a match went through the same scrubbing:

- request: every header value becomes `**REDACTED**` (the names stay, so a reader sees what was sent);
  the URI keeps only scheme, host and path (no userinfo, port or query string); a JSON body is indented
  so the cassette reads well (matching compares parsed JSON, so layout never matters).
- response: only the headers replay needs survive (content type and the retry hints); a JSON body is
  indented; bearer tokens and DO keys in the body are scrubbed in case a server ever echoes one.

Replay matches on method + path + JSON body, never host or port, so a cassette recorded against the real
endpoint or an in-process local server replays with no server at all. `StampedYamlSerializer` writes a
top-level `recorded_against:` mapping (a `RecordingSource`) above vcrpy's `interactions`; reading a
cassette without one fails. `find_key_like` is the scanner the hygiene test runs over every cassette.

vcrpy and PyYAML are imported only inside the functions that need them (`importlib`, so the package has
no import-time or type-checking dependency on either).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from gradient_integrations import __version__
from gradient_integrations.core.errors import redact

__all__ = [
    "JSON_BODY_MATCHER",
    "KEY_LIKE_PATTERNS",
    "MATCH_ON",
    "RECORD_MODES",
    "REDACTED",
    "REPLAY_RESPONSE_HEADERS",
    "SERIALIZER_NAME",
    "CassetteError",
    "RecordingSource",
    "StampedYamlSerializer",
    "StoredCassette",
    "build_vcr",
    "cassette_name",
    "find_key_like",
    "json_body_matcher",
    "read_cassette",
    "redact_request",
    "redact_response",
    "vcr_options",
]

REDACTED = "**REDACTED**"
SERIALIZER_NAME = "stamped-yaml"
JSON_BODY_MATCHER = "json_body"
MATCH_ON = ("method", "path", JSON_BODY_MATCHER)
RECORD_MODES = ("none", "once", "new_episodes", "all")
# What the client reads from a response besides its body: the content type picks JSON vs SSE parsing,
# the rest drive the retry policy. Everything else (cookies, tracing ids, dates) is dropped.
REPLAY_RESPONSE_HEADERS = frozenset({"content-type", "retry-after", "retry-after-ms", "x-should-retry"})
# DO model keys, and bearer credentials other than an already-scrubbed `Bearer ***`.
KEY_LIKE_PATTERNS = (
    re.compile(r"(?i)sk-do-"),
    re.compile(r"(?i)\bbearer\s+(?!\*\*\*)\S"),
)
LOCAL_ENDPOINT = "gradient_integrations.local.LocalServer (in-process, scripted model)"
Server = Literal["gradient", "local"]


class CassetteError(ValueError):
    """A cassette that cannot be used: missing, unstamped, malformed, or a recording set up wrongly."""


class RecordedRequest(Protocol):
    """The parts of `vcr.request.Request` that redaction and matching touch."""

    uri: str
    headers: MutableMapping[str, str]

    @property
    def body(self) -> bytes | None: ...

    @body.setter
    def body(self, value: bytes | None) -> None: ...


_Request = TypeVar("_Request", bound=RecordedRequest)


# -- redaction -----------------------------------------------------------------------------------------
def _scrub_uri(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def _json_or_none(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _mask_tool_credentials(body: Any) -> Any:
    """The body with each tool's `authorization` (an MCP server's credential, sent in the body) masked:
    such a token has no shape `redact` knows. Replay compares bodies after the same masking."""
    tools = body.get("tools") if isinstance(body, dict) else None
    if not isinstance(tools, list) or not any(isinstance(t, dict) and "authorization" in t for t in tools):
        return body
    masked = [
        {**t, "authorization": REDACTED} if isinstance(t, dict) and "authorization" in t else t for t in tools
    ]
    return {**body, "tools": masked}


def redact_request(request: _Request) -> _Request:
    """vcrpy `before_record_request`: redact every header value and tool credential, drop port and
    query, indent JSON."""
    for name in list(request.headers):
        request.headers[name] = REDACTED
    request.uri = _scrub_uri(request.uri)
    body = request.body
    parsed = _mask_tool_credentials(_json_or_none(body))
    if parsed is not None:
        body = json.dumps(parsed, indent=2, ensure_ascii=False).encode()
    if body:
        request.body = redact(body.decode("utf-8", errors="replace")).encode()
    return request


def redact_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy `before_record_response`: keep only replay-relevant headers, scrub credentials in the body."""
    headers: Mapping[str, Any] = response.get("headers") or {}
    response["headers"] = {
        name: values for name, values in headers.items() if name.lower() in REPLAY_RESPONSE_HEADERS
    }
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("string"), bytes):
        try:
            text = body["string"].decode("utf-8")
        except UnicodeDecodeError:
            return response  # binary bodies are not ours to rewrite (and our endpoint never sends one)
        parsed = _json_or_none(text) if "json" in _content_type(response["headers"]) else None
        if isinstance(parsed, dict):
            # Indented so a reviewer can read the tool call or error in the cassette; the client parses
            # JSON, so the layout of the replayed bytes changes nothing it sees.
            text = json.dumps(parsed, indent=2, ensure_ascii=False) + "\n"
        body["string"] = redact(text).encode()
    return response


def _content_type(headers: Mapping[str, Any]) -> str:
    for name, values in headers.items():
        if name.lower() == "content-type":
            return str(values[0] if isinstance(values, list) and values else values)
    return ""


def json_body_matcher(stored: RecordedRequest, live: RecordedRequest) -> None:
    """vcrpy matcher: the bodies are equal as JSON (or as bytes when either is not JSON)."""
    left = _mask_tool_credentials(_json_or_none(stored.body))
    right = _mask_tool_credentials(_json_or_none(live.body))
    if left is None or right is None:
        if stored.body != live.body:
            raise AssertionError("request bodies differ (not JSON)")
        return
    if left != right:
        if isinstance(left, dict) and isinstance(right, dict):
            fields = sorted(key for key in left.keys() | right.keys() if left.get(key) != right.get(key))
            raise AssertionError(f"request JSON differs in field(s) {fields}; re-record if that is intended")
        raise AssertionError("request JSON bodies differ")


# -- where a cassette came from ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordingSource:
    """The `recorded_against:` stamp: which server answered, with which model, when, recorded by what."""

    server: Server
    endpoint: str
    model: str
    recorded_on: str
    recorded_with: str = f"gradient-integrations {__version__}"
    note: str | None = None

    @classmethod
    def gradient(cls, endpoint: str, model: str, *, on: dt.date | None = None) -> RecordingSource:
        """The real Gradient endpoint at `endpoint` (a public URL root, never a key)."""
        return cls("gradient", _scrub_uri(endpoint).rstrip("/"), model, (on or dt.date.today()).isoformat())

    @classmethod
    def local_server(
        cls, model: str, *, note: str | None = None, on: dt.date | None = None
    ) -> RecordingSource:
        """The in-process local server of this package version (its scripted model answered)."""
        return cls("local", LOCAL_ENDPOINT, model, (on or dt.date.today()).isoformat(), note=note)

    def to_stamp(self) -> dict[str, str]:
        stamp = {
            "server": self.server,
            "endpoint": self.endpoint,
            "model": self.model,
            "recorded_on": self.recorded_on,
            "recorded_with": self.recorded_with,
        }
        if self.note:
            stamp["note"] = self.note
        return stamp

    @classmethod
    def from_stamp(cls, stamp: object, *, where: str = "cassette") -> RecordingSource:
        """Parse a stamp; a missing or malformed one raises `CassetteError` naming the field."""
        if not isinstance(stamp, Mapping):
            raise CassetteError(f"{where}: no `recorded_against:` mapping; re-record it with `make record`")
        values: dict[str, str] = {}
        for name in ("server", "endpoint", "model", "recorded_on", "recorded_with"):
            value = stamp.get(name)
            if not isinstance(value, str) or not value:
                raise CassetteError(f"{where}: recorded_against.{name} is missing or empty")
            values[name] = value
        if values["server"] not in ("gradient", "local"):
            raise CassetteError(f"{where}: recorded_against.server must be 'gradient' or 'local'")
        try:
            dt.date.fromisoformat(values["recorded_on"])
        except ValueError:
            raise CassetteError(f"{where}: recorded_against.recorded_on must be a YYYY-MM-DD date") from None
        note = stamp.get("note")
        return cls(
            server=cast(Server, values["server"]),
            endpoint=values["endpoint"],
            model=values["model"],
            recorded_on=values["recorded_on"],
            recorded_with=values["recorded_with"],
            note=note if isinstance(note, str) else None,
        )


# -- (de)serialization ------------------------------------------------------------------------------------
def _literal_str(dumper: Any, value: str) -> Any:
    # Multi-line strings (SSE streams, indented JSON) as `|` blocks: a cassette diff then reads line by line.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


@functools.cache
def _dumper() -> Any:
    yaml = importlib.import_module("yaml")
    dumper: Any = type("CassetteDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(str, _literal_str)
    return dumper


class StampedYamlSerializer:
    """A vcrpy serializer: safe YAML, `recorded_against:` first, multi-line bodies as literal blocks."""

    def __init__(self, source: RecordingSource | None = None) -> None:
        self.source = source

    def serialize(self, cassette_dict: Mapping[str, Any]) -> str:
        if self.source is None:
            raise CassetteError("refusing to write a cassette without a RecordingSource to stamp it with")
        data = {"recorded_against": self.source.to_stamp(), **cassette_dict}
        yaml = importlib.import_module("yaml")
        return cast(str, yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=110))

    def deserialize(self, cassette_string: str) -> dict[str, Any]:
        yaml = importlib.import_module("yaml")
        data = yaml.safe_load(cassette_string)
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise CassetteError("not a vcrpy cassette: no `interactions:` list")
        RecordingSource.from_stamp(data.get("recorded_against"))
        return data


@dataclass(frozen=True)
class StoredCassette:
    """One cassette file as stored: its stamp, its interactions and its raw text (for scanning)."""

    path: Path
    source: RecordingSource
    interactions: list[dict[str, Any]]
    text: str


def read_cassette(path: Path) -> StoredCassette:
    """Load and validate a stored cassette; raises `CassetteError` naming the file and the problem."""
    if not path.is_file():
        raise CassetteError(
            f"{path} does not exist: record it with `GRADIENT_RECORD=1 pytest tests/integration "
            "--record-mode=all` (make record)"
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = StampedYamlSerializer().deserialize(text)
    except CassetteError as exc:
        raise CassetteError(f"{path.name}: {exc}") from None
    source = RecordingSource.from_stamp(data["recorded_against"], where=path.name)
    return StoredCassette(path=path, source=source, interactions=data["interactions"], text=text)


# -- the vcrpy recorder -----------------------------------------------------------------------------------
def vcr_options(record_mode: str) -> dict[str, Any]:
    """Keyword arguments for `vcr.VCR(...)`; `build_vcr` also registers the matcher and serializer.

    vcrpy's default `allow_playback_repeats=False` is relied on: each recorded answer plays once, in
    order, so "429 then 200" replays as exactly that.
    """
    if record_mode not in RECORD_MODES:
        raise CassetteError(f"record_mode must be one of {RECORD_MODES}, got {record_mode!r}")
    return {
        "record_mode": record_mode,
        "serializer": SERIALIZER_NAME,
        "match_on": MATCH_ON,
        "before_record_request": redact_request,
        "before_record_response": redact_response,
        # Store bodies decompressed: the content-encoding header is not kept, so replay must not need it.
        "decode_compressed_response": True,
    }


def build_vcr(record_mode: str, source: RecordingSource | None) -> Any:
    """A `vcr.VCR` configured as above; `source` stamps what it writes (None: replay only)."""
    vcr = importlib.import_module("vcr")
    recorder = vcr.VCR(**vcr_options(record_mode))
    recorder.register_matcher(JSON_BODY_MATCHER, json_body_matcher)
    recorder.register_serializer(SERIALIZER_NAME, StampedYamlSerializer(source))
    return recorder


def cassette_name(test_name: str) -> str:
    """A file stem for a test id: `test_stream[openai]` -> `test_stream-openai`."""
    stem = re.sub(r"[^\w.-]+", "-", test_name).strip("-")
    if not stem:
        raise CassetteError(f"cannot derive a cassette name from {test_name!r}")
    return stem


# -- scanning ---------------------------------------------------------------------------------------------
def find_key_like(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Lines of `text` holding something key-like: `sk-do-`, an unredacted `Bearer <token>`, or any of
    `secrets` (the test key, keys found in the environment). Findings never repeat the secret itself."""
    needles = [secret for secret in secrets if len(secret) >= 8]
    findings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern in KEY_LIKE_PATTERNS:
            if pattern.search(line):
                findings.append(f"line {number}: matches {pattern.pattern!r}")
        for index, secret in enumerate(needles):
            if secret in line:
                findings.append(f"line {number}: contains configured secret #{index + 1}")
    return findings
