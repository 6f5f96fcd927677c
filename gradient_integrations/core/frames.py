"""Response bytes to a JSON body or SSE event payloads, never holding more than `max_response_bytes`.

httpx decompresses a whole network chunk at once (0.5 MB of gzip can become gigabytes) and its line reader
buffers a line of any length, so the client reads the raw bytes and frames them here instead:

* `Decompressor` undoes `Content-Encoding` (identity, gzip, deflate: what our `Accept-Encoding` offers)
  in pieces of at most `limit` bytes, however much a chunk expands;
* `Body` collects a JSON body, failing as soon as it passes the limit (or keeping its start, for an
  error body's message);
* `EventFramer` splits an event stream into lines (LF, CRLF or CR, split anywhere) and events, per the
  SSE spec (comments skipped, multi-line `data` joined with a newline, an unfinished event at the end
  dropped), failing when one line or one event's data passes the limit.

Failures raise `FrameError`, which the client turns into the typed error for where it happened (a JSON
answer or a stream with what arrived). No I/O here.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = ["ACCEPT_ENCODING", "Body", "Decompressor", "EventFramer", "FrameError"]

# The encodings `Decompressor` undoes; sent as Accept-Encoding so a server never picks another.
ACCEPT_ENCODING = "gzip, deflate"


_PIECE = 256 * 1024


class FrameError(Exception):
    """Bytes that cannot be read within the limits; `too_large` tells a size limit from bad bytes."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def _too_large(what: str, limit: int) -> FrameError:
    return FrameError(
        f"{what} is larger than max_response_bytes ({limit:,} bytes); reading stopped there. "
        "Raise max_response_bytes if such answers are expected.",
        too_large=True,
    )


class Decompressor:
    """Undo one `Content-Encoding` in pieces of at most `limit` bytes (and 256 KiB) each."""

    __slots__ = ("_first", "_limit", "_zlib")

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        # Small pieces: a body stopped at the limit holds at most one piece beyond what it keeps.
        self._limit = min(limit, _PIECE)
        self._zlib: zlib._Decompress | None = None
        self._first = False
        encoding = (content_encoding or "").strip().lower()
        if encoding in ("", "identity"):
            return
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._first = True  # "deflate" is zlib-wrapped by the RFC, raw in practice: try both
        else:
            raise FrameError(f"Unsupported Content-Encoding {content_encoding!r}: expected {ACCEPT_ENCODING}")

    @property
    def identity(self) -> bool:
        """True when the bytes are not encoded (the common case, read without this object)."""
        return self._zlib is None

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of one raw chunk, as pieces of at most `limit` bytes."""
        decoder = self._zlib
        if decoder is None:
            if data:
                yield data
            return
        try:
            if self._first and data:
                self._first = False
                try:
                    piece = decoder.decompress(data, self._limit)
                except zlib.error:
                    decoder = self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    piece = decoder.decompress(data, self._limit)
            else:
                piece = decoder.decompress(data, self._limit)
            while True:
                if piece:
                    yield piece
                if not decoder.unconsumed_tail:
                    return
                piece = decoder.decompress(decoder.unconsumed_tail, self._limit)
        except zlib.error as exc:
            raise FrameError(f"Undecodable compressed body ({exc})") from None

    def flush(self) -> bytes:
        """Whatever the decoder still holds once the body has ended."""
        if self._zlib is None:
            return b""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise FrameError(f"Undecodable compressed body ({exc})") from None


class Body:
    """A body's decoded bytes, collected chunk by chunk up to `limit`.

    Over the limit, `add` raises FrameError, or with `truncate` keeps the first `limit` bytes and returns
    False (enough: stop reading), which is how an error body is read for its message.
    """

    __slots__ = ("_decompressor", "_limit", "_parts", "_size", "_truncate")

    def __init__(self, content_encoding: str | None, limit: int, *, truncate: bool = False) -> None:
        # None for plain bytes, the common case, which then skip the decoder entirely.
        self._decompressor = Decompressor(content_encoding, limit) if content_encoding else None
        if self._decompressor is not None and self._decompressor.identity:
            self._decompressor = None
        self._limit = limit
        self._truncate = truncate
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Take one raw chunk; False once a truncated body has all it keeps."""
        if self._decompressor is None:
            return self._keep(chunk)
        return all(self._keep(piece) for piece in self._decompressor.pieces(chunk))

    def finish(self) -> bytes:
        if self._decompressor is not None:
            self._keep(self._decompressor.flush())
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _keep(self, piece: bytes) -> bool:
        self._size += len(piece)
        if self._size <= self._limit:
            self._parts.append(piece)
            return True
        if not self._truncate:
            raise _too_large("The response body", self._limit)
        self._parts.append(piece[: len(piece) - (self._size - self._limit)])
        return False


class EventFramer:
    """Feed decoded stream bytes; get each completed event's `data` (str), in order."""

    __slots__ = ("_after_cr", "_data", "_limit", "_pending", "_pending_size", "_size")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending: list[bytes] = []  # the pieces of an unfinished line, joined once it ends
        self._pending_size = 0
        self._after_cr = False  # the last line ended with CR: a LF opening the next chunk belongs to it
        self._data: list[bytes] | None = None  # the current event's data lines; None: no data line yet
        self._size = 0

    def feed(self, data: bytes) -> list[str]:
        if self._after_cr:
            self._after_cr = False
            if data[:1] == b"\n":
                data = data[1:]
        if b"\n" not in data and b"\r" not in data:
            # No line ends here: keep the piece without copying what is pending (a long line arrives in
            # many chunks; joining on each would copy it quadratically).
            if data:
                self._hold(data)
            return []
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending, self._pending_size = [], 0
        self._after_cr = data.endswith(b"\r")
        lines = data.splitlines(keepends=True)
        if not lines[-1].endswith((b"\n", b"\r")):
            self._hold(lines.pop())
        events: list[str] = []
        for line in lines:
            line = line.rstrip(b"\r\n")
            if not line:
                if self._data is not None:
                    events.append(b"\n".join(self._data).decode("utf-8", "replace"))
                    self._data = None
                    self._size = 0
                continue
            if line[0] == 0x3A:  # ":" opens a comment (keep-alives)
                continue
            name, _, value = line.partition(b":")
            if name != b"data":
                continue  # event, id, retry: the payload says what it is, so only data is kept
            if value[:1] == b" ":
                value = value[1:]
            self._size += len(value) + 1
            if self._size > self._limit:
                raise _too_large("One stream event", self._limit)
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
        return events

    def _hold(self, piece: bytes) -> None:
        self._pending_size += len(piece)
        if self._pending_size > self._limit:
            raise _too_large("One stream line", self._limit)
        self._pending.append(piece)
