"""`LocalServer` and the CLI: start on a free port, serve concurrent and very long streams, stop cleanly."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings

import httpx
import pytest

from gradient_integrations import ResponsesClient, build_request
from gradient_integrations.local import LocalServer, LocalServerProcess, create_app
from gradient_integrations.local.__main__ import parse_args


def test_a_server_listens_on_a_free_loopback_port_until_stopped() -> None:
    server = LocalServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        assert server.running
        assert httpx.get(server.base_url + "/v1/models").status_code == 200
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/v1/models")


def test_two_servers_run_side_by_side_with_their_own_settings() -> None:
    with LocalServer() as plain, LocalServer(stream_dialect="openai", always_reason=True) as other:
        assert plain.port != other.port
        body = {"model": "m", "input": "hi", "stream": True}
        assert httpx.post(plain.base_url + "/v1/responses", json=body).text.startswith("data: ")
        assert httpx.post(other.base_url + "/v1/responses", json=body).text.startswith(
            "event: response.created"
        )


def test_a_taken_port_is_reported_before_any_thread_starts() -> None:
    with LocalServer() as first:
        second = LocalServer(port=first.port)
        with pytest.raises(OSError):
            second.start()
        assert not second.running


def test_the_repr_never_shows_the_key() -> None:
    with LocalServer(api_key="sk-do-very-secret") as server:
        assert "secret" not in repr(server) and "secret" not in repr(server.app)
        assert server.base_url in repr(server)


def test_concurrent_requests_are_all_answered(local_server: LocalServer) -> None:
    async def run() -> list[str]:
        async with ResponsesClient(base_url=local_server.base_url) as client:
            calls = [client.acreate(build_request(model="m", input=f"request {n}")) for n in range(100)]
            return [result.text for result in await asyncio.gather(*calls)]

    assert asyncio.run(run()) == [f"You said: request {n}" for n in range(100)]


def test_a_ten_thousand_word_stream_arrives_whole(local_server: LocalServer) -> None:
    with ResponsesClient(base_url=local_server.base_url) as client:
        stream = client.stream(build_request(model="m", input="[words:10000]"))
        texts = sum(1 for delta in stream if delta.kind == "text")
    assert texts == 10_000
    assert stream.result.usage is not None and stream.result.usage.output_tokens == 10_000


def test_the_cli_defaults_and_flags() -> None:
    args = parse_args(["--port", "0", "--fault", "latency_ms:5", "--stream-dialect", "openai", "--reasoning"])
    assert (args.host, args.port, args.stream_dialect, args.reasoning) == ("127.0.0.1", 0, "openai", True)
    assert args.fault.latency_ms == 5
    assert (args.max_body_bytes, args.body_timeout, args.head_timeout) == (8 * 1024 * 1024, 30.0, 10.0)
    args = parse_args(["--max-body-bytes", "1024", "--body-timeout", "2.5", "--head-timeout", "1"])
    assert (args.max_body_bytes, args.body_timeout, args.head_timeout) == (1024, 2.5, 1.0)
    with pytest.raises(SystemExit):
        parse_args(["--fault", "explode"])
    with pytest.raises(SystemExit):
        parse_args(["--max-body-bytes", "0"])


def test_the_cli_prints_its_url_serves_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "GRADIENT_LOCAL_API_KEY": "sk-do-cli-key"}
    command = [sys.executable, "-m", "gradient_integrations.local", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with process:  # closes the pipes (the suite turns ResourceWarnings into errors)
        _serve_and_interrupt(process)


def _serve_and_interrupt(process: subprocess.Popen[str]) -> None:
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        assert "sk-do-cli-key" not in line and "Bearer key required" in line
        url = match.group(1)
        assert httpx.post(url + "/v1/responses", json={"model": "m", "input": "x"}).status_code == 401
        headers = {"authorization": "Bearer sk-do-cli-key"}
        answer = httpx.post(url + "/v1/responses", json={"model": "m", "input": "cli"}, headers=headers)
        assert answer.json()["output"][0]["content"][0]["text"] == "You said: cli"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cli_explains_a_port_it_cannot_bind() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "gradient_integrations.local", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"could not start the local server on 127.0.0.1:{port}" in done.stderr
    assert time.monotonic() - started < 30


def test_a_server_process_serves_with_its_key_and_faults_and_stops() -> None:
    server = LocalServerProcess(api_key="sk-do-child-key", faults="status:418", always_reason=True)
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        headers = {"authorization": "Bearer sk-do-child-key"}
        body = {"model": "m", "input": "x"}
        assert httpx.post(server.base_url + "/v1/responses", json=body).status_code == 401
        assert httpx.post(server.base_url + "/v1/responses", json=body, headers=headers).status_code == 418
        headers["x-gradient-fault"] = "none"
        answer = httpx.post(server.base_url + "/v1/responses", json=body, headers=headers).json()
        assert [item["type"] for item in answer["output"]] == ["reasoning", "message"]
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v1/models")
    assert "sk-do-child-key" not in repr(server)


async def test_a_bug_in_the_server_is_a_plain_500_with_the_do_body(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app()

    def broken(request: object) -> object:
        raise RuntimeError("scripted model exploded")

    app.model.respond = broken  # type: ignore[method-assign,assignment]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local.test") as http:
        response = await http.post("/v1/responses", json={"model": "m", "input": "x"})
    assert response.status_code == 500
    assert response.json()["id"] == "server_error"
    assert "exploded" not in response.text and "Traceback" not in response.text
    assert "scripted model exploded" in caplog.text  # the server's own log keeps the details


def test_stop_while_a_client_is_not_reading_closes_the_servers_side_of_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`stop()` with an answer the client does not read (the server's writes are blocked) forces the exit
    after a second. The server's side of that connection must still be closed: left to the garbage
    collector, it surfaced as a ResourceWarning in some later, unrelated test."""
    server = LocalServer().start()
    body = json.dumps({"model": "m", "input": "[words:3000000] hi", "stream": True}).encode()
    head = (
        "POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(head + body)
        assert client.recv(64).startswith(b"HTTP/1.1 200")  # the answer began; nothing more is read
        time.sleep(0.5)  # the server's send buffer fills
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 10
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks
    assert "Exception in ASGI application" not in caplog.text  # the cancelled answer is no error
