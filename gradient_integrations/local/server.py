"""`LocalServer`: the app served by uvicorn on a loopback port, in a background thread.

    with LocalServer() as server:          # a free port on 127.0.0.1
        client = ResponsesClient(base_url=server.base_url)

`LocalServerProcess` runs the same server as a child process, for benchmarks that must not share the GIL.

The socket is bound before the thread starts, so `port=0` picks a free port without a race and `base_url`
is known at once; `start()` returns when uvicorn accepts connections (or raises if it could not start).
uvicorn runs with its default HTTP implementation (httptools when installed, else h11, extended with the
limits below by `connections`), no access log and log level `warning`, so the server stays out of the way
of the benchmarks it serves.

Limits (all keyword arguments of `LocalServer`), so that no client can hold the server or its memory:

- `head_timeout` (10 s): a connection must send a complete request head within this many seconds of
  opening, or of the first byte of the head (between requests); else `408` (if it sent part of one) and
  the connection is closed. `max_head_bytes` (64 KiB): a larger request head gets `431`.
- `body_timeout` (30 s): the body must arrive within this many seconds of the head, else `408` and the
  connection is closed. (These three: `connections`.)
- `max_body_bytes` (8 MiB): a larger body gets `413` and the connection is closed. (`app`.)
- `keep_alive_timeout` (5 s, uvicorn's default): an idle connection is closed this long after a response.
- Tool arguments and structured output are generated within a fixed total budget (`schema_values`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

import uvicorn

from .app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MODELS, GradientApp, StreamDialect, create_app
from .connections import DEFAULT_BODY_TIMEOUT, DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_HEAD_BYTES, limited_protocol
from .faults import FaultPlan
from .quotas import DEFAULT_RATE_LIMITS, RateLimits
from .routers import ModelRoute


class _CancelledAnswers(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" for an answer cancelled by a forced stop: the
    stop asked for it, so it is no error (a client stuck mid-answer would otherwise print a traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


logging.getLogger("uvicorn.error").addFilter(_CancelledAnswers())


class _Server(uvicorn.Server):
    """uvicorn's server, closing the connections its shutdown left open.

    A forced exit (`stop()` while a client is not reading an answer, so the server cannot finish writing
    it) returns with those connections still open; uvicorn then closes its loop without closing them, and
    the garbage collector reports each one later as a ResourceWarning, in whatever code happens to run then.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)  # abort() closes the socket in a callback: let it run before the loop ends


__all__ = ["LocalServer", "LocalServerProcess"]


def _test_certificate() -> tuple[str, str, str]:
    """(cert, key, CA) PEM files for 127.0.0.1/localhost from a throwaway CA (needs `trustme`)."""
    try:
        import trustme
    except ImportError:
        raise RuntimeError(
            "LocalServer(tls=True) needs trustme: pip install trustme, or pass ssl_certfile"
        ) from None
    folder = tempfile.mkdtemp(prefix="gradient-local-tls-")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    paths = tuple(os.path.join(folder, name) for name in ("cert.pem", "key.pem", "ca.pem"))
    issued.private_key_and_cert_chain_pem.write_to_path(paths[0])
    issued.private_key_pem.write_to_path(paths[1])
    authority.cert_pem.write_to_path(paths[2])
    return paths[0], paths[1], paths[2]


class LocalServer:
    """A running local Gradient-compatible server. Use as a context manager, or call `start()`/`stop()`.

    `tls=True` serves https with a certificate from a throwaway CA whose PEM file is `ca_file` (for
    clients such as pydo that refuse a bearer token over plain http: point them at it, e.g. with
    `REQUESTS_CA_BUNDLE`); `ssl_certfile`/`ssl_keyfile` serve your own certificate instead.

    `max_body_bytes`, `body_timeout`, `head_timeout`, `max_head_bytes` and `keep_alive_timeout` bound what one
    client can make the server hold (see the module docstring); tests pass short timeouts.
    `batch_polls_per_step`: how many `GET /v1/batches/{batch_id}` move a batch job one step (`app.batches`).
    Platform features (`docs/local-server.md`, "Platform features"): `knowledge_bases` ({id: [text, ...]},
    besides `demo-kb`), `routers` ({name: [ModelRoute, ...]}, besides `router:demo`), `mcp_token` (what
    `tools/call` on `POST /mcp` requires as a bearer; default none), `rate_limits` (`RateLimits`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        stream_dialect: StreamDialect = "do",
        faults: str | FaultPlan | None = None,
        always_reason: bool = False,
        models: tuple[str, ...] = DEFAULT_MODELS,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        tls: bool = False,
        startup_timeout: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        head_timeout: float = DEFAULT_HEAD_TIMEOUT,
        max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
        keep_alive_timeout: float = 5.0,
        batch_polls_per_step: int = 1,
        knowledge_bases: Mapping[str, Sequence[str]] | None = None,
        routers: Mapping[str, Sequence[ModelRoute]] | None = None,
        mcp_token: str | None = None,
        rate_limits: RateLimits = DEFAULT_RATE_LIMITS,
    ) -> None:
        self.app: GradientApp = create_app(
            api_key=api_key,
            stream_dialect=stream_dialect,
            faults=faults,
            always_reason=always_reason,
            models=models,
            max_body_bytes=max_body_bytes,
            batch_polls_per_step=batch_polls_per_step,
            knowledge_bases=knowledge_bases,
            routers=routers,
            mcp_token=mcp_token,
            rate_limits=rate_limits,
        )
        if not keep_alive_timeout > 0:
            raise ValueError(
                f"keep_alive_timeout must be a positive number of seconds, got {keep_alive_timeout!r}"
            )
        self.host = host
        self._requested_port = port
        self.ca_file: str | None = None
        if tls and ssl_certfile is None:
            ssl_certfile, ssl_keyfile, self.ca_file = _test_certificate()
        self._tls = ssl_certfile is not None
        self._config = uvicorn.Config(
            self.app,
            http=limited_protocol(
                head_timeout=head_timeout, body_timeout=body_timeout, max_head_bytes=max_head_bytes
            ),
            h11_max_incomplete_event_size=max_head_bytes,
            timeout_keep_alive=keep_alive_timeout,  # type: ignore[arg-type]  # typed int, used as a float
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=5,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._failure: BaseException | None = None

    def __repr__(self) -> str:  # never the key: only where the server listens
        state = "running" if self.running else "stopped"
        return f"LocalServer({self.base_url if self._port else self.host!r}, {state})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalServer is not started: call start() or use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        """e.g. "http://127.0.0.1:54321" (no `/v1`: clients add the path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    def reset_faults(self) -> None:
        """Forget the counters of counted faults (`rate_limit:n`, `server_error:n`)."""
        self.app.reset()

    def start(self) -> LocalServer:
        if self.running:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not the default 0: asyncio enables TCP_NODELAY only on sockets that say they are TCP,
        # and without it small writes wait out the peer's delayed ACK (40 ms per streamed answer).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        sock.listen(2048)
        self._socket = sock
        self._port = int(sock.getsockname()[1])
        self._server = _Server(self._config)
        self._thread = threading.Thread(target=self._serve, name=f"gradient-local-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"LocalServer failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"LocalServer did not start within {self._startup_timeout} s")
            time.sleep(0.005)
        return self

    def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported to start(); a thread has nobody else to tell
            self._failure = exc

    def stop(self) -> None:
        """Stop serving. Open connections get a second to finish, then are cut (a stalled stream or an
        idle TLS keep-alive connection would otherwise hold the shutdown)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._thread = None
        self._server = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LocalServerProcess:
    """The same server in a child process (`python -m gradient_integrations.local --port 0`).

    For benchmarks: a server thread shares the client's GIL, so its CPU time would count against the
    client being measured; a child process does not. Same `base_url` and context-manager use as
    `LocalServer`; the key travels in the child's environment, never on its command line.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        stream_dialect: StreamDialect = "do",
        faults: str | None = None,
        always_reason: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        self._command = [sys.executable, "-m", "gradient_integrations.local", "--port", "0"]
        self._command += ["--stream-dialect", stream_dialect] + (["--reasoning"] if always_reason else [])
        self._command += ["--fault", faults] if faults else []
        self._env = {**os.environ, "GRADIENT_LOCAL_API_KEY": api_key or ""}
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        return f"LocalServerProcess({self._base_url or 'not started'})"

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(
                "LocalServerProcess is not started: call start() or use it as a context manager"
            )
        return self._base_url

    def start(self) -> LocalServerProcess:
        if self._process is not None:
            return self
        process = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True, env=self._env)
        self._process = process
        assert process.stdout is not None
        # readline() blocks, so a watchdog kills a child that never prints its URL.
        watchdog = threading.Timer(self._startup_timeout, process.kill)
        watchdog.start()
        try:
            found = re.search(r"https?://\S+?:\d+", process.stdout.readline())
        finally:
            watchdog.cancel()
        if found is None:
            self.stop()
            raise RuntimeError("the local server process did not start; run the CLI by hand to see why")
        self._base_url = found.group()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
        self._process = None
        self._base_url = None

    def __enter__(self) -> LocalServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
