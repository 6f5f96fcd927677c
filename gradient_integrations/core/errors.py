"""Every exception the package raises, and the one map from HTTP status to exception class.

The tree::

    GradientError                      base of everything raised here
    ├── ConfigurationError (ValueError)    bad settings: missing key, malformed base URL
    ├── InvalidRequestError (ValueError)   bad input, raised before any request is sent
    │   └── UnknownModelError              a model id the endpoint's `GET /v1/models` does not list
    └── APIError                           something went wrong talking to the endpoint
        ├── APIStatusError                 non-2xx answer: status_code, error_id, request_id, body, response,
        │                                  quota (the rate limits its headers report)
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404
        │   ├── ConflictError              409
        │   ├── UnprocessableEntityError   422
        │   ├── RateLimitError             429
        │   └── InternalServerError        >= 500
        ├── APIConnectionError             the request never got an answer, or lost it midway
        │   └── APITimeoutError            ... because a timeout or the call's deadline fired
        ├── APIResponseValidationError     a success answer that cannot be read: undecodable, not the
        │   │                              documented shape, or larger than `max_response_bytes`
        │   └── ResponseTooLargeError      ... because it is larger than `max_response_bytes`
        ├── StreamError                    an answer broke after it started; `.partial` holds what arrived
            ├── ResponseFailedError        the server reported the response failed (`response.failed`,
            │                              an `error` event, or a body with `"status": "failed"` or an
            │                              `error` object)
            ├── StreamValidationError      an event that cannot be read (also an APIResponseValidationError)
            └── StreamConnectionError      the connection broke mid-stream (also an APIConnectionError)
                └── StreamTimeoutError     no event within the idle/read timeout, or the deadline passed
                                           mid-stream (also an APITimeoutError)
        └── BatchError                     a Batch Inference job (or its submission) did not end as asked;
            │                              `.job` is its handle, to re-attach, wait again or cancel
            ├── BatchSubmitError           submitting failed after some of a split input's jobs were created
            ├── BatchFailedError           the job failed as a whole (e.g. its input file was refused):
            │                              no answers; `.errors` are the job's errors
            ├── BatchTimeoutError          `wait(timeout=...)` passed; the job goes on running
            └── BatchItemError             one item without an answer: its error-file entry (`.code`), or the
                                           job ended (cancelled, expired) before it ran; never raised,
                                           returned in that item's place by `results()`

So `except APIConnectionError` (or `APITimeoutError`) catches a transport failure wherever it happens, before
or during a stream, while `except StreamError` catches every stream that broke, with what it delivered.
`ResponseFailedError` is the server's own verdict, not a transport failure: never an APIConnectionError.
A batch item that the endpoint answered with an error status is the same typed error a live call raises
(`BadRequestError`, `RateLimitError`, ...), built from its line of the batch output or error file.

Messages never contain the access key: they are built only from the status, the server's error body and
our own text, and `redact()` scrubs any bearer token that a server echoes back.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx

from .quota import Quota, parse_quota

if TYPE_CHECKING:
    from pydantic import ValidationError

    from .response import ResponseResult

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchFailedError",
    "BatchItemError",
    "BatchSubmitError",
    "BatchTimeoutError",
    "ConfigurationError",
    "ConflictError",
    "GradientError",
    "InternalServerError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseFailedError",
    "ResponseTooLargeError",
    "StreamConnectionError",
    "StreamError",
    "StreamTimeoutError",
    "StreamValidationError",
    "UnknownModelError",
    "UnprocessableEntityError",
    "status_error_from_response",
]

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
# Model access keys (`sk-do-...`) and personal access tokens (`dop_v1_...`), which inference also accepts.
_DO_KEY = re.compile(r"(sk-do-|dop_v1_)[A-Za-z0-9_\-\.]+")


def redact(text: str) -> str:
    """Scrub bearer tokens and DO model keys from text a server or transport handed us."""
    return _DO_KEY.sub(r"\1***", _BEARER.sub(r"\1***", text))


class GradientError(Exception):
    """Base class of every error raised by gradient_integrations."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (multiprocessing, task queues) without the httpx request/response: their headers carry
        # the access key. The keyword-only constructors cannot be replayed from `args`, so the error is
        # rebuilt from its message and plain attributes; `request` comes back as None, `response` absent.
        # A server that echoes the key into its error body would otherwise put it in `body`: scrub that too.
        state = {name: _redacted(value) for name, value in self.__dict__.items() if name != "response"}
        if "request" in state:
            state["request"] = None
        return (_rebuild_error, (type(self), str(self)), state)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _rebuild_error(cls: type[GradientError], text: str) -> GradientError:
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    return error


class ConfigurationError(GradientError, ValueError):
    """Settings that cannot work, e.g. no access key for a remote endpoint."""


class InvalidRequestError(GradientError, ValueError):
    """Input that the endpoint would reject; raised before any request is sent.

    `field` names the offending request field (dotted path), so callers can point at it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.problem = message  # the message without the field: to re-raise it under a longer path
        super().__init__(f"{field}: {message}" if field else message)


class UnknownModelError(InvalidRequestError):
    """The model id is not in the endpoint's `GET /v1/models` list (an opt-in check before the first call).

    `suggestions` holds the closest listed ids."""

    def __init__(self, model: str, suggestions: list[str]) -> None:
        self.model = model
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(repr(name) for name in suggestions)}?" if suggestions else ""
        super().__init__(
            "model",
            f"unknown model {model!r}: the endpoint does not list it{hint} (client.list_models() lists "
            "every model this key can use)",
        )


class APIError(GradientError):
    """A failure while talking to the endpoint."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(redact(message))
        self.message = redact(message)
        self.request = request


class APIStatusError(APIError):
    """The endpoint answered with a non-success status.

    `error_id`, `message` and `request_id` come from DO's error body `{"id", "message", "request_id"}`
    or from the vLLM/OpenAI form `{"error": {"type"|"code", "message"}}`.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        error_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.body = _redacted(body)  # a server may echo the request's key back in its error body
        self.error_id = error_id
        self.request_id = request_id

    @property
    def quota(self) -> Quota | None:
        """The rate limits this answer's headers report (a 429's `retry_after` among them), if any."""
        return parse_quota(self.response.headers)


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    status_code = 429


class InternalServerError(APIStatusError):
    status_code = 500


class APIConnectionError(APIError):
    """The request could not be sent or no answer arrived."""

    def __init__(self, message: str = "Connection error.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    """A connect, read or write timeout fired."""

    def __init__(self, message: str = "Request timed out.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APIResponseValidationError(APIError):
    """A success answer that cannot be read: undecodable bytes, not the documented shape, or too large."""


class ResponseTooLargeError(APIResponseValidationError):
    """The answer (decompressed) is larger than `max_response_bytes`; reading stopped at the limit."""


class StreamError(APIError):
    """A stream failed after it began; `partial` is everything assembled before the failure."""

    def __init__(
        self, message: str, *, partial: ResponseResult, request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.partial = partial


class ResponseFailedError(StreamError):
    """The server ended the answer as failed; the message is the server's, `partial` what arrived first.

    Raised alike for a streamed `response.failed` / `error` event and for a JSON body whose `status` is
    `"failed"`: a JSON body is read as the final event of a stream, so both forms fail the same way.
    """


# The constructors chain through `super()` in MRO order (StreamError's first, so `partial` is required), and
# every `__init__` in these chains takes `(message, *, request)`: each class builds correctly.
class StreamConnectionError(StreamError, APIConnectionError):
    """The connection failed after the stream began (dropped, reset, broken framing, timed out)."""


class StreamTimeoutError(StreamConnectionError, APITimeoutError):
    """No stream event arrived within the idle/read timeout, or the call's deadline passed mid-stream."""


class StreamValidationError(StreamError, APIResponseValidationError):
    """A stream event that cannot be read (bad JSON, wrong shape, over `max_response_bytes`)."""


class BatchError(APIError):
    """A Batch Inference job, or its submission, that did not end as asked. `job` is its handle (or None)."""

    def __init__(self, message: str, *, job: Any = None) -> None:
        super().__init__(message)
        self.job = job

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild, args, state = super().__reduce__()
        return rebuild, args, {**state, "job": None}  # the job holds a client: re-attach by `job.id` instead


class BatchSubmitError(BatchError):
    """Submitting a split input failed after some of its jobs were created: `job` holds those (the cause is
    chained), so they can be cancelled or waited for; nothing else was submitted."""


class BatchFailedError(BatchError):
    """The job failed as a whole (`status` "failed"): no item was answered. `errors` are the job's own
    (`{"code", "message", "line"}`, `line` 1-based in the job's input file)."""

    def __init__(self, message: str, *, job: Any = None, errors: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(message, job=job)
        self.errors = errors


class BatchTimeoutError(BatchError):
    """`wait(timeout=...)` passed before the job ended; the job goes on running (`job.wait()` again)."""


class BatchItemError(BatchError):
    """One batch item with no answer, returned in its place by `results()`: `code` says why, e.g. the
    error file's `batch_expired`, or `not_run` for an item the job ended (cancelled, expired) without."""

    def __init__(self, message: str, *, code: str, custom_id: str, job: Any = None) -> None:
        super().__init__(message, job=job)
        self.code = code
        self.custom_id = custom_id


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(error_id, message, request_id) from either error body form."""
    if not isinstance(body, dict):
        return None, None, None
    inner = body.get("error")
    if isinstance(inner, dict):
        error_id = inner.get("type") or inner.get("code")
        message = inner.get("message")
    else:
        error_id = body.get("id") or body.get("code")
        message = body.get("message") or (inner if isinstance(inner, str) else None)
    request_id = body.get("request_id")
    return (
        str(error_id) if error_id is not None else None,
        str(message) if message is not None else None,
        str(request_id) if request_id is not None else None,
    )


_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_TAGS = re.compile(r"(?s)<(script|style)\b.*?</\1\s*>|<[^>]+>")
_SPACE = re.compile(r"\s+")


def _page_text(text: str) -> str | None:
    """A readable line from a non-JSON body: an HTML page's title (else its text), never the raw markup."""
    found = _TITLE.search(text)
    title = _SPACE.sub(" ", found.group(1)).strip() if found else ""
    if title:
        return title[:200]
    plain = _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()
    return plain[:200] or None


def first_validation_error(exc: ValidationError) -> tuple[str, str]:
    """(location, message) of a pydantic error's first entry, named the way `InvalidRequestError`s are:
    the location's parts joined by dots, without pydantic's "Value error, " prefix."""
    error = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in error["loc"])
    return location, str(error["msg"]).removeprefix("Value error, ")


def status_error_from_response(response: httpx.Response, content: bytes) -> APIStatusError:
    """Build the typed error for a non-2xx response from its body, `content` (as the client read it).

    Bodies as they really arrive: DO's `{"id", "message", "request_id"}`, OpenAI's (forwarded commercial
    models) `{"error": {"message", "type", "param", "code"}}`, or no JSON at all (a proxy's or load
    balancer's HTML page: its title, or a short plain text, is the message; `body` keeps the raw text).
    """
    try:
        body: Any = json.loads(content)
    except ValueError:
        body = content[:2000].decode("utf-8", "replace") or None
    error_id, message, request_id = _error_fields(body)
    if message is None and isinstance(body, str):
        message = _page_text(body)
    request_id = request_id or response.headers.get("x-request-id")
    status = response.status_code
    cls = _STATUS_ERRORS.get(status, InternalServerError if status >= 500 else APIStatusError)
    detail = message or response.reason_phrase or "error"
    text = f"Error code: {status} - {detail}"
    if error_id:
        text += f" (id: {error_id})"
    if request_id:
        text += f" (request_id: {request_id})"
    return cls(text, response=response, body=body, error_id=error_id, request_id=request_id)
