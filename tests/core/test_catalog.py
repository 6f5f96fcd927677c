"""The model catalog: shipped facts, unknown-model defaults, registering, prices, and `GET /v1/models`."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from fakes import FakeEndpoint, json_reply

from gradient_integrations.core import (
    CATALOG,
    APIResponseValidationError,
    InvalidRequestError,
    ModelCatalog,
    ModelInfo,
    UnknownModelError,
)
from gradient_integrations.core.catalog import check_model_listed, read_model_list

from ._support import make_client

LISTED = {
    "object": "list",
    "data": [
        {"id": "openai-gpt-oss-20b", "object": "model", "created": 1, "owned_by": "digitalocean"},
        {"id": "openai-gpt-oss-120b", "object": "model", "created": 1, "owned_by": "digitalocean"},
        {"id": "llama3.3-70b-instruct", "object": "model", "created": 1, "owned_by": "digitalocean"},
    ],
}


def test_shipped_table_knows_the_common_models_and_says_where_it_came_from() -> None:
    gpt = CATALOG.info("openai-gpt-oss-20b")
    assert gpt.known and gpt.kind == "chat"
    assert gpt.context_window and gpt.context_window >= 100_000
    assert gpt.tool_calling is True
    embedding = CATALOG.info("qwen3-embedding-0.6b")
    assert embedding.kind == "embedding" and embedding.embedding_dimensions == 1024
    source = CATALOG.source
    assert source is not None and len(source.commit) == 40 and source.retrieved


def test_unknown_models_get_conservative_defaults_marked_unknown() -> None:
    info = CATALOG.info("some-model-from-next-year")
    assert not info.known
    assert info.context_window == 8192
    assert info.tool_calling is False
    assert info.cost_usd(1000, 1000) is None  # unknown, not free


def test_cost_uses_input_output_and_cached_rates() -> None:
    info = ModelInfo("m", input_usd_per_mtok=1.0, output_usd_per_mtok=4.0, cached_input_usd_per_mtok=0.5)
    # 1,000,000 input of which 200,000 cached, 500,000 output.
    assert info.cost_usd(1_000_000, 500_000, 200_000) == pytest.approx(0.8 + 0.1 + 2.0)
    no_cache_rate = ModelInfo("m", input_usd_per_mtok=1.0, output_usd_per_mtok=4.0)
    assert no_cache_rate.cost_usd(1_000_000, 0, 200_000) == pytest.approx(1.0)


def test_register_adds_and_corrects_without_touching_other_catalogs() -> None:
    catalog = ModelCatalog({"a": ModelInfo("a", context_window=10)})
    corrected = catalog.register("a", tool_calling=True)
    assert corrected.context_window == 10 and corrected.tool_calling is True
    added = catalog.register("router:mine", context_window=64_000)
    assert added.known and catalog.info("router:mine").context_window == 64_000
    assert "router:mine" not in CATALOG
    with pytest.raises(InvalidRequestError, match="context_windw"):
        catalog.register("a", context_windw=1)


def test_with_models_returns_a_new_catalog() -> None:
    extended = CATALOG.with_models(ModelInfo("mine", context_window=5))
    assert extended.info("mine").context_window == 5
    assert "mine" not in CATALOG
    assert len(extended) == len(CATALOG) + 1


def test_model_list_is_read_and_cached_per_client() -> None:
    script = FakeEndpoint(json_reply(LISTED))
    with make_client(script) as client:
        first = client.list_models()
        second = client.list_models()
        assert [model.id for model in first] == [
            "openai-gpt-oss-20b",
            "openai-gpt-oss-120b",
            "llama3.3-70b-instruct",
        ]
        assert second is first
        client.list_models(refresh=True)
    assert script.count == 2
    assert script.requests[0].method == "GET" and script.requests[0].url.path == "/v1/models"
    assert "content-type" not in script.requests[0].headers


async def test_async_model_list_shares_the_cache() -> None:
    script = FakeEndpoint(json_reply(LISTED))
    client = make_client(script)
    try:
        await client.alist_models()
        client.list_models()
    finally:
        await client.aclose()
    assert script.count == 1


@pytest.mark.parametrize(
    ("model", "suggested"),
    [("openai-gpt-oss-20", "openai-gpt-oss-20b"), ("Llama3.3-70B-Instruct", "llama3.3-70b-instruct")],
)
def test_unknown_model_names_the_closest_listed_ids(model: str, suggested: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        check_model_listed(model, read_model_list(LISTED))
    assert caught.value.field == "model"
    assert suggested in caught.value.suggestions
    assert "did you mean" in str(caught.value)
    assert repr(model) in str(caught.value)
    # Picklable, as every error is.
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


def test_listed_and_router_models_pass() -> None:
    listed = read_model_list(LISTED)
    check_model_listed("openai-gpt-oss-120b", listed)
    check_model_listed("router:support", listed)


@pytest.mark.parametrize("body", [{"data": None}, {"data": [{"object": "model"}]}, {"data": [1]}])
def test_a_model_list_that_is_not_one_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError):
        read_model_list(body)
