"""`python -m gradient_integrations.local`: serve the local Gradient-compatible server until Ctrl-C.

    python -m gradient_integrations.local --host 127.0.0.1 --port 8080
    python -m gradient_integrations.local --port 0 --fault rate_limit:1 --stream-dialect openai
    python -m gradient_integrations.local --port 0 --stream-dialect vllm --reasoning   # vLLM's own stream

It prints its base URL when it accepts connections (`--port 0` picks a free port). The key for
`--api-key` may also come from the GRADIENT_LOCAL_API_KEY environment variable, which keeps it out of
the process list; it is never printed. `--max-body-bytes`, `--body-timeout` and `--head-timeout` change
the limits that keep one client from holding the server (see `server`). `--mcp-token` (or
GRADIENT_LOCAL_MCP_TOKEN) guards `tools/call` on `POST /mcp`; `--requests-per-minute`,
`--tokens-per-minute` and `--tokens-per-day` set the rate limits (`quotas`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from .app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MODELS, STREAM_DIALECTS
from .connections import DEFAULT_BODY_TIMEOUT, DEFAULT_HEAD_TIMEOUT
from .faults import FAULT_USAGE, FaultPlan, FaultSpecError
from .quotas import DEFAULT_RATE_LIMITS, RateLimits
from .server import LocalServer


def _fault(value: str) -> FaultPlan:
    try:
        return FaultPlan.parse(value)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return number

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gradient_integrations.local",
        description="Serve a Gradient-compatible /v1/responses, /v1/chat/completions, /v1/embeddings, "
        "/v1/batches and /v1/models "
        "on loopback, answered by a deterministic scripted model.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("GRADIENT_LOCAL_API_KEY"),
        help="require 'Authorization: Bearer <key>' (default: $GRADIENT_LOCAL_API_KEY, else no auth)",
    )
    parser.add_argument(
        "--stream-dialect",
        choices=STREAM_DIALECTS,
        default="do",
        help="default stream format: DO response.chunk chunks (do), typed response.* events (openai), "
        "or typed events with vLLM's quirks (vllm)",
    )
    parser.add_argument(
        "--fault", type=_fault, default=None, help=f"default faults for every request: {FAULT_USAGE}"
    )
    parser.add_argument("--reasoning", action="store_true", help="every model reasons first, like gpt-oss")
    parser.add_argument("--ssl-certfile", default=None, help="serve https with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", default=None, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated ids listed by GET /v1/models"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive(int),
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"larger request bodies get 413 (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--body-timeout",
        type=_positive(float),
        default=DEFAULT_BODY_TIMEOUT,
        help=f"seconds a request body may take to arrive, else 408 (default {DEFAULT_BODY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--head-timeout",
        type=_positive(float),
        default=DEFAULT_HEAD_TIMEOUT,
        help=f"seconds to send a complete request head, else the connection is closed "
        f"(default {DEFAULT_HEAD_TIMEOUT:g})",
    )
    parser.add_argument(
        "--batch-polls-per-step",
        type=_positive(int),
        default=1,
        help="GET /v1/batches/{batch_id} calls that move a batch job one step (default 1)",
    )
    parser.add_argument(
        "--mcp-token",
        default=os.environ.get("GRADIENT_LOCAL_MCP_TOKEN"),
        help="bearer token tools/call on POST /mcp needs (default: $GRADIENT_LOCAL_MCP_TOKEN, else none)",
    )
    for name, default in (
        ("requests-per-minute", DEFAULT_RATE_LIMITS.requests_per_minute),
        ("tokens-per-minute", DEFAULT_RATE_LIMITS.tokens_per_minute),
        ("tokens-per-day", DEFAULT_RATE_LIMITS.tokens_per_day),
    ):
        parser.add_argument(
            f"--{name}",
            type=_positive(int),
            default=default,
            help=f"rate limit per caller; over it, 429 (default {default:,})",
        )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server = LocalServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key or None,
        stream_dialect=args.stream_dialect,
        faults=args.fault,
        always_reason=args.reasoning,
        models=tuple(name.strip() for name in args.models.split(",") if name.strip()),
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        max_body_bytes=int(args.max_body_bytes),
        body_timeout=args.body_timeout,
        head_timeout=args.head_timeout,
        batch_polls_per_step=int(args.batch_polls_per_step),
        mcp_token=args.mcp_token or None,
        rate_limits=RateLimits(
            requests_per_minute=int(args.requests_per_minute),
            tokens_per_minute=int(args.tokens_per_minute),
            tokens_per_day=int(args.tokens_per_day),
        ),
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        print(f"could not start the local server on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    auth = "Bearer key required" if args.api_key else "no key required"
    print(f"Local Gradient server on {server.base_url} ({auth}; Ctrl-C stops)", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
