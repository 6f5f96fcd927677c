"""`python -m gradient_integrations.local`: serve the local Gradient-compatible server until Ctrl-C.

    python -m gradient_integrations.local --host 127.0.0.1 --port 8080
    python -m gradient_integrations.local --port 0 --fault rate_limit:1 --stream-dialect openai
    python -m gradient_integrations.local --port 0 --stream-dialect vllm --reasoning   # vLLM's own stream

It prints its base URL when it accepts connections (`--port 0` picks a free port). The key for
`--api-key` may also come from the GRADIENT_LOCAL_API_KEY environment variable, which keeps it out of
the process list; it is never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .app import DEFAULT_MODELS, STREAM_DIALECTS
from .faults import FAULT_USAGE, FaultPlan, FaultSpecError
from .server import LocalServer


def _fault(value: str) -> FaultPlan:
    try:
        return FaultPlan.parse(value)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gradient_integrations.local",
        description="Serve a Gradient-compatible /v1/responses, /v1/chat/completions and /v1/models "
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
