"""Measurement 10: a 50,000-request Batch Inference job on the local server, ours against raw httpx.

Each contender submits the same 50,000 short prompts for `openai-gpt-5-nano` as one job on the local server
(in its own process, `LocalServerProcess`, so its processing counts against no one's CPU), waits, then reads
every answer back in input order:

- raw httpx + json: the floor. Lines written with `json.dumps` from plain dicts, the four API calls and the
  presigned upload by hand, the output file downloaded whole and each line's text picked out with
  `json.loads`, ordered by `custom_id`. No input checks, no typed results.
- ours: `ChatGradient.submit_batch(prompts)` then `job.wait().results()` (every line built by the live
  request builder and checked first; every answer read by the core's response reader into an `AIMessage`
  with usage), and `GradientLLM.submit_batch` (a `ChatResponse` per prompt).
- for scale, the same adapters' live calls: `ChatGradient.invoke` / `GradientLLM.chat` of the same prompts
  on an in-process transport that answers at once (5,000 calls, scaled to the batch's size): the CPU a
  live call spends in the client, which a batch item should not exceed.

Each contender runs in a fresh child process, so its peak RSS is its own: "peak RSS growth" is the high-water
mark of the child's resident memory over what it held once the prompts were built, compared with the size
of the JSONL input file (the bytes any client must at least hold or stream). CPU seconds are the child's,
split into submitting (build, check, upload, create) and reading the results (download, parse, convert);
waiting is excluded (it is the server's time). Target: a batch item costs ours no more CPU than the same
adapter's live call (ratio <= 1.0); the ratio to the floor is shown, and explained in the notes.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from typing import Any

import httpx

from gradient_integrations.local import LocalServerProcess

from ._common import (
    FAKE_KEY,
    FAKE_ROOT,
    Column,
    Row,
    Section,
    Target,
    canned_transport,
    encode,
    ratio,
    responses_body,
)

MODEL = "openai-gpt-5-nano"
RAW = "raw httpx + json"
LANGCHAIN = "ours: ChatGradient.submit_batch + results()"
LLAMA = "ours: GradientLLM.submit_batch + results()"
LIVE_LANGCHAIN = "for scale: ChatGradient.invoke, in-process transport"
LIVE_LLAMA = "for scale: GradientLLM.chat, in-process transport"
CONTENDERS = (RAW, LANGCHAIN, LLAMA, LIVE_LANGCHAIN, LIVE_LLAMA)
LIVE_OF = {LANGCHAIN: LIVE_LANGCHAIN, LLAMA: LIVE_LLAMA}
LIVE_CALLS = 5_000


def prompts(count: int) -> list[str]:
    return [
        f"Classify the sentiment of review {index}: the product arrived on time." for index in range(count)
    ]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _raw(root: str, texts: list[str]) -> tuple[list[str], int, float, float]:
    started = time.process_time()
    lines = b"".join(
        json.dumps(
            {
                "custom_id": f"r-{index}",
                "method": "POST",
                "url": "/v1/responses",
                "body": {"model": MODEL, "input": text},
            }
        ).encode()
        + b"\n"
        for index, text in enumerate(texts)
    )
    with httpx.Client(base_url=root, timeout=120) as api, httpx.Client(timeout=120) as store:
        intent = api.post("/v1/batches/files", json={"file_name": "raw.jsonl"}).json()
        store.put(intent["upload_url"], content=lines).raise_for_status()
        job = api.post(
            "/v1/batches",
            json={
                "file_id": intent["file_id"],
                "provider": "openai",
                "endpoint": "/v1/responses",
                "completion_window": "24h",
                "request_id": f"raw-{time.time_ns()}",
            },
        ).json()
        submit_cpu = time.process_time() - started
        while job["status"] not in ("completed", "failed", "cancelled", "expired"):
            time.sleep(0.05)
            job = api.get(f"/v1/batches/{job['batch_id']}").json()
        started = time.process_time()
        links = api.get(f"/v1/batches/{job['batch_id']}/results").json()
        content = store.get(links["output_file_url"]).content
    answers: dict[int, str] = {}
    for line in content.splitlines():
        entry = json.loads(line)
        body = entry["response"]["body"]
        text = "".join(
            part["text"]
            for item in body["output"]
            if item["type"] == "message"
            for part in item["content"]
            if part["type"] == "output_text"
        )
        answers[int(entry["custom_id"][2:])] = text
    ordered = [answers[index] for index in range(len(texts))]
    return ordered, len(lines), submit_cpu, time.process_time() - started


def _model(name: str, root: str) -> Any:
    """The adapter, built (and its framework imported) before the memory baseline is taken."""
    if name == LANGCHAIN:
        from gradient_integrations.langchain import ChatGradient

        return ChatGradient(model=MODEL, base_url=root)
    from gradient_integrations.llama_index import GradientLLM

    return GradientLLM(model=MODEL, base_url=root)


def _ours(name: str, model: Any, texts: list[str]) -> tuple[list[str], int, float, float]:
    started = time.process_time()
    job = model.submit_batch(texts)
    submit_cpu = time.process_time() - started
    job.wait(poll_interval=0.05)
    started = time.process_time()
    results = job.results()
    results_cpu = time.process_time() - started
    model.close()
    texts_out = [r.content if name == LANGCHAIN else r.message.content for r in results]
    return texts_out, 0, submit_cpu, results_cpu  # the JSONL size is the floor's (ours is no larger)


def _live(name: str, count: int) -> tuple[float, float]:
    """Client CPU seconds of `count` live calls (measured on at most LIVE_CALLS, scaled), and RSS growth."""
    texts = prompts(min(count, LIVE_CALLS))
    http = httpx.Client(transport=canned_transport({"/v1/responses": encode(responses_body())}))
    if name == LIVE_LANGCHAIN:
        from gradient_integrations.langchain import ChatGradient

        chat = ChatGradient(model=MODEL, base_url=FAKE_ROOT, api_key=FAKE_KEY, http_client=http)
        call: Any = chat.invoke
    else:
        from llama_index.core.llms import ChatMessage

        from gradient_integrations.llama_index import GradientLLM

        llm = GradientLLM(model=MODEL, base_url=FAKE_ROOT, api_key=FAKE_KEY, http_client=http)

        def call(text: str) -> Any:
            return llm.chat([ChatMessage(role="user", content=text)])

    call(texts[0])  # warm: first-call imports and caches are not per-request costs
    before = _rss_mb()
    started = time.process_time()
    for text in texts:
        call(text)
    used = time.process_time() - started
    http.close()
    return used * count / len(texts), _rss_mb() - before


def _child(name: str, root: str, count: int, out: Any) -> None:
    if name in (LIVE_LANGCHAIN, LIVE_LLAMA):
        cpu, growth = _live(name, count)
        out.send({"answers_ok": True, "jsonl_bytes": 0, "live_cpu": cpu, "rss_growth_mb": growth})
        out.close()
        return
    texts = prompts(count)
    model = None if name == RAW else _model(name, root)
    before = _rss_mb()
    if model is None:
        answers, size, submit_cpu, results_cpu = _raw(root, texts)
    else:
        answers, size, submit_cpu, results_cpu = _ours(name, model, texts)
    out.send(
        {
            "answers_ok": answers == [f"You said: {text}" for text in texts],
            "jsonl_bytes": size,
            "submit_cpu": submit_cpu,
            "results_cpu": results_cpu,
            "rss_growth_mb": _rss_mb() - before,
        }
    )
    out.close()


def _in_child(name: str, root: str, count: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(name, root, count, send))
    process.start()
    send.close()
    try:
        figures: dict[str, Any] = receive.recv()
    finally:
        process.join(timeout=600)
        receive.close()
    if process.exitcode != 0:
        raise AssertionError(f"{name} child exited with {process.exitcode}")
    return figures


def run(*, smoke: bool = False) -> list[Section]:
    count = 500 if smoke else 50_000
    with LocalServerProcess() as server:
        figures = {name: _in_child(name, server.base_url, count) for name in CONTENDERS}
    for name, figure in figures.items():
        if not figure["answers_ok"]:
            raise AssertionError(f"{name} did not give every answer in input order")
    jsonl = figures[RAW]["jsonl_bytes"]
    return [_section(count, jsonl, figures)]


def _section(count: int, jsonl: int, figures: dict[str, dict[str, Any]]) -> Section:
    def cpu(name: str) -> float:
        figure = figures[name]
        return (
            float(figure["live_cpu"])
            if "live_cpu" in figure
            else figure["submit_cpu"] + figure["results_cpu"]
        )

    rows = []
    for name, figure in figures.items():
        values = {"cpu_s": cpu(name), "cpu_ratio": ratio(cpu(name), cpu(RAW))}
        if "live_cpu" not in figure:
            values |= {
                "submit_cpu_s": figure["submit_cpu"],
                "results_cpu_s": figure["results_cpu"],
                "rss_mb": figure["rss_growth_mb"],
                "rss_vs_jsonl": figure["rss_growth_mb"] * 1024 * 1024 / jsonl,
            }
        if name in LIVE_OF:
            values["vs_live"] = ratio(cpu(name), cpu(LIVE_OF[name]))
        note = f"{LIVE_CALLS:,} calls, scaled to {count:,}" if "live_cpu" in figure else ""
        rows.append(Row(name, values, note=note))
    targets = [
        Target(
            f"{name} CPU per item vs {LIVE_OF[name]} ({count:,} requests)",
            ratio(cpu(name), cpu(LIVE_OF[name])),
            1.0,
        )
        for name in (LANGCHAIN, LLAMA)
    ]
    return Section(
        key="batch_inference",
        title=f"A {count:,}-request Batch Inference job on the local server ({jsonl / 1e6:.1f} MB of JSONL)",
        method=(__doc__ or "").split("\n\n", 1)[1].strip(),
        columns=[
            Column("cpu_s", "client CPU s", 3),
            Column("submit_cpu_s", "submit CPU s", 3),
            Column("results_cpu_s", "results CPU s", 3),
            Column("cpu_ratio", "CPU vs floor"),
            Column("vs_live", "CPU vs live calls"),
            Column("rss_mb", "peak RSS growth MB", 1),
            Column("rss_vs_jsonl", "RSS growth / JSONL size"),
        ],
        rows=rows,
        targets=targets,
        notes=[
            "The floor does no per-item work. Ours checks every request with the live request builder "
            "(pydantic, LangChain's input conversion) and builds a typed AIMessage / ChatResponse with usage "
            "per answer: the work a live call does, once per item, without the HTTP exchange.",
            "GradientLLM's ChatResponse keeps `raw` (the answer's body), as llama-index's type does: "
            "hence its larger memory.",
        ],
    )


def main() -> None:
    for section in run():
        for row in section.rows:
            print(f"{row.contender:50s} " + "  ".join(f"{k}={v:.3f}" for k, v in row.values.items()))
        for target in section.targets:
            print(f"target: {target.description}: {target.measured:.2f} <= {target.limit} {target.met}")


if __name__ == "__main__":
    main()
