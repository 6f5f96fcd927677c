"""`POST /v1/embeddings` on the local server: the request check, token counting, the vectors and the body.

This module owns everything about the endpoint except HTTP (auth, body limits, faults and the worker
thread are `app`'s): which embedding models exist (`EMBEDDING_MODELS`: name, dimensions, input limit), how
a body is checked (`parse_embeddings_request`), how tokens are counted (`count_tokens`), how a text
becomes a vector (`embed`) and how the answer is written (`embeddings_body`).

The request is DO's `embeddings_request.yml`: `model` and `input` (a string, or 1 to 2,048 strings) are
required, `user` (a string) and `encoding_format` (`float`, the default, or `base64`) optional, and any
other field is refused. Each problem is an `EmbeddingsRequestError` whose message starts with the field,
e.g. `input[3]: ...`: a wrong type, an empty array, more than 2,048 strings, a non-string item, an empty
string (OpenAI answers 400 "'$.input' is invalid" for it), an input longer than the model's limit; an
unknown model is a 404, a chat model a 400.

The vectors are a deterministic stand-in for a real model, a hashed bag of words, so that cosine similarity
follows shared words: the text is lower-cased and split into words (`\\w+`); a tiny list of stop words is
dropped (unless nothing else is left); each word adds `1 + ln(count)` at a dimension and sign picked by a
stable hash of the word (blake2b: Python's `hash()` is salted per process), and its character trigrams
(`<word>` padded, the first `TRIGRAM_CHARS` characters) add `TRIGRAM_WEIGHT` of that, so that "embedding"
and "embeddings" are close. A text without any word character is hashed whole. The vector is L2-normalised
and rounded to float32, so the `float` and `base64` (little-endian float32, as OpenAI sends it) answers
carry the same numbers.

Speed: a text costs a regex pass, a cached lookup of each word's features (their hashes are computed once)
and a dict update per feature; the JSON float list is written from the vector's few non-zero entries.
10,000 short texts take about half a second of CPU; `app` embeds all but small requests in a worker
thread (`is_heavy`).
"""

from __future__ import annotations

import array
import base64
import functools
import hashlib
import math
import re
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..core.catalog import CATALOG
from ..core.tokens import estimate_tokens
from .wire import dumps

__all__ = [
    "DEFAULT_EMBEDDING_MODELS",
    "EMBEDDING_MODELS",
    "MAX_INPUTS",
    "EmbeddingModel",
    "EmbeddingsRequest",
    "EmbeddingsRequestError",
    "count_tokens",
    "embed",
    "embeddings_body",
    "is_heavy",
    "parse_embeddings_request",
    "resolve_embedding_models",
]

EncodingFormat = Literal["float", "base64"]


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    """An embedding model the server answers for: vector size and the longest input, in tokens."""

    name: str
    dimensions: int
    max_input_tokens: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an embedding model needs a non-empty name, got {self.name!r}")
        for field, value in (("dimensions", self.dimensions), ("max_input_tokens", self.max_input_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{self.name}: {field} must be a positive int, got {value!r}")


_SERVED = ("qwen3-embedding-0.6b", "gte-large-en-v1.5", "all-mini-lm-l6-v2")
# Names, dimensions and input limits as the core's catalog has them (models.dev's DigitalOcean provider,
# dimensions from the model cards), so the server refuses exactly what the client's own check refuses.
EMBEDDING_MODELS: Mapping[str, EmbeddingModel] = {
    name: EmbeddingModel(name, info.embedding_dimensions or 1024, info.context_window or 8192)
    for name, info in ((name, CATALOG.info(name)) for name in _SERVED)
}
DEFAULT_EMBEDDING_MODELS = tuple(EMBEDDING_MODELS)
MAX_INPUTS = 2048  # DO's schema: `maxItems: 2048`
FIELDS = ("model", "input", "user", "encoding_format")
ENCODING_FORMATS: tuple[EncodingFormat, ...] = ("float", "base64")
TRIGRAM_WEIGHT = 0.25
TRIGRAM_CHARS = 32  # a word's trigrams come from its first 32 characters: a 10,000-letter "word" costs 30
_STOP_WORDS = "a an and are as at be by for from in is it of on or that the this to was were with"
STOP_WORDS = frozenset(_STOP_WORDS.split(" "))
# Bodies up to this size, holding up to ~16 strings, are answered on the event loop (well under a
# millisecond of work); larger ones in a worker thread.
INLINE_BODY_BYTES = 8 * 1024
INLINE_QUOTES = 40

_WORDS = re.compile(r"\w+")
_LITTLE_ENDIAN = sys.byteorder == "little"
_SIGN_BIT = 1 << 63


class EmbeddingsRequestError(ValueError):
    """A request the endpoint refuses: `status` (400 or 404) and a message that starts with the field."""

    def __init__(self, status: int, field: str, problem: str) -> None:
        self.status = status
        self.field = field
        self.message = f"{field}: {problem}"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """A checked request: the inputs in order with their token counts (each within the model's limit)."""

    model: EmbeddingModel
    inputs: list[str]
    token_counts: list[int]
    encoding_format: EncodingFormat = "float"
    user: str | None = None


def resolve_embedding_models(models: Iterable[str | EmbeddingModel]) -> dict[str, EmbeddingModel]:
    """Models by name: a name must be one of `EMBEDDING_MODELS`; pass an `EmbeddingModel` for another."""
    resolved: dict[str, EmbeddingModel] = {}
    for model in models:
        if isinstance(model, str):
            known = EMBEDDING_MODELS.get(model)
            if known is None:
                raise ValueError(
                    f"unknown embedding model {model!r}: known are {', '.join(EMBEDDING_MODELS)}; pass "
                    "EmbeddingModel(name, dimensions, max_input_tokens) to serve another"
                )
            model = known
        if not isinstance(model, EmbeddingModel):
            raise ValueError(f"embedding models are names or EmbeddingModel, got {model!r}")
        resolved[model.name] = model
    return resolved


def count_tokens(text: str) -> int:
    """This server's token count: the core's offline estimate (`core.tokens`), the one the client checks
    inputs with, so both sides agree on what is over a model's limit."""
    return estimate_tokens(text)


def is_heavy(raw: bytes) -> bool:
    """Whether a request body is worth a worker thread: larger than `INLINE_BODY_BYTES`, or many strings."""
    return len(raw) > INLINE_BODY_BYTES or raw.count(b'"') > INLINE_QUOTES


# -- the request ---------------------------------------------------------------------------------------


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int in Python
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    """What a decoded JSON value was, in JSON's words (`null`, `number`, `array`, ...)."""
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _model(
    body: Mapping[str, Any], models: Mapping[str, EmbeddingModel], chat_models: Collection[str]
) -> EmbeddingModel:
    name = body.get("model")
    listed = ", ".join(models) or "none"
    if "model" not in body:
        raise EmbeddingsRequestError(400, "model", f"required; name an embedding model ({listed})")
    if not isinstance(name, str):
        raise EmbeddingsRequestError(400, "model", f"must be a string, got {_json_type(name)}")
    model = models.get(name)
    if model is not None:
        return model
    if name in chat_models:
        raise EmbeddingsRequestError(
            400, "model", f"{name!r} is a chat model, not an embedding model; embedding models: {listed}"
        )
    raise EmbeddingsRequestError(
        404, "model", f"{name!r} is not a model on this server; embedding models: {listed}"
    )


def _inputs(body: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The input strings and the field name of each (`input`, or `input[i]` for an array)."""
    value = body.get("input")
    shape = f"a string or an array of 1 to {MAX_INPUTS} strings"
    if "input" not in body:
        raise EmbeddingsRequestError(400, "input", f"required; {shape}")
    if isinstance(value, str):
        texts, names = [value], ["input"]
    elif isinstance(value, list):
        if not value:
            raise EmbeddingsRequestError(400, "input", "must hold at least one string, got an empty array")
        if len(value) > MAX_INPUTS:
            raise EmbeddingsRequestError(
                400, "input", f"at most {MAX_INPUTS} strings per request, got {len(value)}; split them"
            )
        for index, item in enumerate(value):
            if not isinstance(item, str):
                hint = "; send text, not token ids" if isinstance(item, (int, list)) else ""
                raise EmbeddingsRequestError(
                    400, f"input[{index}]", f"must be a string, got {_json_type(item)}{hint}"
                )
        texts, names = value, [f"input[{index}]" for index in range(len(value))]
    else:
        raise EmbeddingsRequestError(400, "input", f"must be {shape}, got {_json_type(value)}")
    for text, name in zip(texts, names, strict=True):
        if not text:
            raise EmbeddingsRequestError(
                400, name, "'$.input' is invalid: an empty string cannot be embedded; drop it or send text"
            )
    return texts, names


def parse_embeddings_request(
    body: Mapping[str, Any],
    models: Mapping[str, EmbeddingModel],
    chat_models: Collection[str] = (),
) -> EmbeddingsRequest:
    """Check a JSON body against DO's `embeddings_request.yml` and the model's input limit.

    `models` are the embedding models served; a name in `chat_models` gets a 400 that says it is a chat
    model, any other unknown name a 404. Raises `EmbeddingsRequestError` naming the first bad field."""
    for key in body:
        if key not in FIELDS:
            raise EmbeddingsRequestError(
                400, key, f"unknown field; POST /v1/embeddings takes only {', '.join(FIELDS)}"
            )
    texts, names = _inputs(body)
    user = body.get("user")
    if "user" in body and not isinstance(user, str):
        raise EmbeddingsRequestError(400, "user", f"must be a string, got {_json_type(user)}")
    encoding = body.get("encoding_format", "float")
    if encoding not in ENCODING_FORMATS:
        shown = repr(encoding) if isinstance(encoding, str) else _json_type(encoding)
        raise EmbeddingsRequestError(400, "encoding_format", f"must be 'float' or 'base64', got {shown}")
    model = _model(body, models, chat_models)
    counts = [count_tokens(text) for text in texts]
    limit = model.max_input_tokens
    for name, count in zip(names, counts, strict=True):
        if count > limit:
            raise EmbeddingsRequestError(
                400,
                name,
                f"this model's maximum context length is {limit} tokens, however you requested {count} "
                f"tokens ({count} in your prompt; 0 for the completion); shorten {name} or split it",
            )
    return EmbeddingsRequest(model, texts, counts, "base64" if encoding == "base64" else "float", user)


# -- the vectors ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _hash(feature: str) -> int:
    """A stable 64-bit hash: the same in every process, unlike `hash()`."""
    return int.from_bytes(
        hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


@functools.lru_cache(maxsize=1 << 15)
def _features(word: str, dimensions: int) -> tuple[tuple[int, float], ...]:
    """A word's features as (dimension, signed weight): the word itself (weight 1), then its character
    trigrams (`TRIGRAM_WEIGHT` each). The hash picks the dimension (modulo) and the sign (its top bit)."""
    padded = f"<{word[:TRIGRAM_CHARS]}>"
    trigrams = [_hash(padded[start : start + 3]) for start in range(len(padded) - 2)]
    weighted = [(_hash(word), 1.0), *((code, TRIGRAM_WEIGHT) for code in trigrams)]
    return tuple((code % dimensions, -weight if code & _SIGN_BIT else weight) for code, weight in weighted)


def _sparse(text: str, dimensions: int) -> tuple[list[int], list[float]]:
    """The non-zero entries (indices, float32 values) of the unit vector of `text`."""
    counts = Counter(_WORDS.findall(text.lower()))
    content = [item for item in counts.items() if item[0] not in STOP_WORDS] or list(counts.items())
    vector: dict[int, float] = {}
    get = vector.get
    for word, count in content:
        if count == 1:
            for index, weight in _features(word, dimensions):
                vector[index] = get(index, 0.0) + weight
            continue
        tf = 1.0 + math.log(count)  # sublinear: a word said twice is not twice the topic
        for index, weight in _features(word, dimensions):
            vector[index] = get(index, 0.0) + weight * tf
    norm = math.sqrt(sum([value * value for value in vector.values()]))
    if norm == 0.0:  # no words, or (very rarely) features that cancel out: hash the whole text
        vector, norm = {_hash(text) % dimensions: 1.0}, 1.0
    indices = [index for index, value in vector.items() if value]
    values = array.array("f", [vector[index] / norm for index in indices]).tolist()  # float32-rounded
    return indices, values


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector of `text` (float32 values), `dimensions` long: the same for the same text, always."""
    vector = [0.0] * dimensions
    for index, value in zip(*_sparse(text, dimensions), strict=True):
        vector[index] = value
    return vector


def _float_json(indices: list[int], values: list[float], dimensions: int) -> str:
    parts = ["0.0"] * dimensions  # what json.dumps writes for 0.0; the few non-zero entries as it would
    written = {value: repr(value) for value in set(values)}  # a vector holds few distinct values
    for index, value in zip(indices, values, strict=True):
        parts[index] = written[value]
    return "[" + ",".join(parts) + "]"


def _base64_json(indices: list[int], values: list[float], dimensions: int) -> str:
    floats = array.array("f", bytes(4 * dimensions))
    for index, value in zip(indices, values, strict=True):
        floats[index] = value
    if not _LITTLE_ENDIAN:
        floats.byteswap()
    return '"' + base64.b64encode(floats.tobytes()).decode("ascii") + '"'


def embeddings_body(request: EmbeddingsRequest) -> bytes:
    """The answer, DO's `embeddings_response.yml`: `data` in input order, `usage` the summed token counts."""
    dimensions = request.model.dimensions
    write = _base64_json if request.encoding_format == "base64" else _float_json
    rows = []
    for index, text in enumerate(request.inputs):
        vector = write(*_sparse(text, dimensions), dimensions)
        rows.append(f'{{"object":"embedding","index":{index},"embedding":{vector}}}')
    tokens = sum(request.token_counts)
    usage = dumps({"prompt_tokens": tokens, "total_tokens": tokens})
    model = dumps(request.model.name)
    return ('{"object":"list","data":[' + ",".join(rows) + f'],"model":{model},"usage":{usage}}}').encode()
