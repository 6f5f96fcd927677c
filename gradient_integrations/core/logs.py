"""Keeping the key out of the logs of the libraries we send through.

httpcore's DEBUG trace prints each response's headers (`receive_response_headers.complete
return_value=(..., [(b'X-Echo', b'Bearer sk-do-...')])`), so a server that echoes the key in a header
would put it in a log. `RedactingFilter` rewrites every record of httpcore's and httpx's loggers through
`errors.redact` (bearer tokens and DO key shapes become `***`), and scrubs a presigned URL's signature
(`X-Amz-Signature=***`: httpx logs each request's URL at INFO, and a Batch Inference upload URL is its own
short-lived credential); `install()` puts it on each of their
loggers (a filter on a logger sees only that logger's own records, so the children are named one by one).
Our own logger never receives header values in the first place.
"""

from __future__ import annotations

import logging
import re

from .errors import redact

__all__ = ["RedactingFilter", "install"]

# httpcore names one logger per layer (`Trace(name, logger, ...)` in httpcore._trace), httpx one.
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


_PRESIGNED = re.compile(r"(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature)=[^&\s'\"]+")


def scrub(text: str) -> str:
    """Key shapes and presigned-URL credentials out of a log line."""
    return _PRESIGNED.sub(r"\1=***", redact(text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with key-shaped text scrubbed; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Put the filter on httpx's and httpcore's loggers (idempotent)."""
    for name in LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
