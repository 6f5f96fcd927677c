"""Fault injection: the `x-gradient-fault` / `--fault` spec language and the counters behind counted faults.

A spec is a comma-separated list of faults, e.g. `rate_limit:2` or `latency_ms:50,chunk_delay_ms:5`:

    rate_limit:n[:s]          429 (DO body, `retry-after: s`, default 0) for n requests, then one success
    server_error:n            500 for n requests, then one success
    status:<code>             always answer <code> (400-599) with DO's error body
    disconnect_before_headers close the connection before any response byte
    disconnect_mid_stream:k   send k stream events, then drop the connection
    stall_mid_stream:k:s      send k stream events, pause s seconds, then continue normally
    malformed_json            the JSON body (or the first stream event) is cut short
    malformed_sse             the first stream event's framing is broken; the stream then ends without [DONE]
    error_chunk:k             send k stream events, then an error event, then end
    truncate_stream:k         send k stream events, then end cleanly without [DONE] or response.completed
    latency_ms:n              wait n ms before answering
    chunk_delay_ms:n          wait n ms before each stream event

Counted faults cycle per scope: of every n+1 requests in one scope, the first n fail and the next succeeds,
so a client that retries enough always gets through and leaves the counter where it started. The scope is
the `x-gradient-fault-key` header when given, else the fault spec plus the request body, so identical
retries share a counter while unrelated requests do not.

On `/v1/responses` and `/v1/chat/completions` a staged `429` (`rate_limit`, `status:429`) carries the caller's
rate-limit headers like every answer there (`quotas`, added by the app).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

__all__ = ["FAULT_USAGE", "FaultCounters", "FaultPlan", "FaultSpecError"]

FAULT_USAGE = (
    "rate_limit:n[:seconds], server_error:n, status:<code>, disconnect_before_headers, "
    "disconnect_mid_stream:k, stall_mid_stream:k:seconds, malformed_json, malformed_sse, error_chunk:k, "
    "truncate_stream:k, latency_ms:n, chunk_delay_ms:n"
)
_FLAGS = ("disconnect_before_headers", "malformed_json", "malformed_sse")
_COUNTS = ("rate_limit", "server_error", "disconnect_mid_stream", "error_chunk", "truncate_stream")
_MILLIS = ("latency_ms", "chunk_delay_ms")


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the fault and the accepted forms."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The parsed faults of one request (or the server default). The empty plan injects nothing."""

    spec: str = ""
    rate_limit: int = 0
    rate_limit_retry_after: float = 0.0
    server_error: int = 0
    status: int | None = None
    disconnect_before_headers: bool = False
    disconnect_mid_stream: int | None = None
    stall_mid_stream: tuple[int, float] | None = None
    malformed_json: bool = False
    malformed_sse: bool = False
    error_chunk: int | None = None
    truncate_stream: int | None = None
    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.spec

    @property
    def counted(self) -> bool:
        return self.rate_limit > 0 or self.server_error > 0

    @property
    def stream_cut(self) -> int | None:
        """The event count after which the stream stops normally (the first of the ending faults)."""
        cuts = [
            k for k in (self.disconnect_mid_stream, self.error_chunk, self.truncate_stream) if k is not None
        ]
        return min(cuts) if cuts else None

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse `a:1,b` forms. Raises `FaultSpecError` naming the bad fault and the accepted forms."""
        fields: dict[str, object] = {}
        parts = [part.strip() for part in spec.replace(";", ",").split(",") if part.strip()]
        if parts == ["none"]:
            return cls()
        for part in parts:
            name, *args = part.split(":")
            fields.update(_parse_one(name.strip(), [arg.strip() for arg in args], part))
        return cls(spec=",".join(parts), **fields)  # type: ignore[arg-type]


def _number(text: str, part: str, *, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise FaultSpecError(f"fault {part!r}: {text!r} is not {kind}; accepted: {FAULT_USAGE}") from None
    if value < 0:
        raise FaultSpecError(f"fault {part!r}: must not be negative")
    return value


def _parse_one(name: str, args: list[str], part: str) -> dict[str, object]:
    def arity(count: int, forms: str) -> None:
        if len(args) != count:
            raise FaultSpecError(f"fault {part!r}: expected {forms}")

    if name in _FLAGS:
        arity(0, name)
        return {name: True}
    if name == "rate_limit":
        if len(args) not in (1, 2):
            raise FaultSpecError(f"fault {part!r}: expected rate_limit:n or rate_limit:n:seconds")
        result: dict[str, object] = {"rate_limit": int(_number(args[0], part, integer=True))}
        if len(args) == 2:
            result["rate_limit_retry_after"] = _number(args[1], part, integer=False)
        return result
    if name in _COUNTS:
        arity(1, f"{name}:<count>")
        return {name: int(_number(args[0], part, integer=True))}
    if name in _MILLIS:
        arity(1, f"{name}:<milliseconds>")
        return {name: _number(args[0], part, integer=False)}
    if name == "status":
        arity(1, "status:<code>")
        code = int(_number(args[0], part, integer=True))
        if not 400 <= code <= 599:
            raise FaultSpecError(f"fault {part!r}: the status must be an error code between 400 and 599")
        return {"status": code}
    if name == "stall_mid_stream":
        arity(2, "stall_mid_stream:<events>:<seconds>")
        events = int(_number(args[0], part, integer=True))
        return {"stall_mid_stream": (events, _number(args[1], part, integer=False))}
    raise FaultSpecError(f"unknown fault {name!r}; accepted: {FAULT_USAGE}")


Outcome = Literal["rate_limit", "server_error"] | None


class FaultCounters:
    """Attempt counters for counted faults, one per scope, bounded so a long run cannot grow them forever."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._attempts: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity

    @staticmethod
    def scope(plan: FaultPlan, explicit_key: str | None, body: bytes) -> str:
        if explicit_key:
            return f"{plan.spec}|key|{explicit_key}"
        return f"{plan.spec}|body|{hashlib.sha256(body).hexdigest()}"

    def next_outcome(self, plan: FaultPlan, scope: str) -> Outcome:
        """Count one attempt in `scope` and say which counted failure (if any) it gets."""
        cycle = plan.rate_limit + plan.server_error + 1
        attempt = self._attempts.pop(scope, 0)
        self._attempts[scope] = (attempt + 1) % cycle
        if len(self._attempts) > self._capacity:
            self._attempts.popitem(last=False)
        if attempt < plan.rate_limit:
            return "rate_limit"
        if attempt < plan.rate_limit + plan.server_error:
            return "server_error"
        return None

    def reset(self) -> None:
        self._attempts.clear()
