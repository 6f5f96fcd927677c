"""`core/frames.py`: decoding and framing within `max_response_bytes`, as the client relies on it."""

from __future__ import annotations

import gzip
import zlib

import pytest

from gradient_integrations.core.frames import Body, Decompressor, EventFramer, FrameError


def _pieces(encoded: bytes, encoding: str, limit: int = 1 << 20) -> bytes:
    decoder = Decompressor(encoding, limit)
    out = b"".join(
        piece for index in range(0, len(encoded), 7) for piece in decoder.pieces(encoded[index : index + 7])
    )
    return out + decoder.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # RFC 9110's deflate: zlib-wrapped
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # what many servers send: raw deflate
        ("identity", lambda data: data),
        ("", lambda data: data),
    ],
)
def test_each_accepted_encoding_decodes_in_small_steps(encoding: str, encode: object) -> None:
    text = b'{"answer": "' + b"abc" * 5000 + b'"}'
    assert _pieces(encode(text), encoding) == text  # type: ignore[operator]


def test_an_encoding_we_did_not_offer_is_refused_by_name() -> None:
    with pytest.raises(FrameError, match="'br'"):
        Decompressor("br", 100)


def test_a_compressed_body_expands_in_pieces_no_larger_than_the_limit() -> None:
    decoder = Decompressor("gzip", 4096)
    sizes = [len(piece) for piece in decoder.pieces(gzip.compress(b"\0" * 1_000_000))]
    assert sum(sizes) == 1_000_000 and max(sizes) <= 4096


def test_a_body_over_the_limit_fails_and_says_which_setting() -> None:
    body = Body("gzip", 10_000)
    with pytest.raises(FrameError, match="max_response_bytes") as caught:
        body.add(gzip.compress(b"x" * 50_000))
    assert caught.value.too_large


def test_a_truncated_body_keeps_its_first_bytes_and_asks_to_stop() -> None:
    body = Body(None, 10, truncate=True)
    assert body.add(b"12345") is True
    assert body.add(b"67890abc") is False
    assert body.finish() == b"1234567890"


def test_events_split_anywhere_come_out_whole_and_in_order() -> None:
    document = b'data: {"a":1}\r\n\r\n: keep-alive\n\ndata: x\ndata: y\r\revent: e\nid: 3\ndata: z\n\n'
    for size in range(1, len(document) + 1):
        framer = EventFramer(1000)
        events = [e for i in range(0, len(document), size) for e in framer.feed(document[i : i + size])]
        assert events == ['{"a":1}', "x\ny", "z"], size


def test_a_long_line_is_held_without_copying_and_refused_past_the_limit() -> None:
    framer = EventFramer(1000)
    for _ in range(9):
        assert framer.feed(b"data: " + b"x" * 100) == []
    with pytest.raises(FrameError, match="One stream line") as caught:
        framer.feed(b"x" * 200)
    assert caught.value.too_large


def test_an_event_of_many_data_lines_is_bounded_too() -> None:
    framer = EventFramer(100)
    with pytest.raises(FrameError, match="One stream event"):
        framer.feed(b"data: " + b"y" * 60 + b"\n" + b"data: " + b"y" * 60 + b"\n")
