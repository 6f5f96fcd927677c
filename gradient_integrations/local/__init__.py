"""A local Gradient-compatible server: DO's inference wire format on loopback, backed by a scripted model.

It is what the demo runs on when no access key is set, what the adapters' tests and notebooks run
against, and the target of the benchmarks. Needs the `local` extra (starlette + uvicorn).

    from gradient_integrations.local import LocalServer, create_app

    with LocalServer() as server:              # background thread, free loopback port
        server.base_url                        # "http://127.0.0.1:54321"
    app = create_app()                         # the bare ASGI app, e.g. for httpx.ASGITransport

Modules: `app` (routes, auth, validation, fault staging), `model` (the scripted model), `mentions` (which
tools a message mentions), `schema_values` (schema-valid JSON for tool arguments and structured output),
`wire` (Responses body and DO chunks),
`openai_events` (the typed-event stream dialect), `vllm_events` (typed events as vLLM sends them, quirks
included), `chat` (chat completions), `embeddings` (`POST /v1/embeddings`: hashed bag-of-words vectors),
`batches` (DO's Batch Inference API: file intents, jobs polled through validating -> in_progress ->
finalizing -> completed, cancel, results), `objects` (the presigned object store under `/_objects/`, which
refuses an `Authorization` header as S3 does), the platform features (`routers`: `router:<name>` models;
`server_tools`: the built-in tools `web_search`, `knowledge_base_retrieval`, `mcp`, searching `retrieval`,
streamed by `tool_events`, calling MCP servers with `mcp_client`; `mcp_server`: `POST /mcp`; `quotas`: rate
limits and their headers; `prompt_cache`: cached-token accounting), `sse` (stream writing and mid-stream
faults), `faults` (the fault spec language), `connections` (uvicorn's HTTP protocol with request-head
limits), `server` (`LocalServer`), `__main__` (the CLI).
The rules of the scripted model and the faults are in `docs/local-server.md`.

Limits, so that one client can neither freeze the server nor exhaust its memory (details in `server`):
request bodies of at most 8 MiB (`413`) arriving within 30 s of the head (`408`); request heads of at most
64 KiB (`431`) complete within 10 s (`408`, then closed); idle keep-alive connections closed after 5 s; JSON
nested at most 128 deep, UTF-8 only (`400`); tool arguments and structured output generated within a fixed
total budget (`schema_values.MAX_STEPS`, `MAX_CHARS`), heavy requests answered off the event loop.
"""

from .._extras import require_extra

require_extra("local", "starlette", "uvicorn", feature="gradient_integrations.local")

from .app import DEFAULT_MODELS, GradientApp, StreamDialect, create_app
from .embeddings import DEFAULT_EMBEDDING_MODELS, EmbeddingModel
from .faults import FaultPlan, FaultSpecError
from .model import ScriptedModel, ScriptedTurn
from .quotas import RateLimits
from .routers import ModelRoute
from .server import LocalServer, LocalServerProcess

__all__ = [
    "DEFAULT_EMBEDDING_MODELS",
    "DEFAULT_MODELS",
    "EmbeddingModel",
    "FaultPlan",
    "FaultSpecError",
    "GradientApp",
    "LocalServer",
    "LocalServerProcess",
    "ModelRoute",
    "RateLimits",
    "ScriptedModel",
    "ScriptedTurn",
    "StreamDialect",
    "create_app",
]
