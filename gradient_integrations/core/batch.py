"""Batch Inference, the wire part with no I/O: input lines, splitting, the job object, joining results.

DO's flow (`inference_create_batch_file.yml` ... `inference_get_batch_results.yml`; I/O in `batch_jobs`):
`POST /v1/batches/files` gives a `file_id` and a presigned `upload_url`; the JSONL is `PUT` there (never with
the bearer key: the URL is its own credential, on an object-store host); `POST /v1/batches` starts a job on
it; `GET /v1/batches/{id}` reports its status; `GET /v1/batches/{id}/results` gives presigned URLs of the
output file and of the error sidecar.

A line is `{"custom_id", "method": "POST", "url": "/v1/responses", "body"}`, and `body` is
`ResponseRequest.to_body(stream=False)`: exactly what a live `invoke`/`chat` sends. A job holds at most
`MAX_LINES` lines and `MAX_FILE_BYTES` bytes; `plan_files` splits a larger input into several files.

`custom_id` is `gi-<index>`, the item's position in the whole input. The output file is not in input order
(OpenAI's batch output is not ordered), so results are joined back by that index alone: across the several
jobs of a split input, and after a restart with nothing but the job ids (`ResultJoiner`). Each line of the
output or error file becomes the item's `ResponseResult` (read by the one response reader) or its typed
error, the same one a live call would raise (`BadRequestError`, `RateLimitError`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .catalog import CATALOG, ModelCatalog
from .client import encode_body  # the live call's encoder: the same JSON, the same errors naming a field
from .errors import (
    APIResponseValidationError,
    BatchItemError,
    GradientError,
    InvalidRequestError,
    status_error_from_response,
)
from .reader import parse_response
from .request import ResponseRequest
from .response import ResponseResult

__all__ = [
    "ENDPOINT",
    "MAX_FILE_BYTES",
    "MAX_LINES",
    "TERMINAL_STATUSES",
    "BatchFile",
    "BatchStatus",
    "BatchStatusName",
    "RequestCounts",
    "ResultJoiner",
    "check_batch_model",
    "custom_id",
    "encode_line",
    "index_of",
    "plan_files",
    "read_batch",
    "read_output_line",
]

ENDPOINT = "/v1/responses"
MAX_LINES = 50_000  # per input file (DO's Batch Inference limit)
MAX_FILE_BYTES = 200_000_000  # "200 MB" per input file, read as decimal megabytes: the smaller reading
BatchStatusName = Literal[
    "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"
]
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
_CUSTOM_ID_PREFIX = "gi-"
_NEWLINE = b"\n"


# -- input -------------------------------------------------------------------------------------------
def custom_id(index: int) -> str:
    """The `custom_id` of the input's item `index`: the join key back into input order."""
    return f"{_CUSTOM_ID_PREFIX}{index}"


def index_of(value: Any) -> int | None:
    """The input position a `custom_id` made by `custom_id` names; None for any other value."""
    if not isinstance(value, str) or not value.startswith(_CUSTOM_ID_PREFIX):
        return None
    digits = value[len(_CUSTOM_ID_PREFIX) :]
    # ASCII only: str.isdigit() also admits Arabic-Indic or superscript digits, which custom_id() never
    # writes (and int() refuses some of).
    if not (digits.isascii() and digits.isdigit()) or (digits[0] == "0" and digits != "0"):
        return None
    return int(digits)


def encode_line(index: int, request: ResponseRequest) -> bytes:
    """One JSONL line (with its newline) for this request: its body exactly as a live call sends it."""
    request.check()
    body = encode_body(request, request.to_body(stream=False))
    head = f'{{"custom_id":"{custom_id(index)}","method":"POST","url":"{ENDPOINT}","body":'.encode()
    return head + body + b"}\n"


@dataclass(frozen=True)
class BatchFile:
    """One input file: `count` lines for the input's items `first` .. `first + count - 1`."""

    content: bytes
    first: int
    count: int


def check_batch_model(model: str, catalog: ModelCatalog = CATALOG, *, field: str = "model") -> None:
    """Refuse, before anything is uploaded, a model the catalog knows Batch Inference cannot serve.

    A model the catalog does not know is let through: the endpoint decides (and says so in the job)."""
    info = catalog.get(model)
    provider = info.batch_provider if info is not None else None
    if provider == "none":
        raise InvalidRequestError(
            field,
            f"{model!r} cannot run in Batch Inference, which serves OpenAI and Anthropic models only "
            "(DO-hosted open models are not batched); use abatch() for it, or Ray Data to spread it over "
            "machines (docs/scale-out.md), or pick an OpenAI model such as 'openai-gpt-5-nano'",
        )
    if provider == "anthropic":
        raise InvalidRequestError(
            field,
            f"{model!r} is an Anthropic model: Batch Inference runs those from Anthropic Message Batches "
            "lines (provider 'anthropic'), not the /v1/responses lines this package builds; use abatch() "
            "for it, or an OpenAI model in the batch",
        )


def plan_files(
    requests: Sequence[ResponseRequest],
    *,
    catalog: ModelCatalog = CATALOG,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_FILE_BYTES,
    field: str = "inputs",
) -> list[BatchFile]:
    """Every input line, checked and encoded, cut into files of at most `max_lines` lines / `max_bytes`.

    Everything is checked before the first byte is uploaded: an empty input, a model other than the first
    item's (a job runs one model), a model batch cannot serve, a value JSON cannot carry, a line larger than
    a whole file. The error names the item (`inputs[i]`)."""
    if not requests:
        raise InvalidRequestError(field, "is empty; pass at least one input to submit a batch")
    model = requests[0].model
    check_batch_model(model, catalog, field=f"{field}[0].model")
    files: list[BatchFile] = []
    lines: list[bytes] = []
    size = first = 0
    for index, request in enumerate(requests):
        if request.model != model:
            raise InvalidRequestError(
                f"{field}[{index}].model",
                f"is {request.model!r} but {field}[0] uses {model!r}; a batch job runs one model: submit "
                "one batch per model",
            )
        try:
            line = encode_line(index, request)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{field}[{index}].{exc.field}", exc.problem) from None
        if len(line) > max_bytes:
            raise InvalidRequestError(
                f"{field}[{index}]",
                f"makes a {len(line):,}-byte batch line, and a batch input file holds at most {max_bytes:,} "
                "bytes; shorten it, or send it with invoke()/chat()",
            )
        if lines and (len(lines) == max_lines or size + len(line) > max_bytes):
            files.append(BatchFile(b"".join(lines), first, len(lines)))
            lines, size, first = [], 0, index
        lines.append(line)
        size += len(line)
    files.append(BatchFile(b"".join(lines), first, len(lines)))
    return files


# -- the job -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestCounts:
    """A job's `request_counts`: `completed` and `failed` out of `total`."""

    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            self.total + other.total, self.completed + other.completed, self.failed + other.failed
        )


@dataclass(frozen=True)
class BatchStatus:
    """One job as `GET /v1/batches/{id}` describes it (`models/batch.yml`); `raw` is the whole body."""

    id: str
    status: str
    request_counts: RequestCounts
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    metadata: Mapping[str, str] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_batch(body: Mapping[str, Any]) -> BatchStatus:
    """A job object; APIResponseValidationError when it lacks its id or status."""
    batch_id, status = body.get("batch_id", body.get("id")), body.get("status")
    if not isinstance(batch_id, str) or not batch_id or not isinstance(status, str):
        raise APIResponseValidationError(
            f"Batch job answer without a string `batch_id` and `status`: {json.dumps(body)[:200]}"
        )
    counts = body.get("request_counts")
    counts = counts if isinstance(counts, Mapping) else {}
    errors = body.get("errors")
    if isinstance(errors, Mapping):  # OpenAI's job object nests them: {"object": "list", "data": [...]}
        errors = errors.get("data")
    metadata = body.get("metadata")
    return BatchStatus(
        id=batch_id,
        status=status,
        request_counts=RequestCounts(
            _count(counts.get("total")), _count(counts.get("completed")), _count(counts.get("failed"))
        ),
        output_file_id=_str_or_none(body.get("output_file_id")),
        error_file_id=_str_or_none(body.get("error_file_id")),
        errors=tuple(dict(error) for error in errors or () if isinstance(error, Mapping)),
        metadata=metadata if isinstance(metadata, Mapping) else None,
        raw=body,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- results -----------------------------------------------------------------------------------------
ItemResult = ResponseResult | GradientError
_MISSING: Any = object()  # no line answered the item (a converted answer may itself be None)


class ResultJoiner:
    """Joins output and error file lines, in any order, into one result per input item, in input order.

    `total` is the number of items (the jobs' `request_counts.total`, summed). An item no line answers gets
    a `BatchItemError` saying why (`finish(reason=...)`), so a cancelled or expired job still gives every
    answer it produced."""

    def __init__(
        self, total: int, *, job: Any = None, convert: Callable[[ItemResult], Any] | None = None
    ) -> None:
        self.total = total
        self._job = job
        # Converted as each line arrives (an adapter's message type), so a file's parsed JSON is not all held
        # until the end: peak memory is the answers, not the answers plus every raw body.
        self._convert = convert
        self._results: list[Any] = [_MISSING] * total

    def add_lines(self, lines: Iterable[bytes], *, source: str) -> None:
        """Every line of one file (`source` names it in errors); blank lines are skipped."""
        for number, line in enumerate(lines, 1):
            if line.strip():
                self.add_line(line, where=f"{source} line {number}")

    def add_line(self, line: bytes, *, where: str = "batch output") -> None:
        name, result = read_output_line(line, where=where, job=self._job)
        index = index_of(name)
        if index is None or index >= self.total:
            raise APIResponseValidationError(
                f"{where} answers custom_id {name!r}, which is not an item of this batch (ids are gi-0 .. "
                f"gi-{self.total - 1}); a job submitted by other means has its own ids: read its files "
                "with read_output_line"
            )
        if (
            self._results[index] is _MISSING
        ):  # an item answered twice (a retried line): the first answer stands
            self._results[index] = result if self._convert is None else self._convert(result)

    def finish(self, *, reason: str = "the job ended before this item ran") -> list[Any]:
        """Every item's result (converted, if a `convert` was given); items no file answered get a
        `BatchItemError` (code `not_run`)."""
        return [
            result
            if result is not _MISSING
            else BatchItemError(
                f"Batch item {custom_id(index)} has no answer: {reason}",
                code="not_run",
                custom_id=custom_id(index),
                job=self._job,
            )
            for index, result in enumerate(self._results)
        ]


_ITEM_REQUEST = httpx.Request("POST", f"https://batch.invalid{ENDPOINT}")  # what a per-item error names


def read_output_line(line: bytes, *, where: str = "batch output", job: Any = None) -> tuple[str, ItemResult]:
    """One line of a batch output or error file (OpenAI's batch format, which DO and vLLM share): its
    `custom_id` and the item's result or error. Works for any job's files, whatever its custom ids."""
    try:
        entry = json.loads(line)
    except ValueError:
        raise APIResponseValidationError(f"{where} is not JSON: {line[:200]!r}") from None
    name = entry.get("custom_id") if isinstance(entry, dict) else None
    if not isinstance(name, str):
        raise APIResponseValidationError(f"{where} is not an object with a string custom_id: {line[:200]!r}")
    return name, _item_result(entry, name, job)


def _item_result(entry: Mapping[str, Any], name: str, job: Any) -> ItemResult:
    """One output/error line as the item's result or error (OpenAI's batch output line format)."""
    error = entry.get("error")
    response = entry.get("response")
    if isinstance(response, Mapping):
        status = response.get("status_code")
        body = response.get("body")
        if isinstance(status, int) and 200 <= status < 300 and isinstance(body, dict):
            try:
                return parse_response(body)
            except GradientError as exc:  # e.g. a body with "status": "failed": that item's failure
                return exc
        if isinstance(status, int) and status >= 300:
            content = json.dumps(body).encode() if body is not None else b""
            request_id = response.get("request_id")
            headers = {"x-request-id": request_id} if isinstance(request_id, str) and request_id else {}
            http_response = httpx.Response(status, content=content, headers=headers, request=_ITEM_REQUEST)
            return status_error_from_response(http_response, content)
        if isinstance(status, int) and not isinstance(error, Mapping):
            # Seen in a real OpenAI error file: status_code 0, request_id "", body {}: never sent upstream.
            return BatchItemError(
                f"Batch item {name} got no answer (status_code {status}, no error given)",
                code="no_response",
                custom_id=name,
                job=job,
            )
    if isinstance(error, Mapping):
        code = str(error.get("code") or "error")
        message = str(error.get("message") or "no message")
        return BatchItemError(
            f"Batch item {name} failed ({code}): {message}", code=code, custom_id=name, job=job
        )
    return APIResponseValidationError(
        f"Batch line for {name} has neither a response with a status_code and body nor an error: "
        f"{json.dumps(entry)[:200]}"
    )
