"""`gradient_integrations.ray_data` on a real local Ray cluster, against a local server that requires a key.

One cluster for the module (`ray.init(num_cpus=2)`, no dashboard, no usage stats, bound to 127.0.0.1: Ray
startup is the slow part on a 2-core machine) and one `LocalServer` in this process, requiring `KEY`. This
process's environment holds no access key while the cluster starts, so the workers inherit none: the key
reaches them only through `runtime_env={"env_vars": ...}`, and the models are built here *with* the key,
so their pickles are checked not to carry it. Each adapter runs in `map_batches` through `predict` (the
callable class on a pool of 2 actors), and the server records when each request arrived and how it was
answered, so retries and the cluster-wide rate limit are checked where they land, not where they are sent.

(No `__init__.py` here on purpose: `tests/ray` as a package would shadow the `ray` package.)
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gradient_integrations.core.secrets import API_KEY_ENV_VARS
from gradient_integrations.core.settings import ENDPOINT_ENV_VAR
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import GradientApp, LocalServer
from gradient_integrations.ray_data import GradientPredictor, predict

# Not `importorskip`: `ray` must not be imported before the `cluster` fixture has set its environment.
if importlib.util.find_spec("ray") is None:
    pytest.skip("needs the ray extra: pip install 'gradient-integrations[ray]'", allow_module_level=True)

pytestmark = pytest.mark.slow  # the Ray suite: `make test` runs it, `make test-fast` does not
KEY = "ray-test-key-" + os.urandom(8).hex()
MODEL = "llama3.3-70b-instruct"
ROWS = 40
WORKERS = 2
RPM = 1200  # the cluster's budget: 20 calls a second, 10 per worker
# How much later than its pacer slot a request may reach the server (scheduling on a busy 2-core box).
ARRIVAL_SLACK = 0.25
MAX_BODY = 32 * 1024  # the server's body limit: one oversized row fails with 413, which is not retried
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ray_data_batch.py"


@dataclass
class Seen:
    at: float  # time.monotonic() when the request reached the app
    status: int
    fault: str | None


@dataclass
class Cluster:
    server: LocalServer
    address: str
    requests: list[Seen] = field(default_factory=list)


def _recording(cluster_app: list[GradientApp], seen: list[Seen]) -> Any:
    """`GradientApp.__call__` that also notes each `/v1/responses` request of the one app under test."""
    original = GradientApp.__call__

    async def call(self: GradientApp, scope: Any, receive: Any, send: Any) -> None:
        if self not in cluster_app or scope.get("path") != "/v1/responses":
            await original(self, scope, receive, send)
            return
        arrived = time.monotonic()
        status: list[int] = []

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        headers = dict(scope.get("headers") or [])
        fault = headers.get(b"x-gradient-fault")
        try:
            await original(self, scope, receive, noting)
        finally:
            seen.append(Seen(arrived, status[0] if status else 0, fault.decode() if fault else None))

    return call


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as patch:
        for name in (*API_KEY_ENV_VARS, ENDPOINT_ENV_VAR, "RAY_ADDRESS"):
            patch.delenv(name, raising=False)  # the workers inherit this environment: no key in it
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage report to anyone
        # Read when `ray` is first imported: a single-machine cluster binds and talks on 127.0.0.1 only,
        # instead of the address of the machine's network interface.
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray
        import ray.data

        server = LocalServer(api_key=KEY, max_body_bytes=MAX_BODY)
        state = Cluster(server=server, address="")
        apps = [server.app]
        patch.setattr(GradientApp, "__call__", _recording(apps, state.requests))
        with warnings.catch_warnings():
            # Ray's own: creating the DataContext reads three of its deprecated settings (ray 2.60).
            for setting in ("use_push_based_shuffle", "use_polars", "use_arrow_tensor_v2"):
                warnings.filterwarnings("ignore", f"`{setting}` is deprecated", DeprecationWarning)
            context = ray.data.DataContext.get_current()
        patch.setattr(context.execution_options, "preserve_order", True)  # rows come back in input order
        with server:
            ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
            try:
                state.address = ray.get_runtime_context().gcs_address
                assert state.address.startswith("127.0.0.1:"), state.address  # loopback only
                yield state
            finally:
                ray.shutdown()


@pytest.fixture
def requests(cluster: Cluster) -> list[Seen]:
    cluster.requests.clear()
    return cluster.requests


def _rows(count: int, *, oversized: int | None = None) -> list[dict[str, Any]]:
    rows = [{"id": index, "prompt": f"row {index}"} for index in range(count)]
    if oversized is not None:
        rows[oversized]["prompt"] = "x " * MAX_BODY
    return rows


def _assert_paced(starts: list[float], *, rpm: float, workers: int) -> None:
    """The documented bound: in any window of t seconds the cluster starts at most workers + rpm*t/60
    calls (here measured on arrival, so each window may stretch by `ARRIVAL_SLACK`)."""
    starts = sorted(starts)
    rate = rpm / 60
    for first, last in itertools.combinations(range(len(starts)), 2):
        window = starts[last] - starts[first]
        assert last - first + 1 <= workers + rate * (window + ARRIVAL_SLACK), (first, last, window)
    assert starts[-1] - starts[0] >= (len(starts) - workers) / rate - ARRIVAL_SLACK


def _env() -> dict[str, Any]:
    return {"env_vars": {"GRADIENT_MODEL_ACCESS_KEY": KEY}}


def test_models_and_predictors_pickle_without_the_key(cluster: Cluster) -> None:
    import ray.cloudpickle

    chat = ChatGradient(model=MODEL, base_url=cluster.server.base_url, api_key=KEY)
    llm = GradientLLM(model=MODEL, base_url=cluster.server.base_url, api_key=KEY)
    predictors = (GradientPredictor(chat, requests_per_minute=RPM, workers=2), GradientPredictor(llm))
    for thing in (chat, llm, *predictors):
        for dumps in (pickle.dumps, ray.cloudpickle.dumps):  # Ray ships constructor arguments with the latter
            pickled = dumps(thing)
            assert KEY.encode() not in pickled
            assert cluster.server.base_url.encode() in pickled  # the endpoint does travel
    assert all(os.environ.get(name) is None for name in API_KEY_ENV_VARS)  # nor do the workers inherit it


def test_chat_gradient_on_two_workers_keeps_order_retries_429s_and_holds_the_rate(
    cluster: Cluster, requests: list[Seen]
) -> None:
    import ray.data

    # Every call's first attempt is answered 429 (retry-after: 0) and its retry succeeds.
    chat = ChatGradient(
        model=MODEL,
        base_url=cluster.server.base_url,
        api_key=KEY,  # dropped by the pickle: the workers read theirs from runtime_env
        default_headers={"x-gradient-fault": "rate_limit:1"},
    )
    dataset = predict(
        ray.data.from_items(_rows(ROWS)),
        chat,
        workers=WORKERS,
        batch_size=8,
        runtime_env=_env(),
        requests_per_minute=RPM,
    )
    rows = dataset.take_all()

    assert [row["id"] for row in rows] == list(range(ROWS))
    assert [row["response"] for row in rows] == [f"You said: row {index}" for index in range(ROWS)]
    assert all(row["error"] is None for row in rows)
    statuses = [seen.status for seen in requests]
    assert (statuses.count(429), statuses.count(200), len(statuses)) == (ROWS, ROWS, 2 * ROWS)
    assert {seen.fault for seen in requests} == {"rate_limit:1"}
    # The limit counts calls: each call's first attempt is its 429; the retries come on top.
    _assert_paced([seen.at for seen in requests if seen.status == 429], rpm=RPM, workers=WORKERS)


def test_gradient_llm_on_two_workers_keeps_order_holds_the_rate_and_reports_a_failed_row(
    cluster: Cluster, requests: list[Seen]
) -> None:
    import ray.data

    llm = GradientLLM(model=MODEL, base_url=cluster.server.base_url, api_key=KEY)
    rows = predict(
        ray.data.from_items(_rows(ROWS, oversized=17)),
        llm,
        workers=WORKERS,
        batch_size=8,
        runtime_env=_env(),
        requests_per_minute=RPM,
        max_concurrency=4,
    ).take_all()

    assert [row["id"] for row in rows] == list(range(ROWS))
    expected = [None if index == 17 else f"You said: row {index}" for index in range(ROWS)]
    assert [row["response"] for row in rows] == expected
    assert [index for index, row in enumerate(rows) if row["error"] is not None] == [17]
    assert "413" in rows[17]["error"] and rows[17]["error"].startswith("APIStatusError")
    statuses = sorted(seen.status for seen in requests)
    assert statuses == [200] * (ROWS - 1) + [413]  # a 413 is not retried; nothing else failed
    _assert_paced([seen.at for seen in requests], rpm=RPM, workers=WORKERS)


def test_the_example_runs_on_this_cluster(cluster: Cluster) -> None:
    env = {name: value for name, value in os.environ.items() if name not in API_KEY_ENV_VARS}
    env["RAY_ADDRESS"] = cluster.address  # the example joins the module's cluster instead of starting one
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--rows", "12", "--rpm", "1200"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "using the local server" in done.stdout
    assert "12 rows through ChatGradient on 2 Ray workers" in done.stdout
    assert "0 failed; in order: True" in done.stdout
    assert "  11  You said: Say something about the number 11." in done.stdout
