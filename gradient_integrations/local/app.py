"""The ASGI app: routes, auth, request validation, fault staging, and dispatch to the encoders.

Routes: `POST /v1/responses` (JSON, or `text/event-stream` when `stream` is true, in the DO `response.chunk`
dialect, the `openai` typed-event dialect, or the `vllm` one with vLLM's quirks), `POST /v1/chat/completions`,
`POST /v1/embeddings` (deterministic hashed bag-of-words vectors: `embeddings`), `GET /v1/models` (the chat
models, then the embedding models), and DO's Batch Inference API (`batches`: `POST /v1/batches/files`,
`POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/{batch_id}`, `POST /v1/batches/{batch_id}/cancel`,
`GET /v1/batches/{batch_id}/results`, with the presigned object store of `objects` under `/_objects/`, which
takes no bearer key and is not bound by `max_body_bytes`). Requests are validated with the core's own
request models (embeddings: `embeddings.parse_embeddings_request`, to DO's schema; batches: to DO's batch
schemas); anything wrong becomes DO's error body
`{"id", "message", "request_id"}` with the field named in the message, never a traceback.
Unexpected server bugs are logged here and answered with a plain 500 DO body.

Limits, so that one request can neither freeze the server nor exhaust its memory (each answered with DO's
error body, the connection closed when the body was not read to its end):

- Request body: at most `max_body_bytes` (default `DEFAULT_MAX_BODY_BYTES`, 8 MiB), checked against
  `Content-Length` before reading and counted while reading (chunked bodies too): `413`. (How long the head
  and the body may take to arrive is the HTTP protocol's business: `connections`, run by `LocalServer`.)
- JSON: UTF-8 only, nested at most `MAX_JSON_DEPTH` (128) levels of arrays and objects, no lone surrogates:
  `400`, with what was wrong in the message.
- Tool arguments and structured output: generated within a total budget (`schema_values.MAX_STEPS`,
  `MAX_CHARS`). Requests that may need real work (tools, `json_schema`, `[words:N]`, bodies over 64 KiB;
  embeddings of more than a few short strings, `embeddings.is_heavy`) are parsed and answered in a worker
  thread, so the event loop keeps serving everyone else.

A client that disconnects before its body arrived is not a server error: it is not logged (beyond DEBUG).

DO's platform features around the model (`docs/local-server.md`, "Platform features"): `router:<name>`
models (`routers`; the chosen route in `x-model-router-selected-route`), the built-in tools `web_search`,
`knowledge_base_retrieval` and `mcp` (`server_tools`; `POST /mcp` is the server's own MCP server,
`mcp_server`, outside the bearer-key auth), and rate limits with their headers on `/v1/responses` and
`/v1/chat/completions` (`quotas`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import http
import itertools
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar, get_args

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..core.errors import InvalidRequestError
from ..core.request import ResponseRequest, build_request
from .batches import BatchCall, BatchRequestError, BatchService, LineRefused, Reply, wants_failure
from .chat import chat_body, chat_request, chat_stream_events
from .embeddings import (
    DEFAULT_EMBEDDING_MODELS,
    EmbeddingModel,
    EmbeddingsRequestError,
    embeddings_body,
    is_heavy,
    parse_embeddings_request,
    resolve_embedding_models,
)
from .faults import FaultCounters, FaultPlan, FaultSpecError
from .mcp_server import McpEndpoint
from .model import ScriptedModel, ScriptedTurn, last_user_message
from .objects import OBJECTS_PREFIX
from .openai_events import EventSequence, openai_error_event, openai_stream_events, openai_terminal_event
from .quotas import DEFAULT_RATE_LIMITS, QuotaExceeded, Quotas, RateLimits, Ticket
from .retrieval import KnowledgeBases
from .routers import ROUTE_HEADER, ModelRoute, RouterError, Routers
from .server_tools import PlatformError, ServerTools, ToolPlan, has_server_tools
from .sse import ConnectionDrop, EventStreamResponse, capture_transport
from .vllm_events import vllm_stream_events, vllm_terminal_event
from .wire import DONE, AnswerMeta, do_stream_events, dumps, error_body, response_body, sse_data

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MODELS",
    "MAX_JSON_DEPTH",
    "STREAM_DIALECTS",
    "GradientApp",
    "StreamDialect",
    "create_app",
]

logger = logging.getLogger("gradient_integrations.local")

StreamDialect = Literal["do", "openai", "vllm"]
STREAM_DIALECTS: tuple[StreamDialect, ...] = get_args(StreamDialect)
_DIALECT_CHOICES = ", ".join(repr(name) for name in STREAM_DIALECTS)
FAULT_HEADER = "x-gradient-fault"
FAULT_KEY_HEADER = "x-gradient-fault-key"
DIALECT_HEADER = "x-gradient-stream-dialect"
DEFAULT_MODELS = (
    "openai-gpt-oss-20b",
    "openai-gpt-oss-120b",
    "llama3.3-70b-instruct",
    "openai-gpt-4o-mini",
    "mistral-3-14B",
)
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 128  # pydantic cannot serialize past ~255, json.loads past ~1000 (RecursionError)
# Bodies larger than this, or naming tools, a JSON schema or a `[words:N]` directive, are handled in a
# worker thread; the rest inline, where a thread hop (~60 us) would cost more than the work.
_INLINE_BODY_BYTES = 64 * 1024
_HEAVY_MARKERS = (b'"tools"', b"json_schema", b"[words:")
_BODY_READ = "gradient_integrations.body_read"  # scope key: the request body was read to its end
_TICKET = "gradient_integrations.quota_ticket"  # scope key: the request's rate-limit `Ticket`
_ENDPOINTS = (
    "POST /v1/responses",
    "POST /v1/chat/completions",
    "POST /v1/embeddings",
    "GET /v1/models",
    "POST /v1/batches/files",
    "POST /v1/batches",
    "GET /v1/batches",
    "GET /v1/batches/{batch_id}",
    "POST /v1/batches/{batch_id}/cancel",
    "GET /v1/batches/{batch_id}/results",
    f"PUT/GET {OBJECTS_PREFIX}... (presigned batch file URLs)",
    "POST /mcp (the local MCP server)",
)
_MODELS_CREATED = 1_735_689_600  # 2025-01-01: a fixed date keeps /v1/models deterministic
_RESPONSE_FIELDS = frozenset(ResponseRequest.model_fields) - {"extra_body"}
# The typed-event dialects: (all events but the terminal one, the terminal event). Errors are `type: error`.
_TYPED_EVENT_WRITERS = {
    "openai": (openai_stream_events, openai_terminal_event),
    "vllm": (vllm_stream_events, vllm_terminal_event),
}
_T = TypeVar("_T")


class _Prepared(NamedTuple):
    """A generation request read, checked and answered (the answer not encoded yet)."""

    plan: FaultPlan
    body: dict[str, Any]
    request: ResponseRequest
    turn: ScriptedTurn
    meta: AnswerMeta
    heavy: bool  # answered in a worker thread (see `_run`)
    headers: dict[str, str]  # the answer's headers (request id, selected route)


class _Reject(Exception):
    """An error answer decided while handling a request."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_id(status: int) -> str:
    """The `id` of DO's error body for an HTTP status (`bad_request`, `not_found`, ...)."""
    named = {
        401: "unauthorized",
        408: "request_timeout",
        413: "request_too_large",  # Python 3.13 renamed the phrase ("Content Too Large"): pin the id
        429: "too_many_requests",
        431: "request_header_fields_too_large",
        500: "server_error",
    }
    try:
        return named.get(status) or http.HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


_TOO_DEEP = (
    f"request body: arrays and objects nested more than {MAX_JSON_DEPTH} levels deep; flatten the request"
)


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (iteratively: no recursion to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item if isinstance(item, list) else ():
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string (key or value) holds half a surrogate pair (`"\\ud800"` decodes to one; UTF-8
    cannot encode it, so the answer that repeats it could not be sent)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json module would accept NaN and Infinity


def responses_request(body: dict[str, Any]) -> ResponseRequest:
    """Validate a `/v1/responses` body with the core's models; unknown fields are accepted and ignored."""
    fields = {key: value for key, value in body.items() if key in _RESPONSE_FIELDS}
    if fields.get("max_output_tokens") is None and body.get("max_tokens") is not None:
        fields["max_output_tokens"] = body["max_tokens"]  # the Stainless SDK's documented alias
    extra = {key: value for key, value in body.items() if key not in _RESPONSE_FIELDS}
    return build_request(**fields, extra_body=extra)


class GradientApp:
    """The local server's ASGI app and its state (scripted model, fault counters). Build with `create_app`.

    `models` are the chat model ids `GET /v1/models` lists (the chat routes answer any id);
    `embedding_models` the models `POST /v1/embeddings` answers for (names from `EMBEDDING_MODELS`, or
    `EmbeddingModel`s), listed after them (once: an id in both lists is an embedding model).
    `batches` holds the Batch Inference jobs and their object store; a job moves one step every
    `batch_polls_per_step` `GET`s (see `batches`). `knowledge_bases` ({id: [text, ...]}) add to `demo-kb`,
    `routers` ({name: [ModelRoute, ...]}) to `router:demo`; `mcp_token` guards `tools/call` on `POST /mcp`;
    `rate_limits` bound each caller (`quotas`)."""

    def __init__(
        self,
        *,
        api_key: str | None,
        stream_dialect: StreamDialect,
        faults: FaultPlan,
        model: ScriptedModel,
        models: tuple[str, ...],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        embedding_models: Iterable[str | EmbeddingModel] = DEFAULT_EMBEDDING_MODELS,
        batch_polls_per_step: int = 1,
        knowledge_bases: Mapping[str, Sequence[str]] | None = None,
        routers: Mapping[str, Sequence[ModelRoute]] | None = None,
        mcp_token: str | None = None,
        rate_limits: RateLimits = DEFAULT_RATE_LIMITS,
    ) -> None:
        if stream_dialect not in STREAM_DIALECTS:
            raise ValueError(f"stream_dialect must be one of {_DIALECT_CHOICES}, got {stream_dialect!r}")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be a positive number of bytes, got {max_body_bytes!r}")
        self.max_body_bytes = max_body_bytes
        self._expected_auth = f"Bearer {api_key}".encode() if api_key else None
        self.stream_dialect: StreamDialect = stream_dialect
        self.faults = faults
        self.model = model
        self.models = models
        self.embedding_models = resolve_embedding_models(embedding_models)
        self.counters = FaultCounters()
        self._ids = itertools.count(1)
        self._salt = os.urandom(4).hex()
        self.batches = BatchService(self._batch_line, polls_per_step=batch_polls_per_step)
        self.server_tools = ServerTools(KnowledgeBases(knowledge_bases))
        self.routers = Routers(routers)
        self.mcp = McpEndpoint(mcp_token)
        self.quotas = Quotas(rate_limits)
        batches = self.batches
        router = Starlette(
            routes=[
                Route("/v1/responses", self._guarded(self._metered(self._responses)), methods=["POST"]),
                Route("/v1/chat/completions", self._guarded(self._metered(self._chat)), methods=["POST"]),
                Route("/mcp", self._mcp, methods=["POST"]),
                Route("/v1/embeddings", self._guarded(self._embeddings), methods=["POST"]),
                Route("/v1/models", self._guarded(self._models), methods=["GET"]),
                Route(
                    "/v1/batches/files",
                    self._batch_endpoint(batches.create_file, body=True),
                    methods=["POST"],
                ),
                Route("/v1/batches", self._batch_endpoint(batches.create, body=True), methods=["POST"]),
                Route("/v1/batches", self._batch_endpoint(batches.list_jobs), methods=["GET"]),
                Route("/v1/batches/{batch_id}", self._batch_endpoint(batches.retrieve), methods=["GET"]),
                Route(
                    "/v1/batches/{batch_id}/cancel", self._batch_endpoint(batches.cancel), methods=["POST"]
                ),
                Route(
                    "/v1/batches/{batch_id}/results", self._batch_endpoint(batches.results), methods=["GET"]
                ),
                Route(
                    OBJECTS_PREFIX + "{key:path}",
                    self._objects,
                    methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"],
                ),
            ],
            exception_handlers={HTTPException: self._http_error},
        )
        self._asgi = capture_transport(router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)

    def __repr__(self) -> str:
        return f"GradientApp(stream_dialect={self.stream_dialect!r}, auth={self._expected_auth is not None})"

    def reset(self) -> None:
        """Forget fault counters (the prompt cache is kept: it is part of the model's behaviour)."""
        self.counters.reset()

    # -- plumbing ------------------------------------------------------------------------------------
    def _next_suffix(self) -> str:
        """Unique per answer: a per-app random salt plus a counter (cheaper than a uuid per request)."""
        return f"{self._salt}{next(self._ids):08x}"

    @staticmethod
    def _error(status: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> Response:
        body = dumps(error_body(error_id(status), message, request_id))
        return Response(body, status, {"x-request-id": request_id, **(headers or {})}, "application/json")

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        known = {404: "no such endpoint", 405: "method not allowed on this endpoint"}
        problem = known.get(status) or (exc.detail if isinstance(exc, HTTPException) else "server error")
        message = f"{request.method} {request.url.path}: {problem}; endpoints: {', '.join(_ENDPOINTS)}"
        return _close_if_body_unread(request, self._error(status, message, os.urandom(8).hex()))

    def _guarded(
        self, handler: Callable[[Request, str], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return _close_if_body_unread(request, await answer(request))

        async def answer(request: Request) -> Response:
            request_id = os.urandom(8).hex()
            try:
                self._authorize(request)
                return await handler(request, request_id)
            except _Reject as reject:
                return self._error(reject.status, reject.message, request_id, reject.headers)
            except InvalidRequestError as exc:
                return self._error(400, str(exc), request_id)
            except ClientDisconnect:  # the client went away: nobody to answer, and not our failure
                logger.debug("client disconnected during %s %s", request.method, request.url.path)
                return self._error(400, "The client disconnected before sending the whole body.", request_id)
            except Exception:  # a bug here must not leak a traceback to the client
                logger.exception("local server failed on %s %s", request.method, request.url.path)
                return self._error(500, "The local server failed; see its log.", request_id)

        return endpoint

    def _metered(
        self, handler: Callable[[Request, str], Awaitable[Response]]
    ) -> Callable[[Request, str], Awaitable[Response]]:
        """Count the request against the caller's rate limits (429 when one is used up) and put the limits'
        headers on whatever it is answered, errors included (`quotas`)."""

        async def metered(request: Request, request_id: str) -> Response:
            try:
                ticket = self.quotas.admit(request.headers.get("authorization"))
            except QuotaExceeded as exceeded:
                raise _Reject(429, "API rate limit exceeded.", headers=exceeded.headers) from None
            request.scope[_TICKET] = ticket
            try:
                response = await handler(request, request_id)
            except _Reject as reject:
                reject.headers = {**ticket.headers(), **reject.headers}
                raise
            except InvalidRequestError as exc:
                raise _Reject(400, str(exc), headers=ticket.headers()) from None
            response.headers.update(ticket.headers())
            return response

        return metered

    def _authorize(self, request: Request) -> None:
        if self._expected_auth is None:
            return
        given = request.headers.get("authorization", "").encode()
        scheme, _, token = given.partition(b" ")
        if not (
            scheme.lower() == b"bearer"
            and hmac.compare_digest(b"Bearer " + token.strip(), self._expected_auth)
        ):
            raise _Reject(
                401, "Unable to authenticate you: send 'Authorization: Bearer <key>' with the server's key."
            )

    def _plan(self, request: Request) -> FaultPlan:
        spec = request.headers.get(FAULT_HEADER)
        if spec is None:
            return self.faults
        try:
            return FaultPlan.parse(spec)
        except FaultSpecError as exc:
            raise _Reject(400, f"{FAULT_HEADER}: {exc}") from None

    async def _staged_faults(self, request: Request, plan: FaultPlan, raw: bytes) -> Response | None:
        """Faults that act before the answer exists; a Response means 'answer with this instead'."""
        if plan.empty:
            return None
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.disconnect_before_headers:
            return ConnectionDrop(f"{FAULT_HEADER}: disconnect_before_headers")
        if plan.status is not None:
            raise _Reject(
                plan.status, f"Injected status {plan.status} ({FAULT_HEADER}: status:{plan.status})."
            )
        if plan.counted:
            scope = self.counters.scope(plan, request.headers.get(FAULT_KEY_HEADER), raw)
            outcome = self.counters.next_outcome(plan, scope)
            if outcome == "rate_limit":
                wait = f"{plan.rate_limit_retry_after:g}"
                raise _Reject(429, "API rate limit exceeded.", headers={"retry-after": wait})
            if outcome == "server_error":
                raise _Reject(500, f"Server was not able to complete the request ({FAULT_HEADER}).")
        return None

    async def _read_body(self, request: Request) -> bytes:
        """The request body, read as it arrives: at most `max_body_bytes`, else 413, which closes the
        connection (the rest of the body is never read, so the connection cannot carry another request)."""
        limit = self.max_body_bytes
        close = {"connection": "close"}
        too_large = (
            f"Request body too large: the limit is {limit} bytes (this server's max_body_bytes); "
            "send a smaller request."
        )
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _Reject(413, too_large, headers=close)  # refused before a byte of it is read
        chunks: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _Reject(413, too_large, headers=close)
            chunks.append(chunk)
        request.scope[_BODY_READ] = True
        return b"".join(chunks)

    @staticmethod
    def _json_object(raw: bytes) -> dict[str, Any]:
        """The body as a JSON object: UTF-8, not too deep, no lone surrogates; else 400."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(
                400,
                f"request body: not valid UTF-8 (byte {raw[exc.start]:#04x} at position {exc.start}); "
                "send JSON encoded as UTF-8",
            ) from None
        try:
            body = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise _Reject(400, _TOO_DEEP) from None
        except ValueError as exc:
            raise _Reject(400, f"request body: not valid JSON ({exc}); send a JSON object") from None
        if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _nesting_exceeds(body, MAX_JSON_DEPTH):
            raise _Reject(400, _TOO_DEEP)
        if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(body):
            raise _Reject(
                400, "request body: a \\u escape is half a UTF-16 surrogate pair, which is not text; fix it"
            )
        if not isinstance(body, dict):
            raise _Reject(400, f"request body: must be a JSON object, got {type(body).__name__}")
        return body

    @classmethod
    def _json_body(cls, raw: bytes) -> dict[str, Any]:
        """A generation request's body (responses, chat): a JSON object with sane `stream` settings."""
        body = cls._json_object(raw)
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise _Reject(400, "stream: must be true or false")
        if body.get("stream_options") is not None and not stream:
            raise _Reject(400, "stream_options: can only be set when stream is true; drop it or set stream")
        if body.get("stop") == []:  # DO's schemas (responses and chat): an array of 1 to 4 strings
            raise _Reject(400, "stop: must hold at least one string; leave it out for none")
        return body

    def _dialect(self, request: Request) -> StreamDialect:
        value = request.headers.get(DIALECT_HEADER, self.stream_dialect).strip().lower()
        for dialect in STREAM_DIALECTS:
            if value == dialect:
                return dialect
        raise _Reject(400, f"{DIALECT_HEADER}: must be one of {_DIALECT_CHOICES}, got {value!r}")

    async def _prepare(
        self,
        request: Request,
        request_id: str,
        parse: Callable[[dict[str, Any]], ResponseRequest],
        prefix: str,
    ) -> _Prepared | Response:
        """Read, check and answer the request (a Response: a staged fault answers instead)."""
        plan = self._plan(request)
        raw = await self._read_body(request)
        staged = await self._staged_faults(request, plan, raw)
        if staged is not None:
            return staged
        heavy = len(raw) > _INLINE_BODY_BYTES or any(marker in raw for marker in _HEAVY_MARKERS)
        understood = functools.partial(self._understand, raw, parse)
        body, parsed, route, turn = await _run(heavy, understood)
        if not isinstance(turn, ScriptedTurn):  # MCP servers to call before the model can answer
            try:
                await turn.run_mcp()
            except PlatformError as exc:
                raise _Reject(exc.status, exc.message) from None
            turn = await _run(heavy, functools.partial(self.model.respond, parsed, turn.grounding()))
        ticket: Ticket | None = request.scope.get(_TICKET)
        if ticket is not None:
            ticket.spend_tokens(turn.input_tokens + turn.output_tokens)
        suffix = self._next_suffix()
        meta = AnswerMeta(f"{prefix}{suffix}", suffix, int(time.time()), parsed.model)
        headers = {"x-request-id": request_id}
        if route is not None:
            headers[ROUTE_HEADER] = route.name
        return _Prepared(plan, body, parsed, turn, meta, heavy, headers)

    def _understand(
        self, raw: bytes, parse: Callable[[dict[str, Any]], ResponseRequest]
    ) -> tuple[dict[str, Any], ResponseRequest, ModelRoute | None, ScriptedTurn | ToolPlan]:
        """Parse, route (`router:<name>`), run the local built-in tools and answer; instead of the answer,
        the built-in tools' plan when MCP servers must be called first (in the event loop: `run_mcp`)."""
        body = self._json_body(raw)
        parsed = parse(body)
        route = None
        if parsed.model.startswith("router:"):
            try:
                route = self.routers.select(parsed.model, last_user_message(parsed)[0])
            except RouterError as exc:
                raise _Reject(404, exc.message) from None
            if route is not None:
                parsed = parsed.model_copy(update={"model": route.model})
        if not has_server_tools(parsed):
            return body, parsed, route, self.model.respond(parsed)
        try:
            tools = self.server_tools.plan(parsed)
        except PlatformError as exc:
            raise _Reject(exc.status, exc.message) from None
        if tools.needs_mcp:
            return body, parsed, route, tools
        return body, parsed, route, self.model.respond(parsed, tools.grounding())

    # -- endpoints -----------------------------------------------------------------------------------
    async def _responses(self, request: Request, request_id: str) -> Response:
        dialect = self._dialect(request)
        prepared = await self._prepare(request, request_id, responses_request, "resp_")
        if isinstance(prepared, Response):
            return prepared
        plan, body, parsed, turn, meta, heavy, headers = prepared
        if not body.get("stream"):
            return await _run(heavy, lambda: _json_answer(response_body(turn, meta, parsed), plan, headers))
        message = f"Injected stream error ({FAULT_HEADER}: error_chunk:{plan.error_chunk})"
        if dialect != "do":
            stream_events, terminal_event = _TYPED_EVENT_WRITERS[dialect]
            sequence = EventSequence()
            return EventStreamResponse(
                stream_events(turn, meta, parsed, sequence),
                terminal=lambda: terminal_event(turn, meta, parsed, sequence),
                error_event=lambda: openai_error_event(message, sequence),
                plan=plan,
                headers=headers,
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _do_stream(
            do_stream_events(turn, meta, include_usage=include_usage), message, request_id, plan, headers
        )

    async def _chat(self, request: Request, request_id: str) -> Response:
        prepared = await self._prepare(request, request_id, chat_request, "chatcmpl-")
        if isinstance(prepared, Response):
            return prepared
        plan, body, _, turn, meta, heavy, headers = prepared
        if not body.get("stream"):
            return await _run(heavy, lambda: _json_answer(chat_body(turn, meta), plan, headers))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        message = f"Injected stream error ({FAULT_HEADER}: error_chunk:{plan.error_chunk})"
        return _do_stream(
            chat_stream_events(turn, meta, include_usage=include_usage), message, request_id, plan, headers
        )

    async def _mcp(self, request: Request) -> Response:
        """`POST /mcp`: the local MCP server (`mcp_server`); its own token, not the app's key, guards it."""
        try:
            raw = await self._read_body(request)
        except _Reject as reject:
            return _close_if_body_unread(
                request, self._error(reject.status, reject.message, os.urandom(8).hex(), reject.headers)
            )
        except ClientDisconnect:
            return Response(status_code=400)
        reply = self.mcp.answer(raw, request.headers.get("authorization"))
        if reply.body is None:
            return Response(status_code=reply.status, headers=reply.headers)
        return Response(dumps(reply.body), reply.status, reply.headers, "application/json")

    async def _embeddings(self, request: Request, request_id: str) -> Response:
        plan = self._plan(request)
        raw = await self._read_body(request)
        staged = await self._staged_faults(request, plan, raw)
        if staged is not None:
            return staged
        content = await _run(is_heavy(raw), functools.partial(self._embed, raw))
        return _json_bytes_answer(content, plan, {"x-request-id": request_id})

    def _embed(self, raw: bytes) -> bytes:
        try:
            parsed = parse_embeddings_request(self._json_object(raw), self.embedding_models, self.models)
        except EmbeddingsRequestError as exc:
            raise _Reject(exc.status, exc.message) from None
        return embeddings_body(parsed)

    # -- batch inference (`batches`, `objects`) -------------------------------------------------------
    def _batch_endpoint(
        self, operation: Callable[[BatchCall], Reply], *, body: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """A batch API route: bearer auth, staged faults and errors as on every route; the operation runs in
        a worker thread (a job may be running thousands of lines under its lock)."""

        async def handler(request: Request, request_id: str) -> Response:
            plan = self._plan(request)
            raw = await self._read_body(request)
            staged = await self._staged_faults(request, plan, raw)
            if staged is not None:
                return staged
            call = BatchCall(
                base_url=str(request.base_url),
                path_params=dict(request.path_params),
                query=request.query_params.multi_items(),
                body=self._json_object(raw) if body else None,
            )
            try:
                status, answer = await _run(True, functools.partial(operation, call))
            except BatchRequestError as exc:
                raise _Reject(exc.status, exc.message) from None
            content = dumps(answer).encode()
            if plan.malformed_json:
                content = content[: len(content) // 2]
            return Response(content, status, {"x-request-id": request_id}, "application/json")

        return self._guarded(handler)

    async def _objects(self, request: Request) -> Response:
        return await self.batches.store.handle(request)

    def _batch_line(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """One batch line's body, answered exactly as a live non-streaming call to `endpoint` is (the same
        checks, model and body writer); a refusal raises `LineRefused` with the status the call would get."""
        chat = endpoint == "/v1/chat/completions"
        parse, prefix = (chat_request, "chatcmpl-") if chat else (responses_request, "resp_")
        try:
            checked = self._json_body(json.dumps(body).encode())  # as the body would arrive on the wire
            if checked.get("stream"):
                raise _Reject(400, "stream: a batch request cannot stream; drop stream or set it to false")
            parsed = parse(checked)
            if wants_failure(parsed):
                raise _Reject(500, "Server was not able to complete the request ([batch:fail] in the input).")
            turn = self.model.respond(parsed)
        except _Reject as reject:
            raise LineRefused(reject.status, reject.message) from None
        except InvalidRequestError as exc:
            raise LineRefused(400, str(exc)) from None
        suffix = self._next_suffix()
        meta = AnswerMeta(f"{prefix}{suffix}", suffix, int(time.time()), parsed.model)
        return chat_body(turn, meta) if chat else response_body(turn, meta, parsed)

    async def _models(self, request: Request, request_id: str) -> Response:
        data = [
            {"id": name, "object": "model", "created": _MODELS_CREATED, "owned_by": "digitalocean"}
            for name in dict.fromkeys((*self.models, *self.embedding_models))
        ]
        return Response(
            dumps({"object": "list", "data": data}), 200, {"x-request-id": request_id}, "application/json"
        )


def _close_if_body_unread(request: Request, response: Response) -> Response:
    """An answer given before the request's body was read (401, 404, 413, ...) closes the connection:
    otherwise the server would go on reading that body, as the start of the next request."""
    if request.scope.get(_BODY_READ):
        return response
    headers = request.headers
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        response.headers["connection"] = "close"
    return response


async def _run(heavy: bool, work: Callable[[], _T]) -> _T:
    """`work()` in a worker thread if the request is heavy (the event loop keeps serving other requests
    meanwhile), else right here: for a small request a thread hop (~60 us) costs more than the work.
    The loop's default executor, not `anyio.to_thread`: anyio would import its asyncio backend (~70 ms)
    on the first heavy request."""
    return await asyncio.get_running_loop().run_in_executor(None, work) if heavy else work()


def _json_answer(body: dict[str, Any], plan: FaultPlan, headers: dict[str, str]) -> Response:
    return _json_bytes_answer(dumps(body).encode(), plan, headers)


def _json_bytes_answer(content: bytes, plan: FaultPlan, headers: dict[str, str]) -> Response:
    if plan.malformed_json or plan.malformed_sse:
        content = content[: len(content) // 2]  # cut mid-object: a client's JSON decoder must fail
    return Response(content, 200, headers, "application/json")


def _do_stream(
    events: Iterator[bytes], message: str, request_id: str, plan: FaultPlan, headers: dict[str, str]
) -> Response:
    error = {"error": error_body("server_error", message, request_id)}
    return EventStreamResponse(
        events, terminal=lambda: DONE, error_event=lambda: sse_data(error), plan=plan, headers=headers
    )


def create_app(
    *,
    api_key: str | None = None,
    stream_dialect: StreamDialect = "do",
    faults: str | FaultPlan | None = None,
    always_reason: bool = False,
    models: tuple[str, ...] = DEFAULT_MODELS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    embedding_models: Iterable[str | EmbeddingModel] = DEFAULT_EMBEDDING_MODELS,
    batch_polls_per_step: int = 1,
    knowledge_bases: Mapping[str, Sequence[str]] | None = None,
    routers: Mapping[str, Sequence[ModelRoute]] | None = None,
    mcp_token: str | None = None,
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS,
) -> GradientApp:
    """The bare ASGI app (e.g. for `httpx.ASGITransport`). `faults` is the default fault spec for requests
    that carry no `x-gradient-fault` header; `always_reason` makes every model reason like gpt-oss.
    `max_body_bytes` bounds a request body (larger: 413, and the connection is closed). `models` are the
    chat models listed, `embedding_models` the models `POST /v1/embeddings` serves (see `GradientApp`).
    `batch_polls_per_step`: how many `GET /v1/batches/{batch_id}` move a batch job one step (`batches`).
    `knowledge_bases`, `routers`, `mcp_token`, `rate_limits`: the platform features (see `GradientApp`)."""
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults or FaultPlan()
    return GradientApp(
        api_key=api_key,
        stream_dialect=stream_dialect,
        faults=plan,
        model=ScriptedModel(always_reason=always_reason),
        models=models,
        max_body_bytes=max_body_bytes,
        embedding_models=embedding_models,
        batch_polls_per_step=batch_polls_per_step,
        knowledge_bases=knowledge_bases,
        routers=routers,
        mcp_token=mcp_token,
        rate_limits=rate_limits,
    )
