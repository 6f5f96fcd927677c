"""`POST /v1/embeddings` in both directions: the checked request, the batching rule and the one reader.

The endpoint (DO's `inference_create_embeddings.yml`, OpenAI-compatible) takes `model`, `input` (one string
or 1-2,048 strings), `user` and `encoding_format`, and rejects any other field. Here:

- `check_texts` refuses what the endpoint would, before anything is sent, naming the index: a non-string,
  an empty string (OpenAI answers 400), a lone surrogate (not UTF-8), and, when the model's input limit is
  known, an input whose estimated token count is over it.
- `batches` splits the texts into requests of at most `batch_size` (<= 2,048) strings, in order.
- `EmbeddingRequest.body()` is the wire body. Vectors are asked for as JSON floats by default: base64
  is smaller and faster to decode, but what it encodes differs by server (OpenAI: little-endian float32;
  vLLM, the engine behind Gradient's open models, sent float64 -- see the recording in
  `tests/fixtures/recorded/embeddings/`). `encoding_format="base64"` is there for servers known to be
  OpenAI-like; its reader tells float64 from float32 by which one gives plausible numbers. A server that
  ignores the field and sends floats is read all the same.
- `read_embeddings` turns a body into vectors in input order (the `index` of each row decides, not its
  position) and checks it is what was asked for: one row per input, every index once, one dimension.

The I/O (retries, time limits, errors) is the client's: `ResponsesClient.embed` / `aembed` send one
`EmbeddingRequest`; `embed_all` / `aembed_all` below send a whole list, the async one with at most
`max_concurrency` requests in flight.
"""

from __future__ import annotations

import array
import asyncio
import base64
import binascii
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .catalog import CATALOG
from .errors import APIResponseValidationError, InvalidRequestError
from .tokens import estimate_tokens
from .usage import active_tallies

if TYPE_CHECKING:
    from .client import ResponsesClient

__all__ = [
    "DEFAULT_EMBEDDING_CONCURRENCY",
    "MAX_EMBEDDING_INPUTS",
    "EmbeddingCall",
    "EmbeddingRequest",
    "EmbeddingResult",
    "EmbeddingUsage",
    "aembed_all",
    "batches",
    "check_texts",
    "embed_all",
    "read_embeddings",
]

MAX_EMBEDDING_INPUTS = 2048  # per request: DO's schema (`maxItems: 2048`), as OpenAI's
DEFAULT_EMBEDDING_CONCURRENCY = 4
EncodingFormat = Literal["float", "base64"]
_LITTLE_ENDIAN = sys.byteorder == "little"


@dataclass(frozen=True)
class EmbeddingUsage:
    """Tokens billed for the inputs (`prompt_tokens` == `total_tokens` on this endpoint)."""

    prompt_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: EmbeddingUsage) -> EmbeddingUsage:
        return EmbeddingUsage(
            self.prompt_tokens + other.prompt_tokens, self.total_tokens + other.total_tokens
        )


@dataclass(frozen=True)
class EmbeddingResult:
    """Vectors in input order, the model that made them and the tokens billed."""

    vectors: list[list[float]]
    model: str
    usage: EmbeddingUsage = field(default_factory=EmbeddingUsage)


@dataclass(frozen=True)
class EmbeddingRequest:
    """One request: at most 2,048 texts already checked by `check_texts`."""

    model: str
    texts: Sequence[str]
    user: str | None = None
    encoding_format: EncodingFormat = "float"

    def body(self) -> bytes:
        body: dict[str, Any] = {"model": self.model, "input": list(self.texts)}
        if self.user is not None:
            body["user"] = self.user
        body["encoding_format"] = self.encoding_format
        try:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, UnicodeEncodeError):  # a request built directly, without `check_texts`
            check_texts(self.texts, field="input")  # raises, naming the text
            raise


def check_model(model: object) -> str:
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequestError("model", "must be a non-empty model id, e.g. 'qwen3-embedding-0.6b'")
    return model


def check_count(name: str, value: object, highest: int, why: str = "") -> int:
    """`value` as an int from 1 to `highest`, or InvalidRequestError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise InvalidRequestError(name, f"must be an int from 1 to {highest}{why}, got {value!r}")
    return value


def check_texts(
    texts: Sequence[str],
    *,
    field: str = "texts",
    max_input_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    one: bool = False,
) -> list[str]:
    """The texts as a list, or InvalidRequestError naming the first bad one (`field[i]`, or `field` for
    `one` text): raised before any request."""
    if isinstance(texts, str):
        raise InvalidRequestError(field, "must be a list of strings; pass [text] to embed one string")
    checked = list(texts)

    def name(index: int) -> str:
        return field if one else f"{field}[{index}]"

    for index, text in enumerate(checked):
        if not isinstance(text, str):
            raise InvalidRequestError(
                name(index), f"must be a str, got {type(text).__name__}; convert it to text first"
            )
        if not text:
            raise InvalidRequestError(
                name(index), "is an empty string, which the endpoint rejects; drop it or embed ' '"
            )
    try:
        "\x00".join(checked).encode()
    except UnicodeEncodeError:
        index = next(i for i, text in enumerate(checked) if not _is_utf8(text))
        raise InvalidRequestError(
            name(index), "contains a lone surrogate (\\ud800-\\udfff), which UTF-8 cannot carry"
        ) from None
    if max_input_tokens is not None and count_tokens is not None:
        for index, text in enumerate(checked):
            # A text this short cannot be over: skip counting it (most inputs, most of the time).
            if len(text) <= max_input_tokens:
                continue
            estimate = count_tokens(text)
            if estimate > max_input_tokens:
                raise InvalidRequestError(
                    name(index),
                    f"is about {estimate:,} tokens, over the model's input limit of {max_input_tokens:,}; "
                    "split it into smaller chunks (e.g. a text splitter) before embedding",
                )
    return checked


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def batches(texts: Sequence[str], batch_size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `batch_size` texts, in order."""
    for start in range(0, len(texts), batch_size):
        yield texts[start : start + batch_size]


def _invalid(message: str) -> APIResponseValidationError:
    return APIResponseValidationError(f"Embeddings answer: {message}")


_FLOAT = frozenset({float})
_NUMBER = frozenset({float, int})
# No embedding model puts a component anywhere near this: a vector that has one was decoded wrongly.
_PLAUSIBLE = 1e4


def _plausible(values: list[float]) -> bool:
    return all(math.isfinite(value) and -_PLAUSIBLE < value < _PLAUSIBLE for value in values)


def _upcast(singles: list[float]) -> bool:
    """float32s widened to float64 (vLLM's case) leave every low word zero and, a model's components
    never being exactly 0.0, every high word non-zero: read as float32, zeros and non-zeros alternate
    exactly. A float32 embedding does not (a sparse one has zeros at odd places too)."""
    # Too short a vector to tell (a 2-dim [0.0, x] is a fine float32 pair): no real model has one.
    return len(singles) >= 16 and not any(singles[0::2]) and all(singles[1::2])


def _from_base64(embedding: str, position: int) -> list[float]:
    """OpenAI's base64 is little-endian float32; vLLM's was float64 (before its `embed_dtype` option):
    a payload that reads as widened or implausible float32s, but as plausible float64s, is float64."""
    try:
        raw = base64.b64decode(embedding, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"data[{position}].embedding is a string but not base64") from None
    if len(raw) % 4:
        raise _invalid(f"data[{position}].embedding is {len(raw)} bytes, not float32s")
    singles = array.array("f", raw)
    if not _LITTLE_ENDIAN:
        singles.byteswap()
    values = singles.tolist()
    if len(raw) % 8 == 0 and (_upcast(values) or not _plausible(values)):
        doubles = array.array("d", raw)
        if not _LITTLE_ENDIAN:
            doubles.byteswap()
        if _plausible(doubles.tolist()):
            return doubles.tolist()
    return values


def _vector(embedding: object, position: int) -> list[float]:
    if isinstance(embedding, list):
        kinds = set(map(type, embedding))  # one C-speed pass; a float list is the common case
        if kinds <= _FLOAT:
            return embedding
        if kinds <= _NUMBER:
            return [float(value) for value in embedding]
    elif isinstance(embedding, str):
        return _from_base64(embedding, position)
    raise _invalid(f"data[{position}].embedding is neither a list of numbers nor a base64 string")


def _usage(body: Mapping[str, Any]) -> EmbeddingUsage:
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        return EmbeddingUsage()
    prompt = usage.get("prompt_tokens")
    total = usage.get("total_tokens", prompt)
    prompt = prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else 0
    total = total if isinstance(total, int) and not isinstance(total, bool) else prompt
    return EmbeddingUsage(prompt, total)


def read_embeddings(body: Mapping[str, Any], expected: int, model: str) -> EmbeddingResult:
    """The vectors of one answer in input order; APIResponseValidationError if it is not that answer."""
    data = body.get("data")
    if not isinstance(data, list):
        raise _invalid("no `data` list")
    if len(data) != expected:
        raise _invalid(f"{len(data)} embeddings for {expected} inputs")
    vectors: list[list[float] | None] = [None] * expected
    for position, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise _invalid(f"data[{position}] is not an object")
        index = row.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < expected:
            raise _invalid(f"data[{position}].index is {index!r}, not an input position below {expected}")
        if vectors[index] is not None:
            raise _invalid(f"input {index} has two embeddings")
        vectors[index] = _vector(row.get("embedding"), position)
    ordered = [vector for vector in vectors if vector is not None]
    if ordered and any(len(vector) != len(ordered[0]) for vector in ordered):
        raise _invalid("the vectors do not all have the same dimension")
    answered = body.get("model")
    return EmbeddingResult(ordered, answered if isinstance(answered, str) else model, _usage(body))


def _join(parts: Sequence[EmbeddingResult], model: str) -> EmbeddingResult:
    vectors: list[list[float]] = []
    usage = EmbeddingUsage()
    for part in parts:
        vectors.extend(part.vectors)
        usage = usage + part.usage
    return EmbeddingResult(vectors, parts[0].model if parts else model, usage)


def embed_all(
    client: ResponsesClient,
    model: str,
    texts: Sequence[str],
    *,
    batch_size: int = MAX_EMBEDDING_INPUTS,
    user: str | None = None,
    encoding_format: EncodingFormat = "float",
    extra_headers: Mapping[str, str] | None = None,
) -> EmbeddingResult:
    """Every text's vector, in order: one request per `batch_size` texts, one after another."""
    parts = [
        client.embed(EmbeddingRequest(model, part, user, encoding_format), extra_headers=extra_headers)
        for part in batches(texts, batch_size)
    ]
    return _join(parts, model)


async def aembed_all(
    client: ResponsesClient,
    model: str,
    texts: Sequence[str],
    *,
    batch_size: int = MAX_EMBEDDING_INPUTS,
    max_concurrency: int = DEFAULT_EMBEDDING_CONCURRENCY,
    user: str | None = None,
    encoding_format: EncodingFormat = "float",
    extra_headers: Mapping[str, str] | None = None,
) -> EmbeddingResult:
    """Async `embed_all`, with at most `max_concurrency` requests in flight; the first failure cancels
    the rest and is raised."""
    requests = [EmbeddingRequest(model, part, user, encoding_format) for part in batches(texts, batch_size)]
    if len(requests) <= 1:
        parts = [await client.aembed(request, extra_headers=extra_headers) for request in requests]
        return _join(parts, model)
    gate = asyncio.Semaphore(max_concurrency)

    async def one(request: EmbeddingRequest) -> EmbeddingResult:
        async with gate:
            return await client.aembed(request, extra_headers=extra_headers)

    tasks = [asyncio.ensure_future(one(request)) for request in requests]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # let them unwind before raising
        raise
    return _join(results, model)


@dataclass(frozen=True)
class EmbeddingCall:
    """What both adapters' embedding models send: one model's options, checked once at construction.

    `run` / `arun` check the texts (naming `field[i]`), then embed them in batches; the over-long check
    uses the catalog's input limit for the model (none for a model the catalog does not know) and the
    core's offline token estimate.
    """

    model: str
    batch_size: int = MAX_EMBEDDING_INPUTS
    max_concurrency: int = DEFAULT_EMBEDDING_CONCURRENCY
    user: str | None = None
    encoding_format: EncodingFormat = "float"
    check_length: bool = True

    def __post_init__(self) -> None:
        check_model(self.model)
        check_count(
            "batch_size", self.batch_size, MAX_EMBEDDING_INPUTS, " (the endpoint's per-request limit)"
        )
        check_count("max_concurrency", self.max_concurrency, 64)
        if self.encoding_format not in ("float", "base64"):
            raise InvalidRequestError("encoding_format", "must be 'float' or 'base64'")

    def texts(self, texts: Sequence[str], field: str, one: bool = False) -> list[str]:
        """The texts checked (`check_texts`), against the model's input limit when the catalog has one."""
        info = CATALOG.get(self.model) if self.check_length else None
        limit = info.context_window if info is not None and info.kind == "embedding" else None
        return check_texts(texts, field=field, max_input_tokens=limit, count_tokens=estimate_tokens, one=one)

    def run(
        self, client: ResponsesClient, texts: Sequence[str], *, field: str = "texts", one: bool = False
    ) -> EmbeddingResult:
        """Check the texts, then `send` them."""
        return self.send(client, self.texts(texts, field, one))

    async def arun(
        self, client: ResponsesClient, texts: Sequence[str], *, field: str = "texts", one: bool = False
    ) -> EmbeddingResult:
        """Async `run`."""
        return await self.asend(client, self.texts(texts, field, one))

    def send(self, client: ResponsesClient, checked: list[str]) -> EmbeddingResult:
        """Embed texts already checked by `texts`, in batches, and report the tokens to the open trackers."""
        if not checked:
            return EmbeddingResult([], self.model)
        result = embed_all(
            client,
            self.model,
            checked,
            batch_size=self.batch_size,
            user=self.user,
            encoding_format=self.encoding_format,
        )
        return _counted(result)

    async def asend(self, client: ResponsesClient, checked: list[str]) -> EmbeddingResult:
        """Async `send`, at most `max_concurrency` requests in flight."""
        if not checked:
            return EmbeddingResult([], self.model)
        result = await aembed_all(
            client,
            self.model,
            checked,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            user=self.user,
            encoding_format=self.encoding_format,
        )
        return _counted(result)


def _counted(result: EmbeddingResult) -> EmbeddingResult:
    """Report the tokens to the cost trackers open in this context (embeddings have no framework event
    that carries usage, in LangChain or LlamaIndex)."""
    for tally in active_tallies():
        tally.add_embedding(result.model, result.usage.prompt_tokens)
    return result
