"""Batch Inference jobs: submitting, watching, cancelling and reading them. All of their I/O, sync and async.

`submit_batch(client, requests, convert)` checks and encodes every line first (`batch.plan_files`: a refusal
uploads nothing), then per input file: a file intent, the upload to its presigned URL (no key goes there),
and the job. Each job is created with a fresh `request_id` that a retried create sends unchanged, so a retry
never starts a second job. API calls are retried by the client's policy like any call.

`BatchJob` is the handle the adapters return: `status`, `request_counts`, `refresh()`, `wait()`,
`results()`, `cancel()`, each with an async twin (`arefresh()`, `await_()`, `aresults()`, `acancel()`: the
`a` prefix of `ainvoke`/`achat`, and PEP 8's trailing underscore where `a` + `wait` makes a keyword).
`BatchJob.id` names every job of a split input (`"<id>,<id>"`): `attach_batch(client, job.id, convert)`
re-attaches after a restart. Each job carries `gi_first`/`gi_count` metadata, the input positions it holds,
so a re-attached job knows every item it owes even when a job failed before counting them.

The decisions (what the status of several jobs is, how long to wait, how results are joined) are plain
functions shared by both halves; the sync and async methods differ only in their I/O calls.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx

from .batch import (
    ENDPOINT,
    MAX_FILE_BYTES,
    MAX_LINES,
    BatchFile,
    BatchStatus,
    RequestCounts,
    ResultJoiner,
    plan_files,
    read_batch,
)
from .catalog import CATALOG, ModelCatalog
from .client import ResponsesClient
from .errors import (
    APIResponseValidationError,
    BatchError,
    BatchFailedError,
    BatchSubmitError,
    BatchTimeoutError,
    ConflictError,
    GradientError,
    InvalidRequestError,
    PermissionDeniedError,
)
from .request import ResponseRequest
from .response import ResponseResult
from .settings import is_loopback

__all__ = [
    "BatchJob",
    "Progress",
    "aattach_batch",
    "asubmit_batch",
    "attach_batch",
    "check_metadata",
    "submit_batch",
]

T = TypeVar("T")
Progress = bool | Callable[["BatchJob[Any]"], None]

COMPLETION_WINDOW = "24h"  # the only window DO offers
LOCAL_POLL_INTERVAL = 0.05  # a loopback server (the local one) answers at once: no reason to wait long
REMOTE_POLL_INTERVAL = 10.0  # real jobs take minutes to hours
MAX_POLL_INTERVAL = 60.0
POLL_BACKOFF = 1.5
# Batch Inference answers 409 for a conflict that waiting will not fix: a cancel of a job not yet submitted
# upstream (or already ended), a request_id reused with another body. Not retried as transient.
_CONFLICT = frozenset({409})
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]+")  # uuids, OpenAI's batch_...: never a path or a query
_OUR_METADATA = ("gi_first", "gi_count", "gi_part")
MAX_USER_METADATA = 16 - len(_OUR_METADATA)  # OpenAI's batch metadata: at most 16 pairs
# How several jobs' statuses read as one: the least advanced running one, else the worst ending.
_RUNNING_ORDER = ("validating", "in_progress", "cancelling", "finalizing")
_ENDING_ORDER = ("failed", "expired", "cancelled", "completed")


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The user's job metadata: string keys and values (the spec's `additionalProperties: string`)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError("metadata", f"must be a dict of str to str, got {type(metadata).__name__}")
    if len(metadata) > MAX_USER_METADATA:
        raise InvalidRequestError("metadata", f"holds at most {MAX_USER_METADATA} pairs, got {len(metadata)}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidRequestError(f"metadata[{key!r}]", "keys and values must be strings")
        if key in _OUR_METADATA:
            raise InvalidRequestError(f"metadata[{key!r}]", "is kept for the job's item positions")
    return dict(metadata)


def combined_status(parts: Sequence[BatchStatus]) -> str:
    """One status for the jobs of a split input."""
    statuses = {part.status for part in parts}
    for status in (*_RUNNING_ORDER, *_ENDING_ORDER):
        if status in statuses:
            return status
    return next(iter(statuses))


def _poll_interval(client: ResponsesClient, poll_interval: float | None) -> float:
    if poll_interval is not None:
        if poll_interval <= 0:
            raise InvalidRequestError("poll_interval", f"must be > 0 seconds, got {poll_interval!r}")
        return poll_interval
    return LOCAL_POLL_INTERVAL if is_loopback(client.settings.base_url) else REMOTE_POLL_INTERVAL


def _batches_url(client: ResponsesClient, tail: str = "") -> httpx.URL:
    """`<root>/v1/batches` plus `tail` (`/files`, `/<id>`, `/<id>/cancel`, ...)."""
    return httpx.URL(client.settings.url(f"batches{tail}"))


def _file_intent(body: Mapping[str, Any]) -> tuple[str, str]:
    file_id, upload_url = body.get("file_id"), body.get("upload_url")
    if not isinstance(file_id, str) or not isinstance(upload_url, str) or not upload_url:
        raise APIResponseValidationError(
            f"Batch file intent without a string `file_id` and `upload_url`: {json.dumps(body)[:200]}"
        )
    return file_id, upload_url


def _create_body(file_id: str, part: BatchFile, index: int, count: int, metadata: dict[str, str]) -> bytes:
    body = {
        "file_id": file_id,
        "provider": "openai",
        "endpoint": ENDPOINT,
        "completion_window": COMPLETION_WINDOW,
        "request_id": str(uuid.uuid4()),
        "metadata": {
            **metadata,
            "gi_first": str(part.first),
            "gi_count": str(part.count),
            "gi_part": f"{index + 1}/{count}",
        },
    }
    return json.dumps(body).encode()


def _file_name(part: BatchFile) -> bytes:
    return json.dumps({"file_name": f"gradient-integrations-{part.first}.jsonl"}).encode()


def _split_ids(job_id: str | Sequence[str]) -> list[str]:
    ids = [piece.strip() for piece in job_id.split(",")] if isinstance(job_id, str) else list(job_id)
    if not ids or not all(isinstance(piece, str) and _JOB_ID.fullmatch(piece) for piece in ids):
        raise InvalidRequestError(
            "job_id", f"must name at least one job id (as BatchJob.id gives), got {job_id!r}"
        )
    return ids


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def _item_range(part: BatchStatus) -> tuple[int, int]:
    """(first, count) of the input items a job holds: from our metadata, else its request counts."""
    metadata = part.metadata or {}
    first, count = metadata.get("gi_first"), metadata.get("gi_count")
    first_number, count_number = _number(first), _number(count)
    if first_number is not None and count_number is not None:
        return first_number, count_number
    return 0, part.request_counts.total


def _result_links(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The presigned file URLs of a job's results; None while they are not available yet."""
    if body.get("result_available") is False:
        return None
    return tuple(url for url in (body.get("output_file_url"), body.get("error_file_url")) if url)


class BatchJob(Generic[T]):
    """A submitted Batch Inference job (or the several jobs of a split input). See the module docstring.

    `results()` gives, in input order, each item's answer converted by the adapter (`AIMessage`,
    `ChatResponse`) or the exception for that item: the typed error its status carried, or
    `BatchItemError` when the job ended without it."""

    def __init__(
        self,
        client: ResponsesClient,
        parts: Sequence[BatchStatus],
        convert: Callable[[ResponseResult], T],
    ) -> None:
        self._client = client
        self._parts = list(parts)
        self._convert = convert
        self._links: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        counts = self.request_counts
        return (
            f"BatchJob(id={self.id!r}, status={self.status!r}, "
            f"done={counts.done}/{self.total}, failed={counts.failed})"
        )

    # -- state (as of the last refresh) ---------------------------------------------------------------
    @property
    def id(self) -> str:
        """Re-attach with this after a restart: every job id of the input, comma-separated."""
        return ",".join(part.id for part in self._parts)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(part.id for part in self._parts)

    @property
    def parts(self) -> tuple[BatchStatus, ...]:
        """Each job's last known state (one per input file)."""
        return tuple(self._parts)

    @property
    def status(self) -> str:
        return combined_status(self._parts)

    @property
    def request_counts(self) -> RequestCounts:
        total = RequestCounts()
        for part in self._parts:
            total = total + part.request_counts
        return total

    @property
    def done(self) -> bool:
        return all(part.terminal for part in self._parts)

    @property
    def total(self) -> int:
        """How many input items the job holds."""
        return max((sum(_item_range(part)) for part in self._parts), default=0)

    # -- decisions shared by both halves ---------------------------------------------------------------
    def _url(self, batch_id: str, tail: str = "") -> httpx.URL:
        return _batches_url(self._client, f"/{batch_id}{tail}")

    def _running(self) -> list[int]:
        return [index for index, part in enumerate(self._parts) if not part.terminal]

    def _report(self, progress: Progress, bar: Any) -> Any:
        if callable(progress):
            progress(self)
            return bar
        if not progress:
            return None
        if bar is None:
            import warnings

            from tqdm import TqdmWarning

            with warnings.catch_warnings():  # without ipywidgets a notebook gets the text bar, not a warning
                warnings.simplefilter("ignore", TqdmWarning)
                from tqdm.auto import tqdm  # only when asked: a terminal bar, or a widget in notebooks

            bar = tqdm(total=self.total, unit="req", desc="batch")
        bar.n = self.request_counts.done
        bar.set_postfix_str(self.status, refresh=False)
        bar.refresh()
        return bar

    def _wait_plan(self, poll_interval: float | None, timeout: float | None) -> tuple[float, float | None]:
        if timeout is not None and timeout < 0:
            raise InvalidRequestError("timeout", f"must be >= 0 seconds or None, got {timeout!r}")
        return _poll_interval(self._client, poll_interval), (
            None if timeout is None else time.monotonic() + timeout
        )

    def _next_wait(self, interval: float, deadline: float | None) -> float:
        """How long to sleep before the next poll; BatchTimeoutError when the caller's timeout passed."""
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BatchTimeoutError(
                    f"Batch {self.id} is still {self.status} ({self.request_counts.done}/{self.total} "
                    "done) after the timeout; it goes on running: wait() again, or cancel()",
                    job=self,
                )
            return min(interval, left)
        return interval

    def _joiner(self) -> ResultJoiner:
        if not self.done:
            raise BatchError(
                f"Batch {self.id} is still {self.status}: wait() for it first (job.wait().results())",
                job=self,
            )
        failed = [part for part in self._parts if part.status == "failed"]
        if len(failed) == len(self._parts):
            errors = tuple(error for part in failed for error in part.errors)
            detail = "; ".join(str(error.get("message", error)) for error in errors[:5]) or "no reason given"
            raise BatchFailedError(f"Batch {self.id} failed: {detail}", job=self, errors=errors)
        return ResultJoiner(self.total, job=self, convert=self._converted)

    def _finish(self, joiner: ResultJoiner) -> list[T | Exception]:
        endings = sorted({part.status for part in self._parts} - {"completed"})
        reason = f"the job ended {'/'.join(endings)} before it ran" if endings else "no file answered it"
        results: list[T | Exception] = joiner.finish(reason=reason)
        return results

    def _converted(self, item: ResponseResult | GradientError) -> T | Exception:
        if not isinstance(item, ResponseResult):
            return item
        try:
            return self._convert(item)
        except Exception as exc:  # e.g. a structured-output parser refusing this answer: that item's error
            return exc

    def _links_of(self, part: BatchStatus, body: Mapping[str, Any]) -> tuple[str, ...]:
        # Called once every part has ended: no links now means no files ever (failed or expired before
        # running); its items are then reported as not run.
        links = _result_links(body)
        return () if links is None else links

    # -- sync ------------------------------------------------------------------------------------------
    def refresh(self) -> BatchJob[T]:
        """Read the state of every job that has not ended."""
        for index in self._running():
            self._parts[index] = read_batch(
                self._client._fetch_json("GET", self._url(self._parts[index].id), None, None)
            )
        return self

    def wait(
        self,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        progress: Progress = False,
    ) -> BatchJob[T]:
        """Poll until every job ended, backing off from `poll_interval` (default 10 s; 0.05 s on a
        loopback server) by 1.5x up to 60 s. `timeout` (seconds) raises BatchTimeoutError, the job still
        running. `progress=True` shows a progress bar (tqdm: terminals and notebooks); a callable is
        called with the job after each poll."""
        interval, deadline = self._wait_plan(poll_interval, timeout)
        bar = None
        try:
            while True:
                self.refresh()
                bar = self._report(progress, bar)
                if self.done:
                    return self
                time.sleep(self._next_wait(interval, deadline))
                interval = min(interval * POLL_BACKOFF, MAX_POLL_INTERVAL)
        finally:
            if bar is not None:
                bar.close()

    def results(self) -> list[T | Exception]:
        """Every item's answer or exception, in input order (the job must have ended: `wait()` first)."""
        joiner = self._joiner()
        for part in self._parts:
            if part.id not in self._links:
                body = self._client._fetch_json("GET", self._url(part.id, "/results"), None, None)
                self._links[part.id] = self._links_of(part, body)
            for url in self._links[part.id]:
                joiner.add_lines(self._client.iter_presigned_lines(url), source=f"batch {part.id} file")
        return self._finish(joiner)

    def cancel(self, *, poll_interval: float | None = None) -> BatchJob[T]:
        """Ask every running job to stop; answers already produced stay available to `results()`.

        DO refuses to cancel a job still `validating` (409: nothing to cancel yet): such a job is polled
        until it is past that, then cancelled."""
        interval = _poll_interval(self._client, poll_interval)
        for index in self._running():
            while True:
                url = self._url(self._parts[index].id, "/cancel")
                try:
                    body = self._client._fetch_json("POST", url, None, None, final=_CONFLICT)
                except ConflictError:
                    self.refresh()
                    if self._parts[index].terminal:
                        break
                    time.sleep(interval)
                    continue
                self._parts[index] = read_batch(body)
                break
        return self

    # -- async -----------------------------------------------------------------------------------------
    async def arefresh(self) -> BatchJob[T]:
        """Async `refresh`."""
        for index in self._running():
            body = await self._client._afetch_json("GET", self._url(self._parts[index].id), None, None)
            self._parts[index] = read_batch(body)
        return self

    async def await_(
        self,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        progress: Progress = False,
    ) -> BatchJob[T]:
        """Async `wait`."""
        interval, deadline = self._wait_plan(poll_interval, timeout)
        bar = None
        try:
            while True:
                await self.arefresh()
                bar = self._report(progress, bar)
                if self.done:
                    return self
                await asyncio.sleep(self._next_wait(interval, deadline))
                interval = min(interval * POLL_BACKOFF, MAX_POLL_INTERVAL)
        finally:
            if bar is not None:
                bar.close()

    async def aresults(self) -> list[T | Exception]:
        """Async `results`."""
        joiner = self._joiner()
        for part in self._parts:
            if part.id not in self._links:
                body = await self._client._afetch_json("GET", self._url(part.id, "/results"), None, None)
                self._links[part.id] = self._links_of(part, body)
            for url in self._links[part.id]:
                # Line by line as it downloads, as `results` does: the file is never held whole.
                number = 0
                async for line in self._client.aiter_presigned_lines(url):
                    number += 1
                    if line.strip():
                        joiner.add_line(line, where=f"batch {part.id} file line {number}")
        return self._finish(joiner)

    async def acancel(self, *, poll_interval: float | None = None) -> BatchJob[T]:
        """Async `cancel`."""
        interval = _poll_interval(self._client, poll_interval)
        for index in self._running():
            while True:
                url = self._url(self._parts[index].id, "/cancel")
                try:
                    body = await self._client._afetch_json("POST", url, None, None, final=_CONFLICT)
                except ConflictError:
                    await self.arefresh()
                    if self._parts[index].terminal:
                        break
                    await asyncio.sleep(interval)
                    continue
                self._parts[index] = read_batch(body)
                break
        return self


# -- submitting and re-attaching ----------------------------------------------------------------------
def _plan(
    requests: Sequence[ResponseRequest],
    metadata: Mapping[str, str] | None,
    catalog: ModelCatalog,
    max_lines: int | None,
    max_bytes: int | None,
) -> tuple[list[BatchFile], dict[str, str]]:
    files = plan_files(
        requests,
        catalog=catalog,
        max_lines=MAX_LINES if max_lines is None else max_lines,
        max_bytes=MAX_FILE_BYTES if max_bytes is None else max_bytes,
    )
    return files, check_metadata(metadata)


def _submit_failed(
    client: ResponsesClient,
    parts: list[BatchStatus],
    count: int,
    convert: Callable[[ResponseResult], T],
    exc: Exception,
) -> BatchSubmitError:
    job = BatchJob(client, parts, convert)
    return BatchSubmitError(
        f"Submitting batch file {len(parts) + 1} of {count} failed ({exc}); the {len(parts)} job(s) already "
        f"created are in `.job` (id {job.id!r}): cancel() them or wait() for them",
        job=job,
    )


def submit_batch(
    client: ResponsesClient,
    requests: Sequence[ResponseRequest],
    convert: Callable[[ResponseResult], T],
    *,
    metadata: Mapping[str, str] | None = None,
    catalog: ModelCatalog = CATALOG,
    max_lines: int | None = None,
    max_bytes: int | None = None,
) -> BatchJob[T]:
    """Submit these requests as Batch Inference job(s); every line is checked before anything is sent."""
    files, user_metadata = _plan(requests, metadata, catalog, max_lines, max_bytes)
    files_url, batches_url = _batches_url(client, "/files"), _batches_url(client)
    parts: list[BatchStatus] = []
    for index, part in enumerate(files):
        try:
            for attempt in (1, 2):
                file_id, upload_url = _file_intent(
                    client._fetch_json("POST", files_url, _file_name(part), None)
                )
                try:
                    client.put_presigned(upload_url, part.content)
                    break
                except PermissionDeniedError:  # the URL expired (~15 min) or its signature broke: a new one
                    if attempt == 2:
                        raise
            body = _create_body(file_id, part, index, len(files), user_metadata)
            parts.append(read_batch(client._fetch_json("POST", batches_url, body, None, final=_CONFLICT)))
        except GradientError as exc:
            if not parts:
                raise
            raise _submit_failed(client, parts, len(files), convert, exc) from exc
    return BatchJob(client, parts, convert)


async def asubmit_batch(
    client: ResponsesClient,
    requests: Sequence[ResponseRequest],
    convert: Callable[[ResponseResult], T],
    *,
    metadata: Mapping[str, str] | None = None,
    catalog: ModelCatalog = CATALOG,
    max_lines: int | None = None,
    max_bytes: int | None = None,
) -> BatchJob[T]:
    """Async `submit_batch`."""
    files, user_metadata = _plan(requests, metadata, catalog, max_lines, max_bytes)
    files_url, batches_url = _batches_url(client, "/files"), _batches_url(client)
    parts: list[BatchStatus] = []
    for index, part in enumerate(files):
        try:
            for attempt in (1, 2):
                intent = await client._afetch_json("POST", files_url, _file_name(part), None)
                file_id, upload_url = _file_intent(intent)
                try:
                    await client.aput_presigned(upload_url, part.content)
                    break
                except PermissionDeniedError:
                    if attempt == 2:
                        raise
            body = _create_body(file_id, part, index, len(files), user_metadata)
            created = await client._afetch_json("POST", batches_url, body, None, final=_CONFLICT)
            parts.append(read_batch(created))
        except GradientError as exc:
            if not parts:
                raise
            raise _submit_failed(client, parts, len(files), convert, exc) from exc
    return BatchJob(client, parts, convert)


def attach_batch(
    client: ResponsesClient, job_id: str | Sequence[str], convert: Callable[[ResponseResult], T]
) -> BatchJob[T]:
    """The job(s) `job_id` names (`BatchJob.id`, e.g. after a restart), with their current state."""
    ids = _split_ids(job_id)
    parts = [read_batch(client._fetch_json("GET", _batches_url(client, f"/{i}"), None, None)) for i in ids]
    return BatchJob(client, parts, convert)


async def aattach_batch(
    client: ResponsesClient, job_id: str | Sequence[str], convert: Callable[[ResponseResult], T]
) -> BatchJob[T]:
    """Async `attach_batch`."""
    parts = []
    for batch_id in _split_ids(job_id):
        url = _batches_url(client, f"/{batch_id}")
        parts.append(read_batch(await client._afetch_json("GET", url, None, None)))
    return BatchJob(client, parts, convert)
