"""Batch Inference without I/O (`core.batch`): input lines byte-identical to a live call's body, splitting
into files, refusals naming the field, joining output/error lines back into input order, reading job
objects (DO's and OpenAI's shapes), several jobs' combined status, job metadata and the catalog's
`batch_provider`."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from fakes import FakeEndpoint, json_reply

from gradient_integrations.core import (
    APIResponseValidationError,
    BadRequestError,
    BatchItemError,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
    ResponseRequest,
    ResponseResult,
    ResponsesClient,
    build_request,
)
from gradient_integrations.core.batch import (
    ENDPOINT,
    MAX_FILE_BYTES,
    MAX_LINES,
    BatchStatus,
    RequestCounts,
    ResultJoiner,
    check_batch_model,
    custom_id,
    encode_line,
    index_of,
    plan_files,
    read_batch,
    read_output_line,
)
from gradient_integrations.core.batch_jobs import MAX_USER_METADATA, check_metadata, combined_status
from gradient_integrations.core.catalog import CATALOG, ModelInfo, batch_provider_for

MODEL = "openai-gpt-5-nano"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city — «quoted»",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _request(prompt: str = "hello", **fields: Any) -> ResponseRequest:
    return build_request(model=fields.pop("model", MODEL), input=prompt, **fields)


def _body_of(line: bytes) -> bytes:
    """The `body` bytes of an encoded line, exactly as written."""
    head = f'{{"custom_id":"{json.loads(line)["custom_id"]}","method":"POST","url":"{ENDPOINT}","body":'
    assert line.startswith(head.encode()) and line.endswith(b"}\n"), line[:200]
    return line[len(head) : -2]


def _answer(text: str, response_id: str = "resp_1") -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created": 1_700_000_000,
        "model": MODEL,
        "status": "completed",
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
        ],
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    }


def _ok_line(index: int, text: str | None = None) -> bytes:
    response = {"status_code": 200, "request_id": f"req-{index}", "body": _answer(text or f"answer {index}")}
    entry = {"id": f"batch_req_{index}", "custom_id": custom_id(index), "response": response, "error": None}
    return json.dumps(entry).encode()


def _status_line(index: int, status: int, body: Any, request_id: str = "") -> bytes:
    response = {"status_code": status, "request_id": request_id, "body": body}
    return json.dumps({"custom_id": custom_id(index), "response": response, "error": None}).encode()


# -- lines -------------------------------------------------------------------------------------------
LIVE_REQUESTS = [
    pytest.param(_request('héllo ✓ 😀 "quotes" \\ back\nslash'), id="unicode-string"),
    pytest.param(
        build_request(
            model=MODEL,
            input=[
                {"role": "system", "content": "be brief </script>"},
                {"role": "user", "content": [{"type": "input_text", "text": "weather in 'Oslo'?"}]},
            ],
            temperature=0.25,
            top_p=0.5,
            max_output_tokens=77,
            tools=[TOOL],
            tool_choice="required",
            parallel_tool_calls=False,
            stop=["END"],
            metadata={"k": "v"},
        ),
        id="messages-tools-options",
    ),
    pytest.param(
        _request(
            "json please",
            text={"format": {"type": "json_schema", "name": "X", "schema": {"type": "object"}}},
            reasoning={"effort": "low"},
            extra_body={"service_tier": "flex", "float": 1e-7},
        ),
        id="text-format-extra-body",
    ),
]


@pytest.mark.parametrize("request_", LIVE_REQUESTS)
def test_line_body_is_byte_for_byte_what_a_live_create_sends(request_: ResponseRequest) -> None:
    endpoint = FakeEndpoint(json_reply(_answer("ok")))
    client = ResponsesClient(
        api_key="k", base_url="https://gradient.test", transport=endpoint.transport, max_retries=0
    )
    try:
        client.create(request_)
    finally:
        client.close()
    line = encode_line(7, request_)
    assert _body_of(line) == endpoint.requests[0].content
    assert (
        _body_of(line)
        == json.dumps(request_.to_body(stream=False), separators=(",", ":"), ensure_ascii=False).encode()
    )
    entry = json.loads(line)
    assert entry == {
        "custom_id": "gi-7",
        "method": "POST",
        "url": "/v1/responses",
        "body": request_.to_body(stream=False),
    }
    assert "stream" not in entry["body"] and "stream_options" not in entry["body"]
    assert line.count(b"\n") == 1  # one line: newlines inside strings are escaped


def test_custom_ids_round_trip_and_foreign_ids_are_not_ours() -> None:
    for index in (0, 1, 9, 10, 49_999, 10**9):
        assert index_of(custom_id(index)) == index
    for foreign in ("gi-", "gi-01", "gi--1", "gi-1a", "gi- 1", "req-1", "GI-1", 1, None):
        assert index_of(foreign) is None


@pytest.mark.parametrize("foreign", ["gi-\u0661", "gi-\uff11", "gi-\u00b2", "gi-1\u00b2"])
def test_custom_ids_with_non_ascii_digits_are_not_ours(foreign: str) -> None:
    # custom_id() writes ASCII digits only: "gi-" + Arabic-Indic/fullwidth one is another system's id (not
    # item 1), and a superscript two must not crash the join with int()'s ValueError.
    assert index_of(foreign) is None
    joiner = ResultJoiner(3)
    entry = {"custom_id": foreign, "response": {"status_code": 200, "body": _answer("x")}, "error": None}
    with pytest.raises(APIResponseValidationError, match="not an item of this batch"):
        joiner.add_line(json.dumps(entry).encode())


# -- splitting ---------------------------------------------------------------------------------------
def _items(files: list[Any]) -> list[int]:
    return [index_of(json.loads(line)["custom_id"]) for f in files for line in f.content.splitlines()]


@pytest.mark.parametrize("max_lines", [1, 2, 3, 7, 10, 11])
def test_split_by_max_lines_keeps_every_item_once_in_order(max_lines: int) -> None:
    requests = [_request(f"item {i}") for i in range(10)]
    files = plan_files(requests, max_lines=max_lines)
    assert [f.count for f in files] == [min(max_lines, 10 - start) for start in range(0, 10, max_lines)]
    assert _items(files) == list(range(10))
    assert [f.first for f in files] == list(range(0, 10, max_lines))
    for f in files:
        assert f.content.endswith(b"\n") and f.content.count(b"\n") == f.count
        assert _items([f]) == list(range(f.first, f.first + f.count))
    assert b"".join(f.content for f in files) == b"".join(encode_line(i, r) for i, r in enumerate(requests))


def test_split_by_max_bytes_keeps_every_item_once_in_order_and_under_the_limit() -> None:
    rng = random.Random(5)
    requests = [_request("x" * rng.randrange(1, 400) + f" {i}") for i in range(40)]
    lines = [encode_line(i, r) for i, r in enumerate(requests)]
    limit = max(len(line) for line in lines) + 150
    files = plan_files(requests, max_bytes=limit)
    assert len(files) > 3
    assert _items(files) == list(range(40))
    assert all(len(f.content) <= limit for f in files)
    for before, after in itertools.pairwise(files):  # a file is cut only when the next line won't fit
        assert len(before.content) + len(lines[after.first]) > limit
    exact = plan_files(requests[:3], max_bytes=sum(len(line) for line in lines[:3]))
    assert [f.count for f in exact] == [3]  # a file may be exactly max_bytes


def test_split_by_both_limits() -> None:
    requests = [_request("x" * (300 if i % 5 == 0 else 5) + f" {i}") for i in range(23)]
    line = len(encode_line(0, requests[0]))
    files = plan_files(requests, max_lines=4, max_bytes=line + 200)
    assert all(f.count <= 4 and len(f.content) <= line + 200 for f in files)
    assert _items(files) == list(range(23))


def test_default_limits_are_dos() -> None:
    assert MAX_LINES == 50_000
    assert MAX_FILE_BYTES == 200_000_000
    files = plan_files([_request(f"{i}") for i in range(3)])
    assert len(files) == 1 and files[0].first == 0 and files[0].count == 3


# -- refusals ----------------------------------------------------------------------------------------
def _refusal(requests: list[ResponseRequest], **kwargs: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        plan_files(requests, **kwargs)
    return caught.value


def test_empty_input_is_refused() -> None:
    error = _refusal([])
    assert error.field == "inputs" and "empty" in str(error)


def test_mixed_models_are_refused_naming_the_item() -> None:
    requests = [_request("a"), _request("b"), _request("c", model="openai-gpt-5-mini"), _request("d")]
    error = _refusal(requests)
    assert error.field == "inputs[2].model"
    assert "openai-gpt-5-mini" in str(error) and MODEL in str(error) and "one model" in str(error)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("openai-gpt-oss-20b", ("cannot run in Batch Inference", "open models")),
        ("llama3.3-70b-instruct", ("cannot run in Batch Inference",)),
        ("anthropic-claude-4.5-sonnet", ("Anthropic model",)),
    ],
)
def test_models_batch_cannot_serve_are_refused_with_the_reason(model: str, words: tuple[str, ...]) -> None:
    error = _refusal([_request("a", model=model), _request("b", model=model)])
    assert error.field == "inputs[0].model"
    assert model in str(error)
    for word in words:
        assert word in str(error)
    with pytest.raises(InvalidRequestError, match=r"Anthropic|cannot run"):
        check_batch_model(model)


def test_an_unknown_model_is_let_through_for_the_endpoint_to_judge() -> None:
    check_batch_model("some-future-model")
    assert len(plan_files([_request("a", model="some-future-model")])) == 1


def test_a_line_larger_than_a_file_is_refused_naming_the_item() -> None:
    requests = [_request("short"), _request("y" * 500), _request("short")]
    limit = len(encode_line(1, requests[1])) - 1
    error = _refusal(requests, max_bytes=limit)
    assert error.field == "inputs[1]"
    assert f"{limit:,}" in str(error)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: _request("fine \ud800 text"), "inputs[1].input"),
        (
            lambda: build_request(
                model=MODEL, input=[{"role": "user", "content": "ok"}, {"role": "user", "content": "\udfff"}]
            ),
            "inputs[1].input[1].content",
        ),
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_item_and_field(make: Any, field: str) -> None:
    error = _refusal([_request("ok"), make(), _request("ok")])
    assert error.field == field
    assert "surrogate" in str(error)


# -- joining results ---------------------------------------------------------------------------------
def test_joiner_puts_shuffled_lines_back_in_input_order() -> None:
    lines = [_ok_line(i) for i in range(12)]
    random.Random(3).shuffle(lines)
    joiner = ResultJoiner(12)
    joiner.add_lines([b"", *lines[:6], b"  \n"], source="output")
    joiner.add_lines(lines[6:], source="output part 2")
    results = joiner.finish()
    assert all(isinstance(result, ResponseResult) for result in results)
    assert [result.text for result in results] == [f"answer {i}" for i in range(12)]  # type: ignore[union-attr]
    assert results[0].usage is not None and results[0].usage.output_tokens == 2  # type: ignore[union-attr]


def test_joiner_keeps_the_first_of_duplicate_lines() -> None:
    joiner = ResultJoiner(2)
    joiner.add_line(_ok_line(1, "first"))
    joiner.add_line(_ok_line(1, "second"))
    joiner.add_line(_status_line(1, 500, {"error": {"message": "late failure"}}))
    joiner.add_line(_ok_line(0))
    results = joiner.finish()
    assert [r.text for r in results] == ["answer 0", "first"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["gi-5", "gi-99", "request-1", "gi-01"])
def test_joiner_rejects_custom_ids_that_are_not_items_of_this_batch(name: str) -> None:
    joiner = ResultJoiner(5)
    entry = {"custom_id": name, "response": {"status_code": 200, "body": _answer("x")}, "error": None}
    with pytest.raises(APIResponseValidationError, match=f"custom_id '{name}'"):
        joiner.add_line(json.dumps(entry).encode(), where="output line 3")


def test_joiner_turns_missing_items_into_not_run_errors() -> None:
    job = object()
    joiner = ResultJoiner(4, job=job)
    joiner.add_line(_ok_line(2))
    results = joiner.finish(reason="the job ended cancelled")
    assert isinstance(results[2], ResponseResult)
    for index in (0, 1, 3):
        error = results[index]
        assert isinstance(error, BatchItemError)
        assert error.code == "not_run" and error.custom_id == f"gi-{index}"
        assert "the job ended cancelled" in str(error)
        assert error.job is job


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequestError), (429, RateLimitError), (500, InternalServerError)],
)
def test_a_non_2xx_line_is_the_typed_error_a_live_call_raises(status: int, kind: type[Exception]) -> None:
    body = {
        "error": {
            "message": f"failure {status}",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    joiner = ResultJoiner(2)
    joiner.add_line(_status_line(1, status, body, request_id="req-abc"))
    joiner.add_line(_ok_line(0))
    results = joiner.finish()
    error = results[1]
    assert type(error) is kind
    assert error.status_code == status  # type: ignore[attr-defined]
    assert error.request_id == "req-abc"  # type: ignore[attr-defined]
    assert f"failure {status}" in str(error)
    assert isinstance(results[0], ResponseResult)


def test_a_status_0_line_without_error_is_no_response() -> None:
    name, result = read_output_line(_status_line(3, 0, {}), job="J")
    assert name == "gi-3"
    assert isinstance(result, BatchItemError)
    assert result.code == "no_response" and result.custom_id == "gi-3" and result.job == "J"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"code": "batch_expired", "message": "This request was not executed."}, "batch_expired"),
        ({"code": "batch_cancelled", "message": "cancelled"}, "batch_cancelled"),
        ({"message": "no code"}, "error"),
    ],
)
def test_an_error_entry_is_a_batch_item_error_with_its_code(error: dict[str, Any], code: str) -> None:
    line = json.dumps({"custom_id": "gi-0", "response": None, "error": error}).encode()
    joiner = ResultJoiner(1)
    joiner.add_line(line)
    (result,) = joiner.finish()
    assert isinstance(result, BatchItemError)
    assert result.code == code and result.custom_id == "gi-0"
    assert error.get("message", "no message") in str(result)


def test_a_failed_response_body_is_that_items_error() -> None:
    body = {**_answer(""), "status": "failed", "error": {"code": "server_error", "message": "it broke"}}
    _, result = read_output_line(_status_line(0, 200, body))
    assert isinstance(result, Exception) and not isinstance(result, BatchItemError)
    assert "it broke" in str(result)


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1, 2]", b'{"custom_id": 5}', b'{"response": {}}'],
)
def test_unreadable_lines_are_refused(line: bytes) -> None:
    with pytest.raises(APIResponseValidationError, match="output line 4"):
        ResultJoiner(1).add_lines([b"", b"", b"", line], source="output")


def test_a_line_with_neither_response_nor_error_is_that_items_validation_error() -> None:
    _, result = read_output_line(b'{"custom_id": "gi-0", "response": null, "error": null}')
    assert isinstance(result, APIResponseValidationError)


# -- job objects ---------------------------------------------------------------------------------------
def test_read_batch_reads_dos_shape() -> None:
    body = {
        "batch_id": "9b2c5a3e-0000-4000-8000-000000000001",
        "status": "in_progress",
        "provider": "openai",
        "request_counts": {"total": 10, "completed": 4, "failed": 1},
        "output_file_id": None,
        "error_file_id": "",
        "errors": None,
        "metadata": {"gi_first": "0", "gi_count": "10"},
    }
    status = read_batch(body)
    assert status.id == body["batch_id"] and status.status == "in_progress"
    assert status.request_counts == RequestCounts(10, 4, 1) and status.request_counts.done == 5
    assert status.output_file_id is None and status.error_file_id is None
    assert status.errors == () and status.metadata == {"gi_first": "0", "gi_count": "10"}
    assert not status.terminal and status.raw is body


def test_read_batch_reads_openais_shape() -> None:
    body = {
        "id": "batch_abc123",
        "object": "batch",
        "status": "failed",
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "output_file_id": "file-out",
        "error_file_id": "file-err",
        "errors": {
            "object": "list",
            "data": [{"code": "invalid_json_line", "message": "Line 2: not JSON", "line": 2, "param": None}],
        },
        "metadata": None,
    }
    status = read_batch(body)
    assert status.id == "batch_abc123" and status.status == "failed" and status.terminal
    assert status.errors == (
        {"code": "invalid_json_line", "message": "Line 2: not JSON", "line": 2, "param": None},
    )
    assert status.metadata is None
    assert (status.output_file_id, status.error_file_id) == ("file-out", "file-err")


def test_read_batch_tolerates_odd_counts_but_not_a_missing_id_or_status() -> None:
    status = read_batch(
        {"id": "b", "status": "completed", "request_counts": {"total": -1, "completed": True}}
    )
    assert status.request_counts == RequestCounts(0, 0, 0)
    for body in ({"status": "completed"}, {"id": "b"}, {"id": "", "status": "x"}, {"id": 3, "status": "x"}):
        with pytest.raises(APIResponseValidationError):
            read_batch(body)


def _part(status: str) -> BatchStatus:
    return BatchStatus(id=status, status=status, request_counts=RequestCounts(1))


@pytest.mark.parametrize(
    ("statuses", "combined"),
    [
        (["completed", "completed"], "completed"),
        (["completed", "in_progress"], "in_progress"),
        (["finalizing", "validating", "in_progress"], "validating"),
        (["finalizing", "cancelling"], "cancelling"),
        (["completed", "finalizing"], "finalizing"),
        (["completed", "failed", "cancelled"], "failed"),
        (["completed", "expired"], "expired"),
        (["cancelled", "completed"], "cancelled"),
        (["failed", "in_progress"], "in_progress"),
        (["something_new"], "something_new"),
    ],
)
def test_combined_status_of_several_parts(statuses: list[str], combined: str) -> None:
    assert combined_status([_part(status) for status in statuses]) == combined


def test_request_counts_add_up() -> None:
    assert RequestCounts(3, 1, 1) + RequestCounts(2, 2, 0) == RequestCounts(5, 3, 1)
    assert (RequestCounts(5, 3, 1)).done == 4


# -- metadata ----------------------------------------------------------------------------------------
def test_check_metadata_accepts_string_pairs() -> None:
    assert check_metadata(None) == {}
    given = {"project": "alpha", "run": "7"}
    checked = check_metadata(given)
    assert checked == given and checked is not given


@pytest.mark.parametrize(
    ("metadata", "field", "words"),
    [
        ([("a", "b")], "metadata", "dict of str to str"),
        ({f"k{i}": "v" for i in range(MAX_USER_METADATA + 1)}, "metadata", f"at most {MAX_USER_METADATA}"),
        ({"n": 1}, "metadata['n']", "strings"),
        ({1: "v"}, "metadata[1]", "strings"),
        ({"gi_first": "0"}, "metadata['gi_first']", "item positions"),
        ({"gi_count": "0"}, "metadata['gi_count']", "item positions"),
        ({"gi_part": "1/1"}, "metadata['gi_part']", "item positions"),
    ],
)
def test_check_metadata_refusals_name_the_field(metadata: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_metadata(metadata)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_metadata_holds_thirteen_user_pairs() -> None:
    assert MAX_USER_METADATA == 13  # OpenAI's 16, less the three the job keeps for itself
    assert len(check_metadata({f"k{i}": "v" for i in range(MAX_USER_METADATA)})) == MAX_USER_METADATA


# -- catalog -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("openai-gpt-5-nano", "openai"),
        ("openai-gpt-4o-mini", "openai"),
        ("openai-o3-mini", "openai"),
        ("openai-gpt-oss-20b", "none"),
        ("openai-gpt-oss-120b", "none"),
        ("anthropic-claude-4.5-sonnet", "anthropic"),
        ("llama3.3-70b-instruct", "none"),
        ("deepseek-4-flash", "none"),
        ("gte-large-en-v1.5", "none"),
    ],
)
def test_catalog_batch_provider_of_shipped_models(model: str, provider: str) -> None:
    assert CATALOG.info(model).batch_provider == provider


def test_batch_provider_rules() -> None:
    assert batch_provider_for("openai-x", {"kind": "chat", "open_weights": False}) == "openai"
    assert batch_provider_for("anthropic-x", {"open_weights": False}) == "anthropic"
    assert batch_provider_for("openai-x", {"kind": "embedding", "open_weights": False}) == "none"
    assert batch_provider_for("openai-x", {"kind": "chat"}) == "none"  # open weights unknown: not batched
    assert batch_provider_for("mistral-x", {"open_weights": False}) == "none"
    assert ModelInfo(id="registered").batch_provider is None


def test_a_catalog_entry_decides_for_check_batch_model() -> None:
    catalog = CATALOG.with_models(ModelInfo(id="my-model", batch_provider="none"))
    with pytest.raises(InvalidRequestError, match="my-model"):
        plan_files([_request("a", model="my-model")], catalog=catalog)
    allowed = CATALOG.with_models(ModelInfo(id="openai-gpt-oss-20b", batch_provider="openai"))
    assert len(plan_files([_request("a", model="openai-gpt-oss-20b")], catalog=allowed)) == 1
