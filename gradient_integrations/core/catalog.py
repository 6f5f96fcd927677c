"""What is known about each model: the shipped, dated table, the live `GET /v1/models` list, and prices.

Two sources, kept apart:

- **The table** (`data/models.json`): context window, max output, tool calling, structured output,
  reasoning, embedding dimensions and USD per 1M tokens for every model Gradient is known to serve. It is
  generated from models.dev's DigitalOcean provider data (itself maintained from DO's pricing endpoint) by
  `scripts/update_models_catalog.py`; its `source` says which commit and when. `CATALOG.source` shows it.
  Users extend or correct it with `register_model(...)` (process-wide) or by passing their own
  `ModelCatalog`.
- **The live list** (`GET /v1/models`, read by `read_model_list`): which ids this key can use now. The
  client lists once and keeps it; `check_model_listed` turns it into "unknown model ... did you mean ...".

A model the table does not know keeps working: `ModelCatalog.info` answers with `UNKNOWN_MODEL_DEFAULTS`,
conservative on purpose (an 8,192-token window, no tool calling or structured output claimed, no price),
and `ModelInfo.known` is False so callers can tell a default from a fact. A missing price is `None`:
cost is then unknown, never zero.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import APIResponseValidationError, InvalidRequestError, UnknownModelError

__all__ = [
    "CATALOG",
    "UNKNOWN_MODEL_DEFAULTS",
    "BatchProvider",
    "CatalogSource",
    "ListedModel",
    "ModelCatalog",
    "ModelInfo",
    "batch_provider_for",
    "check_model_listed",
    "read_model_list",
    "register_model",
]

ModelKind = Literal["chat", "embedding"]
BatchProvider = Literal["openai", "anthropic", "none"]


@dataclass(frozen=True)
class ModelInfo:
    """One model's facts. `None` means unknown (never "no"); `known` is False for defaults."""

    id: str
    name: str | None = None
    kind: ModelKind = "chat"
    context_window: int | None = None
    max_output_tokens: int | None = None
    tool_calling: bool | None = None
    structured_output: bool | None = None
    reasoning: bool | None = None
    image_input: bool | None = None
    embedding_dimensions: int | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    open_weights: bool | None = None
    release_date: str | None = None
    # Which Batch Inference `provider` runs this model: "openai" or "anthropic"; "none" when Batch Inference
    # cannot serve it (DO-hosted open models); None when unknown. See `batch_provider_for`.
    batch_provider: BatchProvider | None = None
    source: str | None = None
    known: bool = True

    @property
    def priced(self) -> bool:
        return self.input_usd_per_mtok is not None and (
            self.kind == "embedding" or self.output_usd_per_mtok is not None
        )

    def cost_usd(
        self, input_tokens: int, output_tokens: int = 0, cached_input_tokens: int = 0
    ) -> float | None:
        """Dollars for this usage; None when the model has no price (unknown is not free).

        Cached input tokens are part of `input_tokens` (as the endpoint reports them) and cost the cached
        rate when one is known, else the full input rate.
        """
        if not self.priced:
            return None
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = self.cached_input_usd_per_mtok
        if cached_rate is None:
            cached_rate = self.input_usd_per_mtok
        assert self.input_usd_per_mtok is not None
        dollars = (input_tokens - cached) * self.input_usd_per_mtok + cached * (cached_rate or 0.0)
        dollars += output_tokens * (self.output_usd_per_mtok or 0.0)
        return dollars / 1_000_000


# For ids the table does not know. Small enough to be safe on any model Gradient serves; claims nothing.
UNKNOWN_MODEL_DEFAULTS: Mapping[str, Any] = {
    "context_window": 8192,
    "max_output_tokens": 4096,
    "tool_calling": False,
    "structured_output": False,
    "reasoning": False,
    "known": False,
    "source": "defaults for a model the catalog does not know",
}


@dataclass(frozen=True)
class CatalogSource:
    """Where the shipped table came from (`data/models.json`'s `source`)."""

    name: str
    repository: str
    commit: str
    commit_date: str
    retrieved: str


_FIELDS = {spec.name for spec in dataclasses.fields(ModelInfo)} - {"id", "known"}


def batch_provider_for(model_id: str, entry: Mapping[str, Any]) -> BatchProvider:
    """Which Batch Inference provider serves a model of the shipped table.

    DO's Batch Inference runs OpenAI and Anthropic models only (its job's `provider` enum is `openai` |
    `anthropic`, `inference_create_batch.yml`); DO-hosted open-weights models, `openai-gpt-oss-*` included,
    are not batched. The table's ids name the vendor first (`openai-gpt-5`, `anthropic-claude-...`).
    """
    if entry.get("kind", "chat") != "chat" or entry.get("open_weights") is not False:
        return "none"
    if model_id.startswith("openai-"):
        return "openai"
    if model_id.startswith("anthropic-"):
        return "anthropic"
    return "none"


def _info(model_id: str, entry: Mapping[str, Any]) -> ModelInfo:
    facts = {name: value for name, value in entry.items() if name in _FIELDS}
    facts.setdefault("batch_provider", batch_provider_for(model_id, entry))
    return ModelInfo(id=model_id, **facts)


def _load_shipped() -> tuple[dict[str, ModelInfo], CatalogSource]:
    text = (Path(__file__).parent / "data" / "models.json").read_text(encoding="utf-8")
    data = json.loads(text)
    source = data.get("source", {})
    models = {model_id: _info(model_id, entry) for model_id, entry in data["models"].items()}
    return models, CatalogSource(
        name=source.get("name", ""),
        repository=source.get("repository", ""),
        commit=source.get("commit", ""),
        commit_date=source.get("commit_date", ""),
        retrieved=source.get("retrieved", ""),
    )


class ModelCatalog:
    """Model facts by id. `with_models` returns a new catalog; `register` swaps the table in one step, so a
    reader never sees half an update. `ModelCatalog()` is the shipped table, read on first use (not at
    import: most programs never ask)."""

    def __init__(
        self, models: Mapping[str, ModelInfo] | None = None, source: CatalogSource | None = None
    ) -> None:
        self._models = dict(models) if models is not None else None
        self._source = source
        self._lock = threading.Lock()

    def _table(self) -> dict[str, ModelInfo]:
        table = self._models
        if table is None:
            with self._lock:
                if self._models is None:
                    self._models, self._source = _load_shipped()
                table = self._models
        return table

    @property
    def source(self) -> CatalogSource | None:
        """Where the shipped table came from; None for a catalog built from the caller's entries."""
        self._table()
        return self._source

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._table()

    def __len__(self) -> int:
        return len(self._table())

    def ids(self) -> list[str]:
        return sorted(self._table())

    def get(self, model_id: str) -> ModelInfo | None:
        """The table's entry, or None."""
        return self._table().get(model_id)

    def info(self, model_id: str) -> ModelInfo:
        """The table's entry, or `UNKNOWN_MODEL_DEFAULTS` for this id (`known=False`)."""
        found = self._table().get(model_id)
        if found is not None:
            return found
        return ModelInfo(id=model_id, **UNKNOWN_MODEL_DEFAULTS)

    def with_models(self, *models: ModelInfo) -> ModelCatalog:
        """A new catalog with these entries added or replaced."""
        return ModelCatalog({**self._table(), **{model.id: model for model in models}}, self.source)

    def register(self, model_id: str, **facts: Any) -> ModelInfo:
        """Add or correct one model in this catalog: given facts replace the table's, others are kept."""
        unknown = sorted(set(facts) - _FIELDS)
        if unknown:
            raise InvalidRequestError(
                unknown[0], f"is not a model fact; known facts: {', '.join(sorted(_FIELDS))}"
            )
        table = self._table()
        with self._lock:
            base = table.get(model_id) or ModelInfo(id=model_id, source="registered")
            info = dataclasses.replace(base, **facts, known=True)
            self._models = {**(self._models or table), model_id: info}
        return info


CATALOG = ModelCatalog()


def register_model(model_id: str, **facts: Any) -> ModelInfo:
    """Teach the process-wide catalog a model (or correct one): `register_model("my-model",
    context_window=131072, tool_calling=True, input_usd_per_mtok=0.1, output_usd_per_mtok=0.4)`."""
    return CATALOG.register(model_id, **facts)


# -- the live list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedModel:
    """One entry of `GET /v1/models`."""

    id: str
    owned_by: str | None = None
    created: int | None = None


def read_model_list(body: Mapping[str, Any]) -> tuple[ListedModel, ...]:
    data = body.get("data")
    if not isinstance(data, list):
        raise APIResponseValidationError("Model list answer: no `data` list")
    listed = []
    for position, row in enumerate(data):
        model_id = row.get("id") if isinstance(row, Mapping) else None
        if not isinstance(model_id, str):
            raise APIResponseValidationError(f"Model list answer: data[{position}] has no string `id`")
        owner, created = row.get("owned_by"), row.get("created")
        listed.append(
            ListedModel(
                model_id,
                owner if isinstance(owner, str) else None,
                created if isinstance(created, int) and not isinstance(created, bool) else None,
            )
        )
    return tuple(listed)


def check_model_listed(model: str, listed: tuple[ListedModel, ...]) -> None:
    """UnknownModelError, with the closest listed ids, unless `model` is listed (routers pass through)."""
    ids = [entry.id for entry in listed]
    if model in ids or model.startswith("router:"):
        return
    import difflib  # only when a model is missing: keeps `import gradient_integrations` light

    by_case = {name.lower(): name for name in ids}
    close = difflib.get_close_matches(model.lower(), list(by_case), n=3, cutoff=0.5)
    raise UnknownModelError(model, [by_case[name] for name in close])
