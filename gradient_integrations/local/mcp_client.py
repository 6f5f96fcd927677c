"""Calling an MCP server for the `mcp` built-in tool: loopback only, JSON-RPC 2.0 over Streamable HTTP.

DigitalOcean calls the `server_url` of an `mcp` tool from its side; the local server does the same, but only
for loopback URLs (`localhost`, `127.0.0.0/8`, `::1`; checked without DNS), so a test never reaches the
network: `loopback_problem` says why a URL is refused. Each use opens one short-lived `httpx.AsyncClient`
(`trust_env=False`: no proxy from the environment may carry a loopback call elsewhere), runs `initialize`,
`notifications/initialized` (carrying the `Mcp-Session-Id` the server may hand out), then `tools/list` or
`tools/call`, each within `TIMEOUT` seconds; answers may be JSON or an SSE stream (the JSON-RPC answer is
the `data:` of the event whose `id` matches), at most `MAX_ANSWER_BYTES`.

The `authorization` value goes out only as `Authorization: Bearer <value>` and appears in no message, log
line or exception: a failure is an `McpFailure` whose text names the HTTP status or the JSON-RPC error.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core.frames import EventFramer

__all__ = ["MAX_ANSWER_BYTES", "TIMEOUT", "McpFailure", "McpSession", "loopback_problem"]

TIMEOUT = 5.0
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_TOOLS = 128
_PROTOCOL_VERSION = "2025-06-18"
_CLIENT_INFO = {"name": "gradient-local-server", "version": "1.0.0"}


class McpFailure(Exception):
    """The MCP server could not be used; the message is safe to show (it holds no credential)."""


def loopback_problem(url: str) -> str | None:
    """Why the local server will not call `url` (None: it is an http(s) URL of a loopback host)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"must be an http(s) URL, got {parts.scheme or 'no'} scheme"
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"the local server reaches only loopback MCP servers (localhost, 127.0.0.1, ::1), not {host!r}; "
        "serve the MCP server on this machine (the local server's own is at <base_url>/mcp)"
    )


class McpSession:
    """One conversation with one MCP server: `async with McpSession(url, authorization) as session`."""

    def __init__(self, url: str, authorization: str | None) -> None:
        self.url = url
        headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": _PROTOCOL_VERSION,
        }
        if authorization:
            token = authorization.strip()
            headers["authorization"] = token if token.lower().startswith("bearer ") else f"Bearer {token}"
        self._client = httpx.AsyncClient(headers=headers, timeout=TIMEOUT, trust_env=False)
        self._ids = itertools.count(1)
        self._started = False

    def __repr__(self) -> str:  # never the authorization
        return f"McpSession({self.url!r})"

    async def __aenter__(self) -> McpSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def list_tools(self) -> list[dict[str, Any]]:
        """The server's tools (`name`, `description`, `inputSchema`, `annotations`), at most `MAX_TOOLS`."""
        result = await self._request("tools/list", {})
        tools = result.get("tools")
        if not isinstance(tools, list):
            raise McpFailure("tools/list answered without a 'tools' list")
        return [
            tool for tool in tools[:MAX_TOOLS] if isinstance(tool, dict) and isinstance(tool.get("name"), str)
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's text output; a tool error (`isError`) or a protocol error raises `McpFailure`."""
        result = await self._request("tools/call", {"name": name, "arguments": arguments})
        content = result.get("content")
        texts = [
            part["text"]
            for part in content or []
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        text = "\n".join(texts) if texts else json.dumps(result.get("structuredContent", content))
        if result.get("isError"):
            raise McpFailure(f"tool {name!r} failed: {text}")
        return text

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        params = {"protocolVersion": _PROTOCOL_VERSION, "capabilities": {}, "clientInfo": _CLIENT_INFO}
        await self._request("initialize", params, start=False)
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, expect=None)

    async def _request(self, method: str, params: dict[str, Any], *, start: bool = True) -> dict[str, Any]:
        if start:
            await self._start()
        request_id = next(self._ids)
        answer = await self._post(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}, request_id
        )
        if not isinstance(answer, dict):
            raise McpFailure(f"{method}: the server sent no JSON-RPC answer")
        error = answer.get("error")
        if isinstance(error, dict):
            raise McpFailure(
                f"{method}: JSON-RPC error {error.get('code')}: {str(error.get('message'))[:500]}"
            )
        result = answer.get("result")
        if not isinstance(result, dict):
            raise McpFailure(f"{method}: the answer has no 'result' object")
        return result

    async def _post(self, message: dict[str, Any], expect: int | None) -> Any:
        try:
            async with self._client.stream("POST", self.url, json=message) as response:
                body = await _read_capped(response)
        except httpx.TimeoutException:
            raise McpFailure(f"the MCP server did not answer within {TIMEOUT:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise McpFailure(f"cannot reach the MCP server ({type(exc).__name__})") from None
        session = response.headers.get("mcp-session-id")
        if session and "mcp-session-id" not in self._client.headers:
            self._client.headers["mcp-session-id"] = session
        if response.status_code >= 400:
            phrase = response.reason_phrase or "error"
            raise McpFailure(f"HTTP {response.status_code} {phrase} from the MCP server")
        if expect is None:
            return None
        if "text/event-stream" in response.headers.get("content-type", ""):
            return _from_event_stream(body, expect)
        try:
            return json.loads(body)
        except ValueError:
            raise McpFailure("the MCP server's answer is not JSON") from None


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise McpFailure(f"the MCP server's answer is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _from_event_stream(body: bytes, request_id: int) -> Any:
    """The JSON-RPC answer to `request_id` among an SSE stream's events (read by the client's own framer;
    the blank line added ends a last event the server did not end)."""
    for data in EventFramer(len(body) + 2).feed(body + b"\n\n"):
        try:
            message = json.loads(data)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("id") == request_id:
            return message
    raise McpFailure("the MCP server's event stream holds no answer to the request")
