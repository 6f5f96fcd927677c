"""The shared request core: the only layer that knows HTTP, SSE and the `/v1/responses` wire format.

Modules, one concern each: `settings` (key and endpoint resolution), `secrets` (how the key is held),
`options` (the request vocabulary: one table of options and the merge rule both adapters use), `values`
(typed constructors for tools, tool_choice and text.format), `request` (request body models and
validation), `response` (the documented body shapes and the normalized `ResponseResult`), `reader` (the
one reader: SSE events and JSON bodies to deltas and a result, no I/O), `retry` (the one retry policy),
`errors` (the exception tree), `client` (all HTTP, sync and async), `streams` (one streaming call),
`pools` (per-event-loop async pools), `lifecycle` (closing a client's owner).
"""

from .client import ResponsesClient
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    GradientError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFailedError,
    ResponseTooLargeError,
    StreamConnectionError,
    StreamError,
    StreamTimeoutError,
    StreamValidationError,
    UnprocessableEntityError,
)
from .reader import ResponseReader, StreamDelta, ToolCallChunk, parse_response
from .request import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputText,
    MessageItem,
    NamedToolChoice,
    ReasoningItem,
    ReasoningText,
    ResponseRequest,
    StreamOptions,
    build_request,
)
from .response import ResponseResult, ToolCall, Usage
from .retry import RetryPolicy
from .settings import Settings
from .streams import AsyncResponseStream, ResponseStream

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncResponseStream",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "GradientError",
    "InputText",
    "InternalServerError",
    "InvalidRequestError",
    "MessageItem",
    "NamedToolChoice",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReasoningItem",
    "ReasoningText",
    "ResponseFailedError",
    "ResponseReader",
    "ResponseRequest",
    "ResponseResult",
    "ResponseStream",
    "ResponseTooLargeError",
    "ResponsesClient",
    "RetryPolicy",
    "Settings",
    "StreamConnectionError",
    "StreamDelta",
    "StreamError",
    "StreamOptions",
    "StreamTimeoutError",
    "StreamValidationError",
    "ToolCall",
    "ToolCallChunk",
    "UnprocessableEntityError",
    "Usage",
    "build_request",
    "parse_response",
]
