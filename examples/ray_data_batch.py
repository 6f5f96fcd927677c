"""Answer a table of prompts with Ray Data: `ChatGradient` (or `GradientLLM`) in a pool of Ray actors.

    python examples/ray_data_batch.py                      # offline: local server + local 2-CPU Ray
    python examples/ray_data_batch.py --llama-index        # the same through GradientLLM
    GRADIENT_MODEL_ACCESS_KEY=... python examples/ray_data_batch.py --rows 100 --rpm 300

Without an access key in the environment it starts the package's local Gradient-compatible server
(`gradient_integrations.local`, needs the `local` extra) in this process, so it runs offline; with
`GRADIENT_MODEL_ACCESS_KEY` set it calls DigitalOcean's endpoint. Ray: a cluster of its own on this machine
(2 CPUs, no dashboard, no usage stats, on 127.0.0.1 only), or the one `RAY_ADDRESS` names.

What it shows (docs/scale-out.md explains each): the model is built here and pickled to the workers
without its key; the workers read the key from their environment, which `runtime_env` sets; the cluster
stays under `--rpm` calls a minute in all; every row comes back in order, failures in an `error` column.
Needs the `ray` extra: pip install "gradient-integrations[ray,langchain,llama-index,local]".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

MODEL = "llama3.3-70b-instruct"


@contextlib.contextmanager
def endpoint() -> Iterator[tuple[str | None, str | None]]:
    """(base_url, key): DO's endpoint with the key from the environment, else a local server."""
    from gradient_integrations.core.settings import resolve_api_key

    key = resolve_api_key()
    if key is not None:
        yield None, key.get_secret_value()
        return
    from gradient_integrations.local import LocalServer

    with LocalServer() as server:
        print(f"no GRADIENT_MODEL_ACCESS_KEY: using the local server at {server.base_url}")
        yield server.base_url, None


def start_ray() -> None:
    import ray

    if os.environ.get("RAY_ADDRESS"):
        ray.init(configure_logging=False)  # an existing cluster: its resources are its own
        return
    # A single-machine cluster that stays on 127.0.0.1 and reports nothing anywhere.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=24, help="how many prompts (default 24)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors calling the model (default 2)")
    parser.add_argument("--rpm", type=float, default=600, help="cluster-wide calls per minute (default 600)")
    parser.add_argument("--llama-index", action="store_true", help="use GradientLLM instead of ChatGradient")
    args = parser.parse_args(argv)

    import ray
    import ray.data

    from gradient_integrations.ray_data import predict

    with endpoint() as (base_url, key):
        model: Any
        if args.llama_index:
            from gradient_integrations.llama_index import GradientLLM

            model = GradientLLM(model=MODEL, base_url=base_url)
        else:
            from gradient_integrations.langchain import ChatGradient

            model = ChatGradient(model=MODEL, base_url=base_url)
        # The workers' environment: the only way the key reaches them (a pickled model never holds it).
        runtime_env = {"env_vars": {"GRADIENT_MODEL_ACCESS_KEY": key}} if key else None

        start_ray()
        try:
            ray.data.DataContext.get_current().execution_options.preserve_order = True  # rows in order
            rows = [
                {"id": index, "prompt": f"Say something about the number {index}."}
                for index in range(args.rows)
            ]
            started = time.perf_counter()
            answered = predict(
                ray.data.from_items(rows),
                model,
                workers=args.workers,
                batch_size=8,
                runtime_env=runtime_env,
                requests_per_minute=args.rpm,
            ).take_all()
            seconds = time.perf_counter() - started
        finally:
            ray.shutdown()

    for row in answered:
        print(f"{row['id']:>4}  {row['error'] or row['response']}")
    failed = sum(1 for row in answered if row["error"])
    in_order = [row["id"] for row in answered] == list(range(args.rows))
    print(
        f"{len(answered)} rows through {type(model).__name__} on {args.workers} Ray workers in "
        f"{seconds:.1f} s (<= {args.rpm:g} calls/min across the cluster); {failed} failed; "
        f"in order: {in_order}"
    )
    return 1 if failed or not in_order else 0


if __name__ == "__main__":
    sys.exit(main())
