"""DO's Batch Inference API on the local server: file intents, jobs, their progress, results, the list.

    POST /v1/batches/files                 {"file_name"} -> 201 {file_id, upload_url, expires_at}
    PUT  <upload_url>                      the JSONL, to the presigned object store (`objects`)
    POST /v1/batches                       {file_id, provider, endpoint, completion_window, request_id,
                                           metadata} -> 201 the job, `validating`
    GET  /v1/batches/{batch_id}            the job, one step further (see below)
    POST /v1/batches/{batch_id}/cancel     -> `cancelling`; 409 while validating or once terminal
    GET  /v1/batches/{batch_id}/results    presigned output/error file URLs; 412 until terminal
    GET  /v1/batches?after=&limit=&status= newest first, cursor `last_id`

Shapes, status codes and enums follow DO's spec (`resources/inference/inference_*batch*.yml`,
`models/batch*.yml`). What the spec leaves open, the local server decides as follows:

- Progress is driven by polling, so tests are deterministic: every `polls_per_step` (default 1) `GET`s of
  a job move it one step, `validating -> in_progress -> finalizing -> completed`, and the `GET` answers
  with the job after the step. Leaving `validating` checks the input file; while `in_progress` each `GET`
  runs its share of the lines (`request_counts` grow), so by `finalizing` all have run; `completed` sets
  `output_file_id` and `error_file_id`. `finish(batch_id)` runs a job to its end at once. A job still
  running at `expires_at` (created + 24h, by `clock`) becomes `expired`.
- Validation (OpenAI's input format: `{"custom_id", "method": "POST", "url": <the job's endpoint>,
  "body"}` a line, at most `MAX_LINES` lines and `objects.MAX_OBJECT_BYTES`): a bad line fails the job
  with `errors: [{"code": "invalid_input_file", "message": "Line N: ...", "line": N}]` (the first
  `MAX_REPORTED_ERRORS`). The local server runs OpenAI-format lines only, so an `anthropic` job's lines fail
  validation.
- Each line's body is answered by the app's `answer_line` exactly as a live non-streaming call to the
  endpoint; a body the endpoint refuses (or one that asks to stream) becomes an error-file line with status
  400, and a line whose user text contains `FAIL_MARKER` (`[batch:fail]`) one with status 500. Output and
  error files are OpenAI Batch API JSONL (`{"id": "batch_req_...", "custom_id", "response": {"status_code",
  "request_id", "body"}, "error": null}`), shuffled (seeded by the batch id, never input order).
- Cancelling: the next step makes the job `cancelled`; the lines that had run (at least the first half,
  in input order) are in the files, the rest are error-file lines `{"response": null, "error": {"code":
  "batch_cancelled", ...}}` (OpenAI's `BatchRequestOutput.error` codes; `batch_expired` likewise for an
  expired job), counted neither completed nor failed.
- `request_id` makes creation idempotent: the same id and body again answer the existing job (201); the
  same id with a different body is a 409.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..core.request import MessageItem, ResponseRequest
from .objects import DOWNLOAD_URL_SECONDS, MAX_OBJECT_BYTES, UPLOAD_URL_SECONDS, ObjectStore, StoreRequest
from .wire import dumps

__all__ = [
    "BATCH_ENDPOINTS",
    "BATCH_STATUSES",
    "FAIL_MARKER",
    "MAX_LINES",
    "MAX_REPORTED_ERRORS",
    "BatchCall",
    "BatchRequestError",
    "BatchService",
    "LineRefused",
    "wants_failure",
]

logger = logging.getLogger("gradient_integrations.local")

BatchStatus = Literal[
    "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"
]
BATCH_STATUSES: tuple[str, ...] = get_args(BatchStatus)
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
BATCH_ENDPOINTS = ("/v1/responses", "/v1/chat/completions")
PROVIDERS = ("openai", "anthropic")
COMPLETION_WINDOWS = {"24h": 24 * 3600}
FAIL_MARKER = "[batch:fail]"
MAX_LINES = 50_000
MAX_REPORTED_ERRORS = 10
_FILE_NAME = re.compile(r".+\.[Jj][Ss][Oo][Nn][Ll]\Z")  # DO's pattern; `\Z`: Python's `$` allows a "\n"
_CREATE_FIELDS = ("file_id", "provider", "endpoint", "completion_window", "request_id", "metadata")
_REQUIRED = ("file_id", "provider", "completion_window", "request_id")
_NOT_READY = "Batch results are not yet available. Retry once the job has completed."
_LINE_FIELDS = ("custom_id", "method", "url", "body")


class BatchRequestError(Exception):
    """An API call refused: the app answers `status` with DO's error body and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LineRefused(Exception):
    """Raised by the app's `answer_line`: the line's request was answered with this error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BatchCall:
    """What an API handler needs from its HTTP request."""

    base_url: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Sequence[tuple[str, str]] = ()
    body: dict[str, Any] | None = None


AnswerLine = Callable[[str, dict[str, Any]], dict[str, Any]]
Reply = tuple[int, dict[str, Any]]


def wants_failure(request: ResponseRequest) -> bool:
    """Whether a user message of the request contains `FAIL_MARKER` (the line then fails with a 500)."""
    if isinstance(request.input, str):
        return FAIL_MARKER in request.input
    for item in request.input:
        if isinstance(item, MessageItem) and item.role == "user":
            text = item.content if isinstance(item.content, str) else " ".join(p.text for p in item.content)
            if FAIL_MARKER in text:
                return True
    return False


def openai_error(status: int, message: str) -> dict[str, Any]:
    """The error body an OpenAI-style endpoint answers with, as batch files carry it."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@dataclass
class _FileIntent:
    file_id: str
    file_name: str
    created: float

    @property
    def key(self) -> str:
        return f"uploads/{self.file_id}.jsonl"


@dataclass
class _Job:
    batch_id: str
    sequence: int
    request_id: str
    provider: str
    endpoint: str | None
    completion_window: str
    input_file_id: str
    metadata: dict[str, str] | None
    created: float
    expires: float
    status: BatchStatus = "validating"
    polls: int = 0
    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # emptied once the job ends
    total: int = 0
    done: int = 0  # lines run so far, in input order
    completed: int = 0
    failed: int = 0
    outputs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    stamps: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def same_request(self, create: dict[str, Any]) -> bool:
        return (
            self.input_file_id == create["file_id"].lower()
            and self.provider == create["provider"]
            and self.endpoint == create.get("endpoint")
            and self.completion_window == create["completion_window"]
            and self.metadata == create.get("metadata")
        )

    def view(self) -> dict[str, Any]:
        """The job as DO's `models/batch.yml`."""
        job: dict[str, Any] = {
            "batch_id": self.batch_id,
            "status": self.status,
            "provider": self.provider,
        }
        if self.endpoint is not None:
            job["endpoint"] = self.endpoint
        job.update(
            {
                "completion_window": self.completion_window,
                "input_file_id": self.input_file_id,
                "output_file_id": self.output_file_id,
                "error_file_id": self.error_file_id,
                "request_counts": {
                    "total": self.total,
                    "completed": self.completed,
                    "failed": self.failed,
                },
                "request_id": self.request_id,
                "metadata": None if self.metadata is None else dict(self.metadata),
                "errors": None if self.errors is None else [dict(error) for error in self.errors],
                "created_at": _iso(self.created),
            }
        )
        for name in ("in_progress", "finalizing", "completed"):
            job[f"{name}_at"] = _iso(self.stamps.get(name))
        job["expires_at"] = _iso(self.expires)
        job["cancelled_at"] = _iso(self.stamps.get("cancelled"))
        job["failed_at"] = _iso(self.stamps.get("failed"))
        return job


class BatchService:
    """The batch jobs of one app (`app.batches`), with their object store (`store`).

    Knobs for tests: `polls_per_step` (GETs per step), `clock` (seconds since the epoch; move it to expire
    upload URLs or jobs), `finish(batch_id)`, `store_requests`, and `store.max_object_bytes`."""

    def __init__(self, answer_line: AnswerLine, *, polls_per_step: int = 1) -> None:
        if isinstance(polls_per_step, bool) or not isinstance(polls_per_step, int) or polls_per_step < 1:
            raise ValueError(f"batch_polls_per_step must be a positive integer, got {polls_per_step!r}")
        self.polls_per_step = polls_per_step
        self.clock: Callable[[], float] = time.time
        self.store = ObjectStore(lambda: self.clock())
        self._answer_line = answer_line
        self._files: dict[str, _FileIntent] = {}
        self._jobs: dict[str, _Job] = {}  # in creation order
        self._by_request_id: dict[str, _Job] = {}
        self._sequence = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BatchService({len(self._jobs)} jobs, polls_per_step={self.polls_per_step})"

    @property
    def store_requests(self) -> list[StoreRequest]:
        """Every request the object store received, in order."""
        return self.store.requests

    # -- API operations: each takes a BatchCall and answers (status, body) ---------------------------
    def create_file(self, call: BatchCall) -> Reply:
        body = _body(call)
        _no_unknown_fields(body, ("file_name",))
        name = body.get("file_name")
        if "file_name" not in body:
            raise BatchRequestError(400, "file_name: is required (the name of the .jsonl file to upload)")
        if not isinstance(name, str) or len(name) < 7 or not _FILE_NAME.search(name):
            raise BatchRequestError(
                400,
                "file_name: must be a file name ending in .jsonl (at least 7 characters), e.g. 'batch.jsonl'",
            )
        intent = _FileIntent(str(uuid.uuid4()), name, self.clock())
        with self._lock:
            self._files[intent.file_id] = intent
        url, expires = self.store.presign("PUT", intent.key, call.base_url, UPLOAD_URL_SECONDS)
        return 201, {"file_id": intent.file_id, "upload_url": url, "expires_at": _iso(expires)}

    def create(self, call: BatchCall) -> Reply:
        body = _create_body(_body(call))
        with self._lock:
            existing = self._by_request_id.get(body["request_id"])
            if existing is None:
                return 201, self._new_job(body)
        return self._repeated(existing, body)  # outside the service lock: the job may be running lines

    def _new_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register the job a create call asks for (under the service lock); the job as the API shows it."""
        file_id = body["file_id"].lower()
        intent = self._files.get(file_id)
        if intent is None:
            raise BatchRequestError(
                404, f"file_id: no batch file {file_id!r}; create one with POST /v1/batches/files"
            )
        if not self.store.exists(intent.key):
            raise BatchRequestError(
                400,
                f"file_id: the upload of {file_id} has not completed; PUT the JSONL to its upload_url "
                "first (a new file intent if the URL expired)",
            )
        now = self.clock()
        self._sequence += 1
        job = _Job(
            batch_id=str(uuid.uuid4()),
            sequence=self._sequence,
            request_id=body["request_id"],
            provider=body["provider"],
            endpoint=body.get("endpoint"),
            completion_window=body["completion_window"],
            input_file_id=file_id,
            metadata=body.get("metadata"),
            created=now,
            expires=now + COMPLETION_WINDOWS[body["completion_window"]],
        )
        self._jobs[job.batch_id] = job
        self._by_request_id[job.request_id] = job
        return job.view()

    @staticmethod
    def _repeated(job: _Job, body: dict[str, Any]) -> Reply:
        """A create call that repeats a `request_id`: the job it made, if the request is the same."""
        if not job.same_request(body):
            raise BatchRequestError(
                409,
                f"request_id: already used for batch {job.batch_id} with a different request; "
                "use a new request_id for a new job",
            )
        with job.lock:
            return 201, job.view()

    def retrieve(self, call: BatchCall) -> Reply:
        """`GET /v1/batches/{batch_id}`: the job, after moving it on (see the module docstring)."""
        job = self._job(call.path_params.get("batch_id", ""))
        with job.lock:
            if job.status not in TERMINAL:
                now = self.clock()
                if now >= job.expires and job.status != "finalizing":
                    self._conclude(job, "expired", now)
                else:
                    job.polls += 1
                    if job.polls >= self.polls_per_step:
                        job.polls = 0
                        self._step(job, now)
                    elif job.status == "in_progress":  # run this poll's share of the lines
                        self._run_lines(job, len(job.lines) * job.polls // self.polls_per_step)
            return 200, job.view()

    def cancel(self, call: BatchCall) -> Reply:
        job = self._job(call.path_params.get("batch_id", ""))
        with job.lock:
            if job.status in TERMINAL:
                raise BatchRequestError(
                    409, f"batch {job.batch_id} is {job.status}: it can no longer be cancelled"
                )
            if job.status == "validating":
                raise BatchRequestError(
                    409,
                    f"batch {job.batch_id} is validating and has not been submitted to the provider yet: "
                    "there is nothing to cancel; retry once it is in_progress",
                )
            if job.status != "cancelling":
                job.status, job.polls = "cancelling", 0
            return 200, job.view()

    def results(self, call: BatchCall) -> Reply:
        job = self._job(call.path_params.get("batch_id", ""))
        with job.lock:
            if job.status not in TERMINAL:
                raise BatchRequestError(412, _NOT_READY)
            answer: dict[str, Any] = {
                "batch_id": job.batch_id,
                "result_available": job.output_file_id is not None,
                "output_file_url": None,
                "error_file_url": None,
                "expires_at": None,
            }
            if job.output_file_id is None:
                return 200, answer
            url, expires = self.store.presign(
                "GET", f"outputs/{job.batch_id}.jsonl", call.base_url, DOWNLOAD_URL_SECONDS
            )
            answer["output_file_url"], answer["expires_at"] = url, _iso(expires)
            if job.error_file_id is not None:
                answer["error_file_url"], _ = self.store.presign(
                    "GET", f"errors/{job.batch_id}.jsonl", call.base_url, DOWNLOAD_URL_SECONDS
                )
            return 200, answer

    def list_jobs(self, call: BatchCall) -> Reply:
        query = _query(call.query, ("after", "limit", "status"))
        limit_text = query.get("limit", "20")
        if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= 100):
            raise BatchRequestError(400, f"limit: must be an integer from 1 to 100, got {limit_text!r}")
        status = query.get("status")
        if status is not None and status not in BATCH_STATUSES:
            raise BatchRequestError(
                400, f"status: must be one of {', '.join(BATCH_STATUSES)}; got {status!r}"
            )
        with self._lock:
            newest_first = sorted(self._jobs.values(), key=lambda job: job.sequence, reverse=True)
        after = query.get("after")
        if after is not None:
            positions = [index for index, job in enumerate(newest_first) if job.batch_id == after.lower()]
            if not _is_uuid(after) or not positions:
                raise BatchRequestError(
                    400, f"after: not the batch_id of a job here: {after!r}; pass a last_id"
                )
            newest_first = newest_first[positions[0] + 1 :]
        matching = [job for job in newest_first if status is None or job.status == status]
        page = matching[: int(limit_text)]
        data = []
        for job in page:
            with job.lock:
                data.append(job.view())
        return 200, {
            "object": "list",
            "data": data,
            "first_id": page[0].batch_id if page else None,
            "last_id": page[-1].batch_id if page else None,
            "has_more": len(matching) > len(page),
        }

    # -- test hooks -----------------------------------------------------------------------------------
    def finish(self, batch_id: str) -> dict[str, Any]:
        """Run a job to its terminal state now (as many steps as it takes); the job as the API shows it."""
        job = self._job(batch_id)
        with job.lock:
            while job.status not in TERMINAL:
                job.polls = 0
                self._step(job, self.clock())
            return job.view()

    def job(self, batch_id: str) -> dict[str, Any]:
        """The job as the API shows it, without moving it on."""
        job = self._job(batch_id)
        with job.lock:
            return job.view()

    # -- the job's life -------------------------------------------------------------------------------
    def _job(self, batch_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(batch_id.lower())
        if job is None:
            raise BatchRequestError(404, f"batch_id: no batch job {batch_id!r}")
        return job

    def _step(self, job: _Job, now: float) -> None:
        if job.status == "validating":
            data = self.store.get(f"uploads/{job.input_file_id}.jsonl") or b""
            lines, errors = _validate(data, job.provider, job.endpoint)
            if errors:
                job.errors = errors
                job.status = "failed"
                job.stamps["failed"] = now
            else:
                job.lines, job.total = lines, len(lines)
                job.status = "in_progress"
                job.stamps["in_progress"] = now
        elif job.status == "in_progress":
            self._run_lines(job, len(job.lines))
            job.status = "finalizing"
            job.stamps["finalizing"] = now
        elif job.status == "finalizing":
            self._conclude(job, "completed", now)
        elif job.status == "cancelling":
            self._run_lines(job, len(job.lines) // 2)
            self._conclude(job, "cancelled", now)

    def _run_lines(self, job: _Job, upto: int) -> None:
        """Answer the job's lines (input order) up to index `upto`."""
        assert job.endpoint is not None  # validation lets no line of an endpoint-less job through
        while job.done < upto:
            custom_id, body = job.lines[job.done]
            job.done += 1
            try:
                status, answer = 200, self._answer_line(job.endpoint, body)
            except LineRefused as refused:
                status, answer = refused.status, openai_error(refused.status, refused.message)
            except Exception:  # one line's bug must not sink the batch: it is that line's 500
                logger.exception("local server failed on line %d of batch %s", job.done, job.batch_id)
                status, answer = (
                    500,
                    openai_error(500, "The local server failed on this request; see its log."),
                )
            response = {"status_code": status, "request_id": os.urandom(8).hex(), "body": answer}
            entry = dumps({"id": _request_id(), "custom_id": custom_id, "response": response, "error": None})
            if status == 200:
                job.completed += 1
                job.outputs.append(entry)
            else:
                job.failed += 1
                job.failures.append(entry)

    def _conclude(self, job: _Job, status: Literal["completed", "cancelled", "expired"], now: float) -> None:
        """Write the output and error files and end the job. Lines that never ran are error lines
        with OpenAI's `batch_cancelled` / `batch_expired` code."""
        if job.lines or job.status != "validating":
            code, why = {
                "cancelled": ("batch_cancelled", "the batch was cancelled before this request executed"),
                "expired": (
                    "batch_expired",
                    "the request could not be executed before the completion window ended",
                ),
                "completed": ("", ""),
            }[status]
            for custom_id, _ in job.lines[job.done :]:
                error = {"code": code, "message": f"This request was not executed: {why}."}
                job.failures.append(
                    dumps({"id": _request_id(), "custom_id": custom_id, "response": None, "error": error})
                )
            job.done = len(job.lines)
            self.store.put(f"outputs/{job.batch_id}.jsonl", _jsonl(job.outputs, job.batch_id))
            job.output_file_id = str(uuid.uuid4())
            if job.failures:
                self.store.put(f"errors/{job.batch_id}.jsonl", _jsonl(job.failures, job.batch_id))
                job.error_file_id = str(uuid.uuid4())
            job.lines, job.outputs, job.failures = [], [], []
        job.status = status
        job.stamps[status] = now


def _request_id() -> str:
    return f"batch_req_{os.urandom(12).hex()}"


def _jsonl(entries: list[str], seed: str) -> bytes:
    """The file's lines shuffled (seeded: the same batch gives the same order), never in input order,
    as a batch's results come in completion order: clients must match lines by `custom_id`."""
    shuffled = list(entries)
    random.Random(seed).shuffle(shuffled)
    if len(shuffled) > 1 and shuffled == entries:
        shuffled.reverse()
    return "".join(entry + "\n" for entry in shuffled).encode()


# -- request validation -------------------------------------------------------------------------------
def _body(call: BatchCall) -> dict[str, Any]:
    if call.body is None:
        raise BatchRequestError(400, "request body: must be a JSON object")
    return call.body


def _no_unknown_fields(body: dict[str, Any], known: Sequence[str]) -> None:
    for name in body:
        if name not in known:
            raise BatchRequestError(400, f"{name}: unknown field; the body takes {', '.join(known)}")


def _create_body(body: dict[str, Any]) -> dict[str, Any]:
    """A `POST /v1/batches` body checked against `batch_create_request.yml` (errors name the field)."""
    _no_unknown_fields(body, _CREATE_FIELDS)
    for name in _REQUIRED:
        if name not in body:
            raise BatchRequestError(400, f"{name}: is required")
    if not _is_uuid(body["file_id"]):
        raise BatchRequestError(400, "file_id: must be the UUID that POST /v1/batches/files returned")
    if body["provider"] not in PROVIDERS:
        raise BatchRequestError(400, f"provider: must be one of {', '.join(PROVIDERS)}")
    if not isinstance(body["completion_window"], str) or body["completion_window"] not in COMPLETION_WINDOWS:
        raise BatchRequestError(400, "completion_window: must be '24h'")
    if not isinstance(body["request_id"], str):
        raise BatchRequestError(400, "request_id: must be a string (your idempotency key)")
    endpoint = body.get("endpoint")
    if endpoint is not None and endpoint not in BATCH_ENDPOINTS:
        raise BatchRequestError(400, f"endpoint: must be one of {', '.join(BATCH_ENDPOINTS)}")
    if body["provider"] == "openai" and endpoint is None:
        raise BatchRequestError(400, "endpoint: is required when provider is 'openai'")
    if body["provider"] == "anthropic" and "endpoint" in body:
        raise BatchRequestError(400, "endpoint: must be omitted when provider is 'anthropic'")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise BatchRequestError(400, "metadata: must be an object of string values, or null")
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise BatchRequestError(400, f"metadata.{key}: must be a string")
    return body


def _query(pairs: Sequence[tuple[str, str]], known: Sequence[str]) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in known:
            if name in query:
                raise BatchRequestError(400, f"{name}: give it once")
            query[name] = value
    return query


def _validate(
    data: bytes, provider: str, endpoint: str | None
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The input file's requests, or the errors that fail the job (at most `MAX_REPORTED_ERRORS`)."""
    errors: list[dict[str, Any]] = []

    def problem(number: int | None, message: str) -> None:
        if len(errors) < MAX_REPORTED_ERRORS:
            text = f"Line {number}: {message}" if number is not None else message
            errors.append({"code": "invalid_input_file", "message": text, "line": number})

    if len(data) > MAX_OBJECT_BYTES:
        problem(
            None, f"The input file is larger than {MAX_OBJECT_BYTES} bytes; split it into several batches."
        )
        return [], errors
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the final newline ends the last line, it does not start another
    if not raw_lines:
        problem(None, "The input file is empty; it needs one request per line.")
    if len(raw_lines) > MAX_LINES:
        problem(MAX_LINES + 1, f"the input file has more than {MAX_LINES} requests; split it.")
        return [], errors
    lines: list[tuple[str, dict[str, Any]]] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(raw_lines, start=1):
        if provider != "openai":
            problem(
                number,
                f"the local server runs OpenAI-format lines only (custom_id, method, url, body); "
                f"provider {provider!r} is not emulated. Use provider 'openai' with an endpoint.",
            )
            continue
        line = _line(raw, endpoint)
        if isinstance(line, str):
            problem(number, line)
            continue
        custom_id, body = line
        if custom_id in first_seen:
            problem(number, f"duplicate custom_id {custom_id!r} (first on line {first_seen[custom_id]}).")
            continue
        first_seen[custom_id] = number
        lines.append((custom_id, body))
    return lines, errors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json module would accept NaN and Infinity


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # one for all lines: json.loads makes one a call


def _line(raw: bytes, endpoint: str | None) -> tuple[str, dict[str, Any]] | str:
    """One OpenAI batch input line as (custom_id, body), or what is wrong with it."""
    try:
        value = _DECODER.decode(raw.removesuffix(b"\r").decode("utf-8"))
    except UnicodeDecodeError:
        return "not valid UTF-8."
    except RecursionError:
        return "nested too deeply to be read."
    except ValueError as exc:
        return f"not valid JSON ({exc})."
    if not isinstance(value, dict):
        return f"must be a JSON object, got {type(value).__name__}."
    for name in _LINE_FIELDS:
        if name not in value:
            return f"missing required field {name!r}."
    custom_id, method, url, body = (value[name] for name in _LINE_FIELDS)
    if not isinstance(custom_id, str) or not custom_id:
        return "custom_id: must be a non-empty string."
    try:
        custom_id.encode("utf-8")
    except UnicodeEncodeError:
        return "custom_id: contains half a UTF-16 surrogate pair, which is not text."
    if method != "POST":
        return f"method: must be 'POST', got {method!r}."
    if url != endpoint:
        return f"url: {url!r} does not match the batch's endpoint {endpoint!r}."
    if not isinstance(body, dict):
        return "body: must be a JSON object (the request body)."
    return custom_id, body
