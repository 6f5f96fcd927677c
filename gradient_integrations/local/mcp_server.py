"""`POST /mcp`: a tiny MCP server (JSON-RPC 2.0 over Streamable HTTP, JSON answers only) with fixed tools.

What the `mcp` built-in tool calls in tests and demos, with no network: point an `mcp` tool's `server_url` at
`<base_url>/mcp`. Methods: `initialize`, `ping`, `tools/list` and `tools/call` (notifications such as
`notifications/initialized` get `202 Accepted` and no body). Every answer is `application/json`; `GET` (the
optional server-to-client SSE stream) is not offered (`405`). There are no sessions.

Tools, deterministic (the clock is fixed at `FIXED_NOW`, 2025-01-01 12:00 UTC):

- `add(a, b)`: the sum of two numbers, as text (`"5"`, `"2.5"`);
- `get_time(timezone)`: the fixed time in an IANA zone from a small table (`Europe/Paris`, or `paris`),
  e.g. `2025-01-01T13:00:00+01:00 (Europe/Paris)`; an unknown zone is a tool error (`isError: true`);
- `lookup_order(order_id)`: a made-up order derived from a hash of the id (`Order A-17: shipped, 3 items,
  total $42.50.`).

Auth: with `token` set (the app's `mcp_token`), `tools/call` needs `Authorization: Bearer <token>`, else
`401` with a JSON-RPC error and `WWW-Authenticate: Bearer`; `initialize`, `ping` and `tools/list` stay open,
as for servers that let anyone discover their tools but run them only for a caller they know. The token is
compared in constant time and never logged or echoed. Protocol errors are JSON-RPC errors: `-32700` (not
JSON), `-32600` (not a request; batches too, as MCP 2025-06-18 has none), `-32601` (unknown method),
`-32602` (unknown tool or bad arguments).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

__all__ = ["FIXED_NOW", "MCP_TOOLS", "McpEndpoint", "McpReply"]

PROTOCOL_VERSION = "2025-06-18"
FIXED_NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
_SERVER_INFO = {"name": "gradient-local-mcp", "version": "1.0.0"}
# January offsets (minutes): the clock is fixed in winter, so no daylight-saving rules are needed.
_ZONES = {
    "UTC": 0,
    "Europe/London": 0,
    "Europe/Paris": 60,
    "Europe/Berlin": 60,
    "America/New_York": -300,
    "America/Chicago": -360,
    "America/Los_Angeles": -480,
    "Asia/Kolkata": 330,
    "Asia/Tokyo": 540,
    "Australia/Sydney": 660,
}
_ORDER_STATES = ("processing", "shipped", "delivered", "cancelled")


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


MCP_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": _object({"a": {"type": "number"}, "b": {"type": "number"}}, ["a", "b"]),
        "annotations": {"title": "Add", "readOnlyHint": True},
    },
    {
        "name": "get_time",
        "description": "The current time in a timezone (an IANA name such as Europe/Paris).",
        "inputSchema": _object(
            {"timezone": {"type": "string", "description": "IANA timezone"}}, ["timezone"]
        ),
        "annotations": {"title": "Get time", "readOnlyHint": True},
    },
    {
        "name": "lookup_order",
        "description": "Look up an order's status by its order id.",
        "inputSchema": _object({"order_id": {"type": "string", "minLength": 1}}, ["order_id"]),
        "annotations": {"title": "Look up order", "readOnlyHint": True},
    },
)


class McpReply:
    """An HTTP answer: status, JSON body (None: no body) and extra headers."""

    def __init__(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class _ToolError(Exception):
    """A tool ran and failed: the result says so (`isError: true`)."""


class _BadParams(Exception):
    """Unknown tool or arguments that do not fit its schema: JSON-RPC `-32602`."""


def _error(request_id: Any, code: int, message: str, status: int = 200) -> McpReply:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return McpReply(status, body)


class McpEndpoint:
    """Answers one `POST /mcp` body; `token` (if set) guards `tools/call`."""

    def __init__(self, token: str | None = None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None

    def __repr__(self) -> str:  # never the token
        return f"McpEndpoint(auth={self._expected is not None})"

    def answer(self, raw: bytes, authorization: str | None) -> McpReply:
        try:
            message = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return _error(None, -32700, f"Parse error: the body is not JSON ({type(exc).__name__})", 400)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _error(None, -32600, "Invalid Request: send one JSON-RPC 2.0 object", 400)
        method = message.get("method")
        request_id = message.get("id")
        if not isinstance(method, str):
            return _error(request_id, -32600, "Invalid Request: 'method' must be a string", 400)
        if "id" not in message:  # a notification: nothing to answer
            return McpReply(202, None)
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
            return _error(None, -32600, "Invalid Request: 'id' must be a string or an integer", 400)
        params = message.get("params") or {}
        if not isinstance(params, dict):
            return _error(request_id, -32602, "Invalid params: 'params' must be an object")
        if method == "tools/call" and not self._authorized(authorization):
            reply = _error(request_id, -32001, "Unauthorized: send 'Authorization: Bearer <token>'", 401)
            reply.headers["www-authenticate"] = 'Bearer realm="gradient-local-mcp"'
            return reply
        try:
            result = self._result(method, params)
        except _BadParams as exc:
            return _error(request_id, -32602, f"Invalid params: {exc}")
        except LookupError:
            return _error(request_id, -32601, f"Method not found: {method!r}")
        return McpReply(200, {"jsonrpc": "2.0", "id": request_id, "result": result})

    def _authorized(self, authorization: str | None) -> bool:
        if self._expected is None:
            return True
        scheme, _, token = (authorization or "").encode().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(b"Bearer " + token.strip(), self._expected)

    @staticmethod
    def _result(method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "initialize":
            version = params.get("protocolVersion")
            return {
                "protocolVersion": version if isinstance(version, str) else PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": _SERVER_INFO,
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": list(MCP_TOOLS)}
        if method == "tools/call":
            name, arguments = params.get("name"), params.get("arguments") or {}
            if not isinstance(arguments, dict):
                raise _BadParams("'arguments' must be an object")
            try:
                text = _call(name, arguments)
            except _ToolError as exc:
                return {"content": [{"type": "text", "text": str(exc)}], "isError": True}
            return {"content": [{"type": "text", "text": text}], "isError": False}
        raise LookupError(method)


def _call(name: Any, arguments: dict[str, Any]) -> str:
    if name == "add":
        a, b = (_number(arguments, key) for key in ("a", "b"))
        total = a + b
        return str(int(total)) if float(total).is_integer() and abs(total) < 2**53 else repr(float(total))
    if name == "get_time":
        return _time_in(_string(arguments, "timezone"))
    if name == "lookup_order":
        return _order(_string(arguments, "order_id"))
    raise _BadParams(f"unknown tool {name!r}; tools: {', '.join(tool['name'] for tool in MCP_TOOLS)}")


def _number(arguments: dict[str, Any], key: str) -> float:
    value = arguments.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _BadParams(f"{key!r} must be a number, got {value!r}")
    return value


def _string(arguments: dict[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _BadParams(f"{key!r} must be a non-empty string, got {value!r}")
    return value.strip()[:200]


def _time_in(zone: str) -> str:
    wanted = zone.lower().replace(" ", "_")
    for name, minutes in _ZONES.items():
        if wanted in (name.lower(), name.rsplit("/", 1)[-1].lower()):
            local = FIXED_NOW.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))
            return f"{local.isoformat()} ({name})"
    raise _ToolError(f"unknown timezone {zone!r}; known: {', '.join(_ZONES)}")


def _order(order_id: str) -> str:
    digest = hashlib.blake2b(order_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    state = _ORDER_STATES[digest[0] % len(_ORDER_STATES)]
    items = 1 + digest[1] % 5
    cents = 500 + int.from_bytes(digest[2:5], "big") % 20_000
    plural = "s" if items > 1 else ""
    return f"Order {order_id}: {state}, {items} item{plural}, total ${cents // 100}.{cents % 100:02d}."
