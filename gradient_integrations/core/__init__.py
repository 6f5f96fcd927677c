"""The shared request core: the only layer that knows HTTP, SSE and the `/v1/responses` wire format.

Modules, one concern each: `settings` (key and endpoint resolution), `secrets` (how the key is held),
`options` (the request vocabulary: one table of options and the merge rule both adapters use), `values`
(typed constructors for tools, tool_choice and text.format), `builtin_tools` (DO's server-side tools:
web search, knowledge bases, MCP), `server_items` (their calls and citations in an answer), `quota`
(rate-limit headers), `request` (request body models and
validation), `response` (the documented body shapes and the normalized `ResponseResult`), `reader` (the
one reader: SSE events and JSON bodies to deltas and a result, no I/O), `retry` (the one retry policy),
`errors` (the exception tree), `client` (all HTTP, sync and async), `streams` (one streaming call),
`pools` (per-event-loop async pools), `lifecycle` (closing a client's owner), `embeddings` (the
`/v1/embeddings` request, batching and reader), `catalog` (the dated model table, `/v1/models`, prices),
`tokens` (offline token estimates), `usage` (token and dollar tallies), `batch` (Batch Inference lines,
splitting and joining results, no I/O) and `batch_jobs` (submitting and watching Batch Inference jobs).
"""

from .batch import BatchStatus, RequestCounts
from .batch_jobs import BatchJob, aattach_batch, asubmit_batch, attach_batch, submit_batch
from .builtin_tools import BuiltInTool, KnowledgeBaseRetrievalTool, McpTool, WebSearchTool
from .catalog import CATALOG, ListedModel, ModelCatalog, ModelInfo, register_model
from .client import ResponsesClient
from .embeddings import EmbeddingRequest, EmbeddingResult, EmbeddingUsage, aembed_all, embed_all
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchError,
    BatchFailedError,
    BatchItemError,
    BatchSubmitError,
    BatchTimeoutError,
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
    UnknownModelError,
    UnprocessableEntityError,
)
from .quota import Quota, RateLimit
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
from .server_items import Citation, ServerToolCall
from .settings import Settings
from .streams import AsyncResponseStream, ResponseStream
from .tokens import estimate_message_tokens, estimate_tokens
from .usage import ModelUsage, UsageTally

__all__ = [
    "CATALOG",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncResponseStream",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchFailedError",
    "BatchItemError",
    "BatchJob",
    "BatchStatus",
    "BatchSubmitError",
    "BatchTimeoutError",
    "BuiltInTool",
    "Citation",
    "ConfigurationError",
    "ConflictError",
    "EmbeddingRequest",
    "EmbeddingResult",
    "EmbeddingUsage",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "GradientError",
    "InputText",
    "InternalServerError",
    "InvalidRequestError",
    "KnowledgeBaseRetrievalTool",
    "ListedModel",
    "McpTool",
    "MessageItem",
    "ModelCatalog",
    "ModelInfo",
    "ModelUsage",
    "NamedToolChoice",
    "NotFoundError",
    "PermissionDeniedError",
    "Quota",
    "RateLimit",
    "RateLimitError",
    "ReasoningItem",
    "ReasoningText",
    "RequestCounts",
    "ResponseFailedError",
    "ResponseReader",
    "ResponseRequest",
    "ResponseResult",
    "ResponseStream",
    "ResponseTooLargeError",
    "ResponsesClient",
    "RetryPolicy",
    "ServerToolCall",
    "Settings",
    "StreamConnectionError",
    "StreamDelta",
    "StreamError",
    "StreamOptions",
    "StreamTimeoutError",
    "StreamValidationError",
    "ToolCall",
    "ToolCallChunk",
    "UnknownModelError",
    "UnprocessableEntityError",
    "Usage",
    "UsageTally",
    "WebSearchTool",
    "aattach_batch",
    "aembed_all",
    "asubmit_batch",
    "attach_batch",
    "build_request",
    "embed_all",
    "estimate_message_tokens",
    "estimate_tokens",
    "parse_response",
    "register_model",
    "submit_batch",
]
