"""`GradientPredictor` called directly, without Ray (it is a plain callable): the batch contract, per-row
failures, pacing and its arguments, against the session's local server. `test_ray_data.py` runs it on a
Ray cluster."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gradient_integrations import BadRequestError
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer
from gradient_integrations.ray_data import GradientPredictor

pytestmark = pytest.mark.slow  # the Ray suite: `make test` runs it, `make test-fast` does not
MODEL = "llama3.3-70b-instruct"


@pytest.fixture(params=["langchain", "llama_index"])
def make_model(request: pytest.FixtureRequest, local_server: LocalServer) -> Any:
    def make(**options: Any) -> ChatGradient | GradientLLM:
        if request.param == "langchain":
            return ChatGradient(model=MODEL, base_url=local_server.base_url, **options)
        return GradientLLM(model=MODEL, base_url=local_server.base_url, **options)

    return make


@pytest.fixture
def predictors() -> Iterator[list[GradientPredictor]]:
    made: list[GradientPredictor] = []
    yield made
    for predictor in made:
        predictor.close()  # the async pools its calls opened, and its event loop


def test_a_batch_comes_back_in_order_with_its_columns_and_null_prompts_as_errors(
    make_model: Any, predictors: list[GradientPredictor]
) -> None:
    predictor = GradientPredictor(make_model(), max_concurrency=3)
    predictors.append(predictor)
    prompts = [f"row {index}" for index in range(10)]
    prompts[4] = None  # type: ignore[call-overload]

    out = predictor({"id": list(range(10)), "prompt": prompts})

    assert out["id"] == list(range(10))
    assert out["prompt"] == prompts
    assert out["response"] == [None if index == 4 else f"You said: row {index}" for index in range(10)]
    assert out["error"] == [None] * 4 + ["ValueError: prompt is null"] + [None] * 5
    again = predictor({"prompt": ["once more"]})  # the same loop and pool serve the next batch
    assert again["response"] == ["You said: once more"]


def test_a_failed_call_is_its_row_error_or_raised_without_an_error_column(
    make_model: Any, predictors: list[GradientPredictor]
) -> None:
    failing = make_model(default_headers={"x-gradient-fault": "status:400"})  # 400 is not retried
    columns = GradientPredictor(failing, prompt_column="q", output_column="a", error_column="why")
    raising = GradientPredictor(failing, error_column=None)
    predictors += [columns, raising]

    out = columns({"q": ["one", "two"]})
    assert out["a"] == [None, None]
    assert all(error.startswith("BadRequestError: Error code: 400") for error in out["why"])
    with pytest.raises(BadRequestError):
        raising({"prompt": ["one"]})


def test_calls_are_paced_to_the_workers_share_of_the_budget(
    make_model: Any, predictors: list[GradientPredictor]
) -> None:
    model = make_model()
    # 1,200 a minute over 4 workers: this worker starts a call every 0.2 s.
    predictor = GradientPredictor(model, requests_per_minute=1200, workers=4, max_concurrency=8)
    predictors.append(predictor)

    started = time.monotonic()
    out = predictor({"prompt": [f"row {index}" for index in range(5)]})

    assert time.monotonic() - started >= 4 * 0.2 - 0.02
    assert out["response"] == [f"You said: row {index}" for index in range(5)]
    if isinstance(model, ChatGradient):  # LangChain paces through a copy's `rate_limiter`, not the caller's
        assert model.rate_limiter is None and predictor.model.rate_limiter is not None  # type: ignore[union-attr]


def test_the_pacer_is_a_langchain_rate_limiter() -> None:
    predictor = GradientPredictor(ChatGradient(model=MODEL), requests_per_minute=60 * 20, workers=1)
    limiter = predictor.model.rate_limiter  # type: ignore[union-attr]

    assert limiter.acquire(blocking=False) is True  # the one token
    assert limiter.acquire(blocking=False) is False  # refilled only after 0.05 s
    started = time.monotonic()
    assert limiter.acquire() is True
    assert time.monotonic() - started >= 0.03


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be >= 1"),
        ({"workers": 0}, "workers must be >= 1"),
        ({"requests_per_minute": 0}, "requests_per_minute must be > 0"),
    ],
)
def test_bad_arguments_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GradientPredictor(ChatGradient(model=MODEL), **options)


def test_a_model_of_neither_framework_is_refused() -> None:
    with pytest.raises(TypeError, match="got str"):
        GradientPredictor("llama3.3-70b-instruct")  # type: ignore[arg-type]


def test_the_module_imports_and_works_without_ray() -> None:
    probe = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if the extra were not installed: `import ray` raises ImportError\n"
        "from gradient_integrations.ray_data import GradientPredictor, predict\n"
        "from gradient_integrations.llama_index import GradientLLM\n"
        "GradientPredictor(GradientLLM(model='m'), requests_per_minute=60)\n"
        "print(sorted(name for name in sys.modules if name.startswith('ray')))\n"
    )
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "['ray']"  # only the blocked entry itself
