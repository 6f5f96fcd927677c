"""The recorded `/v1/embeddings` and `/v1/models` exchanges load, parse, and are still the copied bytes.

The recordings live in `tests/fixtures/recorded/embeddings/`, their provenance in the corpus README's
`embeddings/` section; `embeddings_corpus` imports their loader.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from embeddings_corpus import FOLDER, loader

EXCHANGES = loader.load_exchanges()
IDS = [exchange.name for exchange in EXCHANGES]


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _readme_blobs() -> dict[str, str]:
    """File -> git blob, from the provenance table of the corpus README's `embeddings/` section."""
    readme = (FOLDER.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## `embeddings/`", 1)[1].split("\n## ", 1)[0]
    row = re.compile(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{40})` \|[^|]*\|$", re.M)
    return dict(row.findall(section))


def test_every_recording_is_listed_and_byte_identical_to_its_source() -> None:
    blobs = _readme_blobs()
    assert set(blobs) == set(loader.SOURCES)
    for name, blob in blobs.items():
        assert _git_blob((FOLDER / name).read_bytes()) == blob, f"{name} differs from the copied blob"


def test_the_corpus_covers_what_it_promises() -> None:
    kinds = {(x.producer, x.path, x.status >= 400) for x in EXCHANGES}
    assert ("openai", "/v1/embeddings", False) in kinds
    assert ("vllm", "/v1/embeddings", False) in kinds
    assert ("openai", "/v1/models", False) in kinds
    assert ("vllm", "/v1/models", False) in kinds
    assert ("openai", "/v1/embeddings", True) in kinds
    assert any(x.body_verbatim for x in EXCHANGES if x.producer == "vllm")


@pytest.mark.parametrize("exchange", EXCHANGES, ids=IDS)
def test_each_exchange_parses(exchange: Any) -> None:
    assert exchange.path in ("/v1/embeddings", "/v1/models")
    assert exchange.method == ("GET" if exchange.path == "/v1/models" else "POST")
    payload = exchange.json()
    assert isinstance(payload, dict)
    if exchange.status >= 400:
        assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
        return
    assert exchange.status == 200
    data = payload["data"]
    assert isinstance(data, list) and data
    if exchange.path == "/v1/models":
        assert all(isinstance(model, dict) and isinstance(model["id"], str) and model["id"] for model in data)
        return
    assert isinstance(exchange.request_body, dict)
    assert isinstance(payload["usage"]["prompt_tokens"], int)
    assert sorted(item["index"] for item in data) == list(range(len(data)))
    for item in data:
        vector = item["embedding"]
        if isinstance(vector, str):  # encoding_format=base64: little-endian floats (float64 on old vLLM)
            assert len(base64.b64decode(vector, validate=True)) % 4 == 0
        else:
            assert vector and all(isinstance(value, float) for value in vector)
