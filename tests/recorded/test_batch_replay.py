"""Real batch output/error files and job objects, read by the core's batch reader (`core.batch`).

The recordings (`batch_corpus`, provenance in the corpus README's `batch/` section) come from OpenAI's Batch
API, vLLM's `run_batch` and Groq: the same line format DO's Batch Inference documents. Each line must become
what a live call would give: a `ResponseResult` read by the one response reader, or the typed error its
status carries.
"""

from __future__ import annotations

from typing import Any

import pytest
from batch_corpus import CHAT, RESPONSES, ResultFile, load_jobs, load_result_files

from gradient_integrations.core import (
    APIStatusError,
    BadRequestError,
    BatchItemError,
    ResponseResult,
)
from gradient_integrations.core.batch import (
    TERMINAL_STATUSES,
    ResultJoiner,
    read_batch,
    read_output_line,
)
from gradient_integrations.core.batch_jobs import combined_status
from gradient_integrations.core.errors import APIResponseValidationError

RESULT_FILES = load_result_files()
OUTPUTS = [file for file in RESULT_FILES if file.kind == "output"]
ERRORS = [file for file in RESULT_FILES if file.kind == "error"]


def _raw_lines(file: ResultFile) -> list[bytes]:
    return [line for line in file.raw.split(b"\n") if line.strip()]


def _usage_in(body: dict[str, Any]) -> tuple[int, int]:
    usage = body["usage"]
    if "input_tokens" in usage:
        return usage["input_tokens"], usage["output_tokens"]
    return usage["prompt_tokens"], usage["completion_tokens"]


@pytest.mark.parametrize("file", OUTPUTS, ids=lambda file: file.name)
def test_every_recorded_answer_reads_as_a_live_answer(file: ResultFile) -> None:
    for raw, line in zip(_raw_lines(file), file.lines, strict=True):
        name, result = read_output_line(raw)
        assert name == line["custom_id"]
        assert isinstance(result, ResponseResult), (file.name, name, result)
        body = line["response"]["body"]
        assert result.id == body["id"]
        assert result.model == body["model"]
        assert result.text or result.tool_calls, (file.name, name)
        assert result.usage is not None
        assert (result.usage.input_tokens, result.usage.output_tokens) == _usage_in(body)
        if file.endpoint == RESPONSES:
            calls = [item for item in body["output"] if item["type"] == "function_call"]
            assert [call.name for call in result.tool_calls] == [call["name"] for call in calls]
            assert [call.arguments for call in result.tool_calls] == [call["arguments"] for call in calls]
        else:
            assert file.endpoint == CHAT
            assert result.text == body["choices"][0]["message"]["content"]


@pytest.mark.parametrize("file", ERRORS, ids=lambda file: file.name)
def test_every_recorded_failure_becomes_the_error_a_live_call_raises(file: ResultFile) -> None:
    for raw, line in zip(_raw_lines(file), file.lines, strict=True):
        name, result = read_output_line(raw)
        response = line["response"]
        if response["status_code"] == 0:  # never sent upstream: no status, no body
            assert isinstance(result, BatchItemError) and result.code == "no_response"
            assert result.custom_id == name
            continue
        assert isinstance(result, APIStatusError), (file.name, name, result)
        assert result.status_code == response["status_code"]
        if response["status_code"] == 400:
            assert isinstance(result, BadRequestError)
        error = response["body"]["error"]
        assert result.error_id == (error.get("type") or error.get("code"))
        assert error["message"] in str(result)
        assert result.request_id == (response["request_id"] or None)


def test_the_recordings_hold_a_no_status_line_and_typed_400s() -> None:
    kinds = {type(read_output_line(raw)[1]).__name__ for file in ERRORS for raw in _raw_lines(file)}
    assert kinds == {"BadRequestError", "BatchItemError"}


@pytest.mark.parametrize("file", RESULT_FILES, ids=lambda file: file.name)
def test_a_join_refuses_files_of_a_job_this_package_did_not_submit(file: ResultFile) -> None:
    # Their custom ids are the submitter's own ("request-1"): reading them needs read_output_line.
    joiner = ResultJoiner(len(file.lines))
    with pytest.raises(APIResponseValidationError, match="read_output_line"):
        joiner.add_lines(_raw_lines(file), source=file.name)


def test_vllm_echoes_a_reused_custom_id_on_every_line() -> None:
    file = next(file for file in OUTPUTS if "duplicate" in file.name)
    names = {read_output_line(raw)[0] for raw in _raw_lines(file)}
    assert names == {"request-1"}


JOBS = load_jobs()


@pytest.mark.parametrize("job", JOBS, ids=lambda job: f"{job['id']}-{job['status']}")
def test_every_recorded_job_object_reads(job: dict[str, Any]) -> None:
    status = read_batch(job)
    assert status.id == job["id"]
    assert status.status == job["status"]
    assert status.terminal == (job["status"] in TERMINAL_STATUSES)
    counts = job["request_counts"]
    assert (status.request_counts.total, status.request_counts.completed, status.request_counts.failed) == (
        counts["total"],
        counts["completed"],
        counts["failed"],
    )
    assert status.output_file_id == job["output_file_id"]
    assert status.error_file_id == job["error_file_id"]
    assert status.errors == ()  # every recorded job has "errors": null
    assert status.metadata == job["metadata"]


def test_recorded_statuses_combine_as_the_least_advanced_running_one() -> None:
    statuses = [read_batch(job) for job in JOBS]
    seen = {status.status for status in statuses}
    assert {"validating", "in_progress", "completed", "cancelled"} <= seen
    running = [status for status in statuses if not status.terminal]
    assert combined_status([*statuses]) in {status.status for status in running}
    ended = [status for status in statuses if status.terminal]
    assert combined_status(ended) == "cancelled"  # the worst ending wins over completed
