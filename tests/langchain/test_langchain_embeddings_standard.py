"""langchain-tests' standard suites for GradientEmbeddings: the unit suite (construction, and construction
from GRADIENT_MODEL_ACCESS_KEY), and the integration suite run against the session's local Gradient-compatible
server (`local_server`: loopback, no key needed, deterministic hashed bag-of-words vectors).

Only the `model` fixture is overridden (it is not a standard test, so langchain-tests'
`test_no_overrides_DO_NOT_OVERRIDE` allows it): the suite's own fixture never closes the model, and a
pooled connection left open is a ResourceWarning, which this project's pytest settings make an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from gradient_integrations.langchain import GradientEmbeddings

MODEL = "qwen3-embedding-0.6b"


class TestGradientEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[GradientEmbeddings]:
        return GradientEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "GRADIENT_MODEL_ACCESS_KEY": "sk-do-embeddings-from-env",
                "GRADIENT_INFERENCE_ENDPOINT": "https://gw.test/v1",
            },
            {"model": MODEL},
            {"api_key": "sk-do-embeddings-from-env", "model": MODEL},
        )

    @pytest.fixture
    def model(self) -> Iterator[GradientEmbeddings]:
        with GradientEmbeddings(**self.embedding_model_params) as model:
            yield model


class TestGradientEmbeddingsIntegration(EmbeddingsIntegrationTests):
    base_url: str = ""

    @pytest.fixture(autouse=True)
    def _use_local_server(self, local_server: Any) -> None:
        # The suite builds models from `embedding_model_params`, a property: point it at the session's server.
        self.base_url = local_server.base_url

    @property
    def embeddings_class(self) -> type[GradientEmbeddings]:
        return GradientEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "base_url": self.base_url, "max_retries": 0}

    @pytest.fixture
    def model(self, _use_local_server: None) -> Iterator[GradientEmbeddings]:
        # Async tests' pools belong to pytest-asyncio's loop and close with it; close() releases the sync one.
        with GradientEmbeddings(**self.embedding_model_params) as model:
            yield model
