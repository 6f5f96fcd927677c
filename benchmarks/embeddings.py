"""Measurement 9: embedding 10,000 texts over loopback, ours against raw httpx and langchain-openai.

Every contender embeds the same 10,000 short texts (about ten words each) with `qwen3-embedding-0.6b`
(1,024 dimensions) on the local server, which runs in its own process (`LocalServerProcess`) so its work
counts against no one's CPU. Requests of 2,048 texts each (5 requests), the endpoint's maximum:

- raw httpx + json.loads: the floor; one `httpx.Client`, `POST /v1/embeddings`, rows sorted by `index`.
- ours: `GradientEmbeddings.embed_documents` (LangChain) and `GradientEmbedding.get_text_embedding_batch`
  (LlamaIndex), both on the core: input checks, the estimate of each text's tokens against the model's
  limit, JSON floats read and checked.
- langchain-openai `OpenAIEmbeddings` pointed at the same server (`check_embedding_ctx_length=False`: its
  default sends token ids, which DO's schema refuses, and needs tiktoken's downloaded files); the openai
  SDK asks for base64 and decodes it.
- async: `aembed_documents` (ours, 4 requests in flight) against raw `httpx.AsyncClient` with all 5 at once
  and OpenAIEmbeddings' `aembed_documents`.

Every contender's vectors are checked equal (to float32 precision) to the floor's before timing. Timing:
interleaved rounds, median wall seconds per 10,000 texts, and the client process's CPU seconds in the
same calls. Target: ours <= 1.2x raw httpx in wall time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import time
from collections.abc import Awaitable, Callable

import httpx
from langchain_openai import OpenAIEmbeddings

from gradient_integrations.langchain import GradientEmbeddings
from gradient_integrations.llama_index import GradientEmbedding
from gradient_integrations.local import LocalServerProcess

from ._common import FAKE_KEY, Column, Row, Section, Target, median, ratio

MODEL = "qwen3-embedding-0.6b"
BATCH = 2048
RAW = "raw httpx + json.loads"
RAW_ASYNC = "raw httpx.AsyncClient, all batches at once"
LANGCHAIN = "ours: GradientEmbeddings.embed_documents"
LANGCHAIN_ASYNC = "ours: GradientEmbeddings.aembed_documents"
LLAMA = "ours: GradientEmbedding.get_text_embedding_batch"
OPENAI = "langchain-openai OpenAIEmbeddings.embed_documents"
OPENAI_ASYNC = "langchain-openai OpenAIEmbeddings.aembed_documents"
WORDS = (
    "gradient",
    "inference",
    "serverless",
    "embedding",
    "vector",
    "index",
    "query",
    "answer",
    "model",
    "token",
    "retrieval",
    "chunk",
    "document",
    "ocean",
    "cloud",
    "droplet",
    "kubernetes",
    "bucket",
    "database",
    "network",
    "function",
    "agent",
    "tool",
    "stream",
)


def texts(count: int) -> list[str]:
    """Deterministic short texts, about ten words each, all different."""
    return [
        " ".join(WORDS[(index * 7 + step * 3) % len(WORDS)] for step in range(8)) + f" item {index}"
        for index in range(count)
    ]


def _raw(client: httpx.Client, root: str, batch: list[str]) -> list[list[float]]:
    response = client.post(f"{root}/v1/embeddings", json={"model": MODEL, "input": batch})
    rows = json.loads(response.content)["data"]
    return [row["embedding"] for row in sorted(rows, key=lambda row: row["index"])]


def _close_enough(left: list[list[float]], right: list[list[float]]) -> bool:
    return len(left) == len(right) and all(
        len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True))
        for a, b in zip(left, right, strict=True)
    )


def _timed(call: Callable[[], object]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(*, smoke: bool = False) -> list[Section]:
    count, rounds = (300, 1) if smoke else (10_000, 5)
    inputs = texts(count)
    batches = [inputs[start : start + BATCH] for start in range(0, count, BATCH)]
    with LocalServerProcess() as server:
        root = server.base_url
        raw = httpx.Client(timeout=60)
        raw_async: list[httpx.AsyncClient] = []
        lc = GradientEmbeddings(model=MODEL, base_url=root, chunk_size=BATCH)
        li = GradientEmbedding(model_name=MODEL, base_url=root, embed_batch_size=BATCH)
        openai = OpenAIEmbeddings(
            model=MODEL,
            base_url=f"{root}/v1",
            api_key=FAKE_KEY,  # type: ignore[arg-type]
            check_embedding_ctx_length=False,
            chunk_size=BATCH,
        )

        async def raw_gather() -> list[list[float]]:
            if not raw_async:
                raw_async.append(httpx.AsyncClient(timeout=60))
            client = raw_async[0]

            async def one(batch: list[str]) -> list[list[float]]:
                response = await client.post(f"{root}/v1/embeddings", json={"model": MODEL, "input": batch})
                rows = json.loads(response.content)["data"]
                return [row["embedding"] for row in sorted(rows, key=lambda row: row["index"])]

            parts = await asyncio.gather(*(one(batch) for batch in batches))
            return [vector for part in parts for vector in part]

        loop = asyncio.new_event_loop()

        def on_loop(make: Callable[[], Awaitable[list[list[float]]]]) -> Callable[[], list[list[float]]]:
            return lambda: loop.run_until_complete(make())

        contenders: dict[str, Callable[[], list[list[float]]]] = {
            RAW: lambda: [vector for batch in batches for vector in _raw(raw, root, batch)],
            LANGCHAIN: lambda: lc.embed_documents(inputs),
            LLAMA: lambda: li.get_text_embedding_batch(inputs),
            OPENAI: lambda: openai.embed_documents(inputs),
            RAW_ASYNC: on_loop(raw_gather),
            LANGCHAIN_ASYNC: on_loop(lambda: lc.aembed_documents(inputs)),
            OPENAI_ASYNC: on_loop(lambda: openai.aembed_documents(inputs)),
        }
        try:
            reference = contenders[RAW]()
            for name, call in contenders.items():
                if not _close_enough(call(), reference):
                    raise AssertionError(f"{name} did not return the floor's vectors")
            wall: dict[str, list[float]] = {name: [] for name in contenders}
            cpu: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(rounds):
                for name, call in contenders.items():
                    seconds, used = _timed(call)
                    wall[name].append(seconds)
                    cpu[name].append(used)
        finally:
            raw.close()
            lc.close()
            li.close()

            async def close_async() -> None:
                for client in raw_async:
                    await client.aclose()
                await lc.aclose()
                await openai.async_client._client.close()

            loop.run_until_complete(close_async())
            loop.close()
            openai.client._client.close()
    return [_section(count, rounds, wall, cpu)]


def _section(count: int, rounds: int, wall: dict[str, list[float]], cpu: dict[str, list[float]]) -> Section:
    floor = {name: RAW_ASYNC if "aembed" in name or name == RAW_ASYNC else RAW for name in wall}
    rows = [
        Row(
            name,
            {
                "wall_s": median(wall[name]),
                "cpu_s": median(cpu[name]),
                "wall_ratio": ratio(median(wall[name]), median(wall[floor[name]])),
                "cpu_ratio": ratio(median(cpu[name]), median(cpu[floor[name]])),
            },
            note=f"vs {floor[name]}",
        )
        for name in wall
    ]
    targets = [
        Target(
            f"{name} wall time vs {floor[name]} ({count:,} texts)",
            ratio(median(wall[name]), median(wall[floor[name]])),
            1.2,
        )
        for name in (LANGCHAIN, LLAMA, LANGCHAIN_ASYNC)
    ]
    return Section(
        key="embeddings",
        title=f"Embedding {count:,} texts over loopback ({MODEL}, {BATCH:,} per request)",
        method=(__doc__ or "").split("\n\n", 1)[1].strip() + f" Rounds: {rounds}.",
        columns=[
            Column("wall_s", "wall s", 3),
            Column("cpu_s", "client CPU s", 3),
            Column("wall_ratio", "wall vs floor"),
            Column("cpu_ratio", "CPU vs floor"),
        ],
        rows=rows,
        targets=targets,
        notes=[
            "The server's own time (hashing every text into a 1,024-dimension vector) is in every "
            "contender's wall time and in none's CPU time.",
        ],
    )


def main() -> None:
    for section in run():
        for row in section.rows:
            print(f"{row.contender:55s} " + "  ".join(f"{k}={v:.3f}" for k, v in row.values.items()))
        for target in section.targets:
            print(f"target: {target.description}: {target.measured:.2f} <= {target.limit} {target.met}")


if __name__ == "__main__":
    main()
