"""The recorded Batch API files in `tests/fixtures/recorded/batch/`, as data.

Provenance (repository, commit, path, license, git blob, sha256) is in the corpus README's `batch/` section.
Two kinds of recording:

1. Result files (`*.jsonl`): the output file (`output_file_id`) or error file (`error_file_id`) of one
   batch, one JSON object per line. `load_result_files()` parses every line and says which endpoint the
   lines answer (`/v1/responses` or `/v1/chat/completions`) and who produced them.
2. VCR cassettes of OpenAI's batch endpoints (`*.yml`, from ruby-openai). `load_job_responses()` gives each
   recorded HTTP response (method, URL, status, parsed JSON body: a batch object or a list page) and
   `load_jobs()` flattens them into the batch job objects they contain.

`INPUT_ORDER` holds, where the source repository also committed the batch *input* file, the `custom_id`s of
that input in file order (read from the input file at the commit given next to each entry). It is not a
recording of a server; it lets the tests state what the servers did with the order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "batch"

RESPONSES = "/v1/responses"
CHAT = "/v1/chat/completions"


@dataclass(frozen=True)
class Source:
    producer: str  # the server that wrote the file: "openai", "vllm" or "groq"
    kind: str  # "output" (output_file_id), "error" (error_file_id) or "jobs" (batch job cassette)
    endpoint: str | None  # the endpoint the result lines answer; None for job cassettes


SOURCES: dict[str, Source] = {
    "openai_responses_o3-mini_output.jsonl": Source("openai", "output", RESPONSES),
    "openai_responses_gpt-5.4_output.jsonl": Source("openai", "output", RESPONSES),
    "openai_responses_gpt-5.4_error.jsonl": Source("openai", "error", RESPONSES),
    "openai_chat_gpt-4o_output.jsonl": Source("openai", "output", CHAT),
    "openai_chat_gpt-5-nano_output.jsonl": Source("openai", "output", CHAT),
    "openai_chat_error.jsonl": Source("openai", "error", CHAT),
    "groq_chat_llama-3.1-8b_output.jsonl": Source("groq", "output", CHAT),
    "vllm_chat_llava_output.jsonl": Source("vllm", "output", CHAT),
    "vllm_chat_llava_duplicate_custom_id_output.jsonl": Source("vllm", "output", CHAT),
    "ruby-openai_batches_create.yml": Source("openai", "jobs", None),
    "ruby-openai_batches_retrieve.yml": Source("openai", "jobs", None),
    "ruby-openai_batches_cancel.yml": Source("openai", "jobs", None),
    "ruby-openai_batches_list.yml": Source("openai", "jobs", None),
    "ruby-openai_batches_list_2024.yml": Source("openai", "jobs", None),
}

_NUDGE_INPUT = (  # ShrootBuck/nudge@9c28ead:input.jsonl (the batch behind both gpt-5.4 files)
    "cmniaf6xm00001xc6kdoddqka",
    "cmniaf6xo00021xc6h42vwxqt",
    "cmniaf6xo00031xc6n84gjl5k",
    "cmniaf6xo00041xc6ap4fqffz",
    "cmniaf6xq00061xc6g6yzqenx",
)

INPUT_ORDER: dict[str, tuple[str, ...]] = {
    # koumatsumoto/study-OpenAPI-responses-20250402@12a6589:data/output.jsonl (the generated batch input)
    "openai_responses_o3-mini_output.jsonl": tuple(f"req-{i}" for i in range(1, 11)),
    "openai_responses_gpt-5.4_output.jsonl": _NUDGE_INPUT,
    "openai_responses_gpt-5.4_error.jsonl": _NUDGE_INPUT,
    # TimeEscaper/genai_navirag@26a5adb:notebooks/batch_input.jsonl
    "openai_chat_gpt-4o_output.jsonl": tuple(f"request-{i}" for i in range(65)),
    # cho-groq/batch-processing@90b5230:batch_input.jsonl
    "groq_chat_llama-3.1-8b_output.jsonl": ("request-1", "request-2", "request-3"),
    # jimenaRL/llmBenchmarks@63eabef:in2p3/offline/test_for_llava.jsonl
    "vllm_chat_llava_output.jsonl": tuple(f"request-{i}" for i in range(14)),
    # jimenaRL/llmBenchmarks@3bfaeef:in2p3/offline/test_for_llava.jsonl (the same id on every line)
    "vllm_chat_llava_duplicate_custom_id_output.jsonl": ("request-1",) * 14,
}


@dataclass(frozen=True)
class ResultFile:
    name: str
    producer: str
    kind: str  # "output" or "error"
    endpoint: str  # RESPONSES or CHAT
    lines: tuple[dict[str, Any], ...]  # every line, parsed, in file order
    raw: bytes  # the file's bytes

    @property
    def custom_ids(self) -> list[str]:
        return [line["custom_id"] for line in self.lines]


@dataclass(frozen=True)
class JobResponse:
    """One recorded HTTP response of a batch endpoint."""

    source: str
    interaction: int
    method: str  # upper case
    url: str
    status: int
    body: dict[str, Any]  # a batch object, or a list page {"object": "list", "data": [...], ...}

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self.body["data"]) if self.body.get("object") == "list" else [self.body]


def _check_folder() -> None:
    present = {path.name for path in FOLDER.iterdir() if path.is_file()}
    if present != set(SOURCES):
        unlisted, absent = sorted(present - set(SOURCES)), sorted(set(SOURCES) - present)
        raise ValueError(f"SOURCES out of date: unlisted {unlisted}, absent {absent}")


def load_result_files() -> list[ResultFile]:
    """Every output / error file with its lines parsed (blank lines are skipped; no file has one)."""
    _check_folder()
    files = []
    for name, source in SOURCES.items():
        if source.kind == "jobs":
            continue
        raw = (FOLDER / name).read_bytes()
        lines = tuple(json.loads(line) for line in raw.decode("utf-8").split("\n") if line.strip())
        assert source.endpoint is not None
        files.append(ResultFile(name, source.producer, source.kind, source.endpoint, lines, raw))
    return files


def load_job_responses() -> list[JobResponse]:
    """Every recorded response of the batch endpoints, in cassette order."""
    _check_folder()
    responses = []
    for name, source in SOURCES.items():
        if source.kind != "jobs":
            continue
        cassette = yaml.safe_load((FOLDER / name).read_text(encoding="utf-8"))
        for index, interaction in enumerate(cassette["http_interactions"]):
            response = interaction["response"]
            responses.append(
                JobResponse(
                    source=name,
                    interaction=index,
                    method=interaction["request"]["method"].upper(),
                    url=interaction["request"]["uri"],
                    status=int(response["status"]["code"]),
                    body=json.loads(response["body"]["string"]),
                )
            )
    return responses


def load_jobs() -> list[dict[str, Any]]:
    """Every batch job object in the cassettes (list pages flattened), as parsed JSON dicts."""
    return [job for response in load_job_responses() for job in response.jobs]
