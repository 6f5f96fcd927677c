"""The recorded Batch API files load, are still the copied bytes, and show the wire facts clients meet.

The recordings live in `tests/fixtures/recorded/batch/`, their provenance in the corpus README's `batch/`
section; `batch_corpus` loads them. Each fact below is asserted on the recordings themselves, so a reader
can see which file shows it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from batch_corpus import (
    CHAT,
    FOLDER,
    INPUT_ORDER,
    RESPONSES,
    SOURCES,
    ResultFile,
    load_job_responses,
    load_jobs,
    load_result_files,
)

FILES = load_result_files()
BY_NAME = {f.name: f for f in FILES}
JOB_RESPONSES = load_job_responses()
JOBS = load_jobs()

LINE_KEYS = ["id", "custom_id", "response", "error"]
JOB_KEYS = [
    "id",
    "object",
    "endpoint",
    "errors",
    "input_file_id",
    "completion_window",
    "status",
    "output_file_id",
    "error_file_id",
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "request_counts",
    "metadata",
]


def _readme_rows() -> dict[str, tuple[str, str]]:
    """File -> (git blob, sha256), from the provenance table of the corpus README's `batch/` section."""
    readme = (FOLDER.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## `batch/`", 1)[1].split("\n## ", 1)[0]
    row = re.compile(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{40})` \| `([0-9a-f]{64})` \|[^|]*\|$", re.M)
    return {name: (blob, sha) for name, blob, sha in row.findall(section)}


def _lines(*names: str) -> list[dict[str, Any]]:
    return [line for name in names for line in BY_NAME[name].lines]


# -- the copies --------------------------------------------------------------------------------------------


def test_every_recording_is_listed_and_byte_identical_to_its_source() -> None:
    rows = _readme_rows()
    assert set(rows) == set(SOURCES)
    for name, (blob, sha) in rows.items():
        data = (FOLDER / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, f"{name}: sha256 differs from the README"
        assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blob, f"{name}: git blob differs"


def test_the_corpus_covers_what_it_promises() -> None:
    kinds = {(f.producer, f.kind, f.endpoint) for f in FILES}
    assert ("openai", "output", RESPONSES) in kinds
    assert ("openai", "error", RESPONSES) in kinds
    assert ("openai", "output", CHAT) in kinds
    assert ("openai", "error", CHAT) in kinds
    assert ("vllm", "output", CHAT) in kinds
    assert {r.method for r in JOB_RESPONSES} == {"GET", "POST"}
    assert any(r.url.endswith("/cancel") for r in JOB_RESPONSES)


# -- result lines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("result", FILES, ids=[f.name for f in FILES])
def test_each_line_has_custom_id_and_a_response_or_an_error(result: ResultFile) -> None:
    assert result.lines
    for line in result.lines:
        assert list(line) == LINE_KEYS  # all four keys, always, in this order
        assert isinstance(line["custom_id"], str) and line["custom_id"]
        assert (line["response"] is None) != (line["error"] is None)


@pytest.mark.parametrize("result", FILES, ids=[f.name for f in FILES])
def test_files_are_plain_jsonl(result: ResultFile) -> None:
    assert result.raw.endswith(b"\n")
    assert b"\r" not in result.raw
    assert b"\n\n" not in result.raw
    assert len(result.raw.split(b"\n")) == len(result.lines) + 1


def test_status_code_lives_in_response_and_line_level_error_is_null_in_every_recording() -> None:
    for line in _lines(*BY_NAME):
        assert line["error"] is None
        assert list(line["response"]) == ["status_code", "request_id", "body"]
        assert isinstance(line["response"]["status_code"], int)
        assert isinstance(line["response"]["body"], dict)


def test_output_files_hold_only_200s_and_error_files_only_failures() -> None:
    for result in FILES:
        codes = {line["response"]["status_code"] for line in result.lines}
        if result.kind == "output":
            assert codes == {200}, result.name
        else:
            assert 200 not in codes, result.name


def test_http_errors_come_as_an_openai_error_body_inside_response() -> None:
    for line in _lines("openai_responses_gpt-5.4_error.jsonl", "openai_chat_error.jsonl"):
        if line["response"]["status_code"] == 0:
            continue
        assert line["response"]["status_code"] == 400
        error = line["response"]["body"]["error"]
        assert list(line["response"]["body"]) == ["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "invalid_request_error"
    codes = {
        line["response"]["body"]["error"]["code"] for line in _lines("openai_responses_gpt-5.4_error.jsonl")
    }
    assert codes == {"invalid_type"}


def test_an_error_line_can_have_status_code_0_an_empty_request_id_and_an_empty_body() -> None:
    odd = [line for line in _lines("openai_chat_error.jsonl") if line["response"]["status_code"] == 0]
    assert odd == [
        {
            "id": "batch_req_690e39ef3b908190b22b469028d00709",
            "custom_id": "request-2",
            "response": {"status_code": 0, "request_id": "", "body": {}},
            "error": None,
        }
    ]


def test_the_output_and_error_file_of_one_batch_partition_its_requests() -> None:
    out = BY_NAME["openai_responses_gpt-5.4_output.jsonl"].custom_ids
    err = BY_NAME["openai_responses_gpt-5.4_error.jsonl"].custom_ids
    assert not set(out) & set(err)
    assert sorted(out + err) == sorted(INPUT_ORDER["openai_responses_gpt-5.4_output.jsonl"])


def test_order_openai_and_vllm_files_follow_the_input_but_groq_does_not() -> None:
    for name, order in INPUT_ORDER.items():
        ids = BY_NAME[name].custom_ids
        kept = [custom_id for custom_id in order if custom_id in set(ids)]
        if BY_NAME[name].producer == "groq":
            assert ids == ["request-2", "request-3", "request-1"]  # not the input order
            assert sorted(ids) == sorted(order)
        else:
            assert ids == kept, name


def test_line_ids_are_not_monotonic() -> None:
    for name in ("openai_responses_gpt-5.4_output.jsonl", "openai_chat_gpt-5-nano_output.jsonl"):
        ids = [line["id"] for line in BY_NAME[name].lines]
        assert ids != sorted(ids)


def test_vllm_passes_duplicate_custom_ids_through() -> None:
    result = BY_NAME["vllm_chat_llava_duplicate_custom_id_output.jsonl"]
    assert set(result.custom_ids) == {"request-1"} and len(result.lines) == 14
    assert len({line["id"] for line in result.lines}) == 14


def test_id_and_request_id_formats_differ_by_producer_and_year() -> None:
    patterns = {
        "openai_responses_o3-mini_output.jsonl": (r"batch_req_[0-9a-f]{32}", r"[0-9a-f]{32}"),
        "openai_chat_gpt-4o_output.jsonl": (r"batch_req_[0-9a-f]{32}", r"[0-9a-f]{32}"),
        "openai_responses_gpt-5.4_output.jsonl": (
            r"batch_req_[0-9a-f]{32}",
            r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}",
        ),
        "groq_chat_llama-3.1-8b_output.jsonl": (r"batch_req_out_[0-9a-z]{26}", r"req_[0-9a-z]{26}"),
        "vllm_chat_llava_output.jsonl": (r"vllm-[0-9a-f]{32}", r"vllm-batch-[0-9a-f]{32}"),
    }
    for name, (id_pattern, request_id_pattern) in patterns.items():
        for line in BY_NAME[name].lines:
            assert re.fullmatch(id_pattern, line["id"]), (name, line["id"])
            assert re.fullmatch(request_id_pattern, line["response"]["request_id"]), (name, line["response"])


def test_responses_bodies_are_response_objects() -> None:
    for result in FILES:
        if result.endpoint != RESPONSES or result.kind != "output":
            continue
        for line in result.lines:
            body = line["response"]["body"]
            assert body["object"] == "response" and body["id"].startswith("resp_")
            assert (
                body["status"] == "completed" and body["error"] is None and body["incomplete_details"] is None
            )
            assert set(body["usage"]) >= {"input_tokens", "output_tokens", "total_tokens"}
            assert body["output"][0]["type"] == "reasoning"


def test_o3_mini_lines_carry_reasoning_then_an_output_text_message() -> None:
    for line in BY_NAME["openai_responses_o3-mini_output.jsonl"].lines:
        body = line["response"]["body"]
        assert body["model"] == "o3-mini-2025-01-31"  # the input asked for "o3-mini"
        reasoning, message = body["output"]
        assert reasoning == {"type": "reasoning", "id": reasoning["id"], "summary": []}
        assert message["type"] == "message" and message["role"] == "assistant"
        assert [part["type"] for part in message["content"]] == ["output_text"]
        assert "completed_at" not in body  # missing in April 2025, present in 2026 (next test)


def test_gpt_5_4_lines_carry_function_calls_and_newer_body_fields() -> None:
    for line in BY_NAME["openai_responses_gpt-5.4_output.jsonl"].lines:
        body = line["response"]["body"]
        assert [item["type"] for item in body["output"]] == ["reasoning", "function_call"]
        call = body["output"][1]
        assert set(call) == {"id", "type", "status", "arguments", "call_id", "name"}
        assert isinstance(call["arguments"], str)
        assert isinstance(body["completed_at"], int) and body["completed_at"] >= body["created_at"]
        assert list(body["billing"]) == ["payer"]
    payers = [
        line["response"]["body"]["billing"]["payer"]
        for line in _lines("openai_responses_gpt-5.4_output.jsonl")
    ]
    assert payers == ["openai", "openai", "developer"]  # varies line by line within one batch


def test_chat_bodies_and_the_missing_logprobs_key() -> None:
    for line in _lines("openai_chat_gpt-4o_output.jsonl", "openai_chat_gpt-5-nano_output.jsonl"):
        assert line["response"]["body"]["object"] == "chat.completion"
    for line in _lines("openai_chat_gpt-4o_output.jsonl"):
        assert line["response"]["body"]["model"] == "gpt-4o-2024-08-06"  # the input asked for "gpt-4o"
        assert line["response"]["body"]["choices"][0]["logprobs"] is None
    for line in _lines("openai_chat_gpt-5-nano_output.jsonl"):
        choice = line["response"]["body"]["choices"][0]
        assert list(choice) == ["index", "message", "finish_reason"]  # no "logprobs" key at all
        assert line["response"]["body"]["system_fingerprint"] is None


def test_vllm_bodies_carry_vllm_extras() -> None:
    for line in _lines("vllm_chat_llava_output.jsonl"):
        body = line["response"]["body"]
        assert body["model"] == "llava-hf/llava-1.5-7b-hf"
        assert body["prompt_logprobs"] is None and body["usage"]["prompt_tokens_details"] is None
        assert set(body["choices"][0]) == {"index", "message", "logprobs", "finish_reason", "stop_reason"}
        assert body["choices"][0]["message"]["reasoning_content"] is None


def test_openai_files_are_ascii_json_with_escapes_and_the_others_are_compact() -> None:
    for result in FILES:
        if result.producer == "openai":
            assert result.raw.isascii() and result.raw.startswith(b'{"id": "batch_req_')
        else:
            assert result.raw.startswith(b'{"id":"')
    assert not BY_NAME["groq_chat_llama-3.1-8b_output.jsonl"].raw.isascii()  # raw UTF-8


# -- batch job objects -------------------------------------------------------------------------------------


def test_job_responses_are_200_batch_objects_or_list_pages() -> None:
    for response in JOB_RESPONSES:
        assert response.status == 200
        if response.body["object"] == "list":
            assert response.method == "GET"
            assert list(response.body) == ["object", "data", "first_id", "last_id", "has_more"]
            assert response.body["first_id"] == response.body["data"][0]["id"]
            assert response.body["last_id"] == response.body["data"][-1]["id"]
            created = [job["created_at"] for job in response.body["data"]]
            assert created == sorted(created, reverse=True)  # newest first
        else:
            assert response.body["object"] == "batch"
    assert any(r.body.get("has_more") is True for r in JOB_RESPONSES)
    assert any("after=" in r.url and "limit=10" in r.url for r in JOB_RESPONSES)


def test_every_job_object_has_the_same_keys_and_null_metadata_and_errors() -> None:
    assert len(JOBS) > 40
    for job in JOBS:
        assert list(job) == JOB_KEYS
        assert job["object"] == "batch" and job["endpoint"] == CHAT and job["completion_window"] == "24h"
        assert job["errors"] is None and job["metadata"] is None  # null, not {} / {"data": []}
        assert job["expires_at"] - job["created_at"] == 86400
        assert list(job["request_counts"]) == ["total", "completed", "failed"]


def test_observed_job_statuses_and_their_fields() -> None:
    assert {job["status"] for job in JOBS} == {
        "validating",
        "in_progress",
        "cancelling",
        "cancelled",
        "completed",
    }
    for job in JOBS:
        status, counts = job["status"], job["request_counts"]
        if status == "validating":
            assert counts == {"total": 0, "completed": 0, "failed": 0} and job["in_progress_at"] is None
        if status in ("validating", "in_progress", "cancelling"):
            assert job["output_file_id"] is None and job["error_file_id"] is None
        if status == "completed":
            assert job["output_file_id"] and job["finalizing_at"] and job["completed_at"]
            assert counts["completed"] == counts["total"]
        if status == "cancelling":
            assert job["cancelling_at"] and job["cancelled_at"] is None
        if status == "cancelled":
            assert job["cancelling_at"] and job["cancelled_at"]


def test_a_cancelled_job_can_have_an_output_file_an_error_file_or_neither() -> None:
    cancelled = [job for job in JOBS if job["status"] == "cancelled"]
    partial = [job for job in cancelled if job["output_file_id"]]
    assert [job["request_counts"] for job in partial] == [{"total": 2, "completed": 1, "failed": 0}]
    assert partial[0]["error_file_id"]  # the request that never ran is not counted as failed
    assert any(job["error_file_id"] and job["request_counts"]["total"] == 0 for job in cancelled)
    assert any(not job["error_file_id"] and not job["output_file_id"] for job in cancelled)


def test_job_ids_changed_format_between_2024_and_2025() -> None:
    ids = {job["id"] for job in JOBS}
    assert any(re.fullmatch(r"batch_[0-9a-f]{32}", i) for i in ids)
    assert any(
        re.fullmatch(r"batch_[0-9A-Za-z]{24}", i) and not re.fullmatch(r"batch_[0-9a-f]{24}", i) for i in ids
    )
    assert all(re.fullmatch(r"batch_[0-9a-f]{32}|batch_[0-9A-Za-z]{24}", i) for i in ids)
