"""DO's Batch Inference API on the local server, over real loopback sockets with plain httpx: file intents,
the presigned object store (no bearer key, S3's refusals), jobs moved on by polling, OpenAI-format output
and error files, cancellation, results links, the list, faults. Every API answer is validated against DO's
vendored batch schemas (`spec/.../models/batch*.yml`), strictly."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
import pytest

from gradient_integrations.local import LocalServer, create_app
from gradient_integrations.local.__main__ import parse_args
from gradient_integrations.local.batches import FAIL_MARKER, MAX_LINES

from ._cases import CASES, chat_body
from ._spec import CHAT_RESPONSE, ERROR, MODELS, RESPONSE, assert_valid

KEY = "sk-do-batch-test-key"
BATCH = MODELS + "batch.yml"
FILE_CREATED = MODELS + "batch_file_create_response.yml"
FILE_REQUEST = MODELS + "batch_file_create_request.yml"
CREATE_REQUEST = MODELS + "batch_create_request.yml"
BATCH_LIST = MODELS + "batch_list_response.yml"
RESULTS = MODELS + "batch_results_response.yml"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
STEPS = ["in_progress", "finalizing", "completed"]
DROP = object()  # a field left out of a request body


# -- fixtures and helpers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[LocalServer]:
    """A server of its own, for tests that move its clock or list every job."""
    with LocalServer(api_key=KEY) as running:
        yield running


def _client(server: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {KEY}"}, timeout=60)


@pytest.fixture
def api(server: LocalServer) -> Iterator[httpx.Client]:
    with _client(server) as client:
        yield client


@pytest.fixture
def store() -> Iterator[httpx.Client]:
    """For presigned URLs: no base URL, no key."""
    with httpx.Client(timeout=60) as client:
        yield client


def _checked(response: httpx.Response, status: int, schema: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert_valid(body, schema)
    if schema == ERROR:
        assert body["request_id"] == response.headers["x-request-id"]
    return body


def _refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    body = _checked(response, status, ERROR)
    for word in words:
        assert word in body["message"], body
    return body


def _job(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """A batch job answer: DO's schema, plus the formats the validator does not check."""
    job = _checked(response, status, BATCH)
    for name in ("batch_id", "input_file_id", "output_file_id", "error_file_id"):
        assert job[name] is None or uuid.UUID(job[name]).version == 4
    for name in [key for key in job if key.endswith("_at")]:
        assert job[name] is None or ISO.fullmatch(job[name]), (name, job[name])
    counts = job["request_counts"]
    assert counts["completed"] + counts["failed"] <= counts["total"]
    return job


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _line(custom_id: str, body: dict[str, Any], url: str = "/v1/responses") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _upload(api: httpx.Client, store: httpx.Client, data: bytes, name: str = "requests.jsonl") -> str:
    assert_valid({"file_name": name}, FILE_REQUEST)
    intent = _checked(api.post("/v1/batches/files", json={"file_name": name}), 201, FILE_CREATED)
    put = store.put(intent["upload_url"], content=data, headers={"content-type": "application/octet-stream"})
    assert put.status_code == 200, put.text
    return str(intent["file_id"])


def _create(
    api: httpx.Client, file_id: str, endpoint: str | None = "/v1/responses", **fields: Any
) -> dict[str, Any]:
    body = {"file_id": file_id, "provider": "openai", "completion_window": "24h"}
    body |= {"endpoint": endpoint} if endpoint else {}
    body |= {"request_id": str(uuid.uuid4()), **fields}
    assert_valid(body, CREATE_REQUEST)
    return _job(api.post("/v1/batches", json=body), 201)


def _submit(
    api: httpx.Client, store: httpx.Client, lines: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    endpoint = lines[0]["url"] if lines and isinstance(lines[0], dict) else "/v1/responses"
    return _create(api, _upload(api, store, _jsonl(lines)), endpoint, **fields)


def _poll(api: httpx.Client, batch_id: str) -> dict[str, Any]:
    return _job(api.get(f"/v1/batches/{batch_id}"))


def _run(api: httpx.Client, batch_id: str) -> dict[str, Any]:
    """Poll until the job ends (each GET is one step); the final job."""
    for _ in range(10):
        job = _poll(api, batch_id)
        if job["status"] in ("completed", "failed", "expired", "cancelled"):
            return job
    raise AssertionError("the job did not end within 10 polls")


def _results(api: httpx.Client, batch_id: str) -> dict[str, Any]:
    answer = _checked(api.get(f"/v1/batches/{batch_id}/results"), 200, RESULTS)
    assert answer["batch_id"] == batch_id
    return answer


def _download(store: httpx.Client, url: str | None) -> list[dict[str, Any]]:
    assert url is not None
    response = store.get(url)
    assert response.status_code == 200, response.text
    assert response.content.endswith(b"\n") or response.content == b""
    return [json.loads(line) for line in response.content.splitlines()]


def _files(api: httpx.Client, store: httpx.Client, batch_id: str) -> tuple[list[Any], list[Any]]:
    links = _results(api, batch_id)
    assert links["result_available"] is True
    errors = _download(store, links["error_file_url"]) if links["error_file_url"] else []
    return _download(store, links["output_file_url"]), errors


def _prompts(count: int) -> list[dict[str, Any]]:
    return [
        _line(f"req-{n}", {"model": "llama3.3-70b-instruct", "input": f"prompt {n}"}) for n in range(count)
    ]


def _no_key_reached_the_store(server: LocalServer, *names: str) -> None:
    seen = [entry for entry in server.app.batches.store_requests if any(name in entry.path for name in names)]
    assert seen and not any(entry.authorization for entry in seen)


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body)
    stripped: dict[str, Any] = json.loads(
        re.sub(r'"(id|call_id|created)": ("[^"]*"|\d+)', r'"\1": null', text)
    )
    return stripped


# -- the happy path ---------------------------------------------------------------------------------------
def test_a_batch_runs_from_upload_to_downloaded_results(
    server: LocalServer, api: httpx.Client, store: httpx.Client
) -> None:
    lines = _prompts(12)
    intent = _checked(api.post("/v1/batches/files", json={"file_name": "Prompts.JSONL"}), 201, FILE_CREATED)
    url = urlsplit(intent["upload_url"])
    query = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}" == server.base_url
    assert url.path == f"/_objects/uploads/{intent['file_id']}.jsonl"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Expires"] == "900"
    assert re.fullmatch(r"\d{8}T\d{6}Z", query["X-Amz-Date"]) and re.fullmatch(
        r"[0-9a-f]{64}", query["X-Amz-Signature"]
    )
    assert ISO.fullmatch(intent["expires_at"])
    assert store.put(intent["upload_url"], content=_jsonl(lines)).status_code == 200

    job = _create(api, intent["file_id"], metadata={"team": "ml-eval"})
    assert job["status"] == "validating" and job["metadata"] == {"team": "ml-eval"}
    assert job["input_file_id"] == intent["file_id"] and job["output_file_id"] is None
    assert job["in_progress_at"] is None and job["expires_at"] is not None
    seen = [_poll(api, job["batch_id"]) for _ in STEPS]
    assert [step["status"] for step in seen] == STEPS
    assert seen[0]["request_counts"] == {"total": 12, "completed": 0, "failed": 0}
    done = seen[-1]
    assert done["request_counts"] == {"total": 12, "completed": 12, "failed": 0}
    assert done["output_file_id"] and done["error_file_id"] is None
    assert all(done[f"{name}_at"] for name in STEPS) and done["failed_at"] is done["cancelled_at"] is None
    assert _poll(api, job["batch_id"]) == done  # a terminal job stays as it is

    links = _results(api, job["batch_id"])
    assert links["error_file_url"] is None and ISO.fullmatch(links["expires_at"])
    output = _download(store, links["output_file_url"])
    assert sorted(entry["custom_id"] for entry in output) == sorted(line["custom_id"] for line in lines)
    assert [entry["custom_id"] for entry in output] != [line["custom_id"] for line in lines]
    assert len({entry["id"] for entry in output}) == 12
    for entry in output:
        assert entry["id"].startswith("batch_req_") and entry["error"] is None
        assert entry["response"]["status_code"] == 200 and entry["response"]["request_id"]
        body = entry["response"]["body"]
        assert_valid(body, RESPONSE)
        number = entry["custom_id"].removeprefix("req-")
        assert body["output"][0]["content"][0]["text"] == f"You said: prompt {number}"
    _no_key_reached_the_store(server, intent["file_id"], job["batch_id"])


def test_every_scripted_case_answers_as_a_live_call_would(api: httpx.Client, store: httpx.Client) -> None:
    lines = [_line(name, case) for name, case in sorted(CASES.items())]
    job = _submit(api, store, lines)
    assert _run(api, job["batch_id"])["request_counts"]["completed"] == len(CASES)
    output, errors = _files(api, store, job["batch_id"])
    assert errors == []
    for entry in output:
        body = entry["response"]["body"]
        assert_valid(body, RESPONSE)
        live = api.post("/v1/responses", json=CASES[entry["custom_id"]]).json()
        assert _without_ids(body) == _without_ids(live), entry["custom_id"]


def test_chat_completions_lines_get_chat_completion_bodies(api: httpx.Client, store: httpx.Client) -> None:
    lines = [_line(name, chat_body(case), "/v1/chat/completions") for name, case in sorted(CASES.items())]
    job = _submit(api, store, lines)
    assert job["endpoint"] == "/v1/chat/completions"
    assert _run(api, job["batch_id"])["status"] == "completed"
    output, errors = _files(api, store, job["batch_id"])
    assert errors == [] and len(output) == len(CASES)
    for entry in output:
        assert_valid(entry["response"]["body"], CHAT_RESPONSE)
        live = api.post("/v1/chat/completions", json=chat_body(CASES[entry["custom_id"]])).json()
        assert _without_ids(entry["response"]["body"]) == _without_ids(live), entry["custom_id"]


@pytest.mark.slow
def test_fifty_thousand_lines_are_answered_once_each_while_the_server_keeps_serving(
    server: LocalServer, api: httpx.Client, store: httpx.Client
) -> None:
    lines = [_line(f"n{n}", {"model": "m", "input": f"q{n}"}) for n in range(MAX_LINES)]
    job = _submit(api, store, lines)
    assert _poll(api, job["batch_id"])["request_counts"]["total"] == MAX_LINES
    running: list[dict[str, Any]] = []
    with _client(server) as poller:  # the poll that runs every line, from another thread
        worker = threading.Thread(target=lambda: running.append(_poll(poller, job["batch_id"])))
        worker.start()
        served_meanwhile = 0
        while worker.is_alive():
            assert api.get("/v1/models").status_code == 200
            served_meanwhile += worker.is_alive()
        worker.join()
    assert running[0]["status"] == "finalizing" and served_meanwhile > 0
    done = _poll(api, job["batch_id"])
    assert done["request_counts"] == {"total": MAX_LINES, "completed": MAX_LINES, "failed": 0}
    output, errors = _files(api, store, job["batch_id"])
    assert errors == [] and len(output) == MAX_LINES
    answers = {entry["custom_id"]: entry["response"]["body"] for entry in output}
    assert len(answers) == MAX_LINES
    assert all(
        answers[f"n{n}"]["output"][0]["content"][0]["text"] == f"You said: q{n}" for n in range(MAX_LINES)
    )


# -- the object store -------------------------------------------------------------------------------------
def _xml_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/xml"
    assert f"<Error><Code>{code}</Code><Message>" in response.text
    return response.text


def test_the_store_refuses_a_bearer_key_and_logs_it(
    server: LocalServer, api: httpx.Client, store: httpx.Client
) -> None:
    intent = _checked(api.post("/v1/batches/files", json={"file_name": "keyed.jsonl"}), 201, FILE_CREATED)
    # The API client carries the key: sending it to the store is the bug this refusal catches.
    text = _xml_error(api.put(intent["upload_url"], content=_jsonl(_prompts(2))), 400, "InvalidArgument")
    assert "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter" in text
    assert KEY not in text
    entry = [e for e in server.app.batches.store_requests if intent["file_id"] in e.path][-1]
    assert (entry.method, entry.authorization, entry.status) == ("PUT", True, 400)
    assert not any(KEY in repr(e) for e in server.app.batches.store_requests)
    _refused(_raw_create(api, intent["file_id"]), 400, "file_id", "has not completed")

    job = _create(api, _upload(api, store, _jsonl(_prompts(2))))
    api_links = _results_after(api, job["batch_id"])
    _xml_error(api.get(api_links["output_file_url"]), 400, "InvalidArgument")
    assert store.get(api_links["output_file_url"]).status_code == 200


def _raw_create(api: httpx.Client, file_id: str, **fields: Any) -> httpx.Response:
    body = {"file_id": file_id, "provider": "openai", "endpoint": "/v1/responses", "completion_window": "24h"}
    return api.post("/v1/batches", json={**body, "request_id": str(uuid.uuid4()), **fields})


def _results_after(api: httpx.Client, batch_id: str) -> dict[str, Any]:
    _run(api, batch_id)
    return _results(api, batch_id)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items() if v)))


def test_a_wrong_signature_or_method_is_refused(api: httpx.Client, store: httpx.Client) -> None:
    intent = _checked(api.post("/v1/batches/files", json={"file_name": "signed.jsonl"}), 201, FILE_CREATED)
    url = intent["upload_url"]
    data = _jsonl(_prompts(1))
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    for wrong in (
        _with_query(url, **{"X-Amz-Signature": flipped}),
        _with_query(url, **{"X-Amz-Signature": ""}),
        _with_query(url, **{"X-Amz-Expires": "604800"}),
        urlunsplit(urlsplit(url)._replace(query="")),
        url.replace("/uploads/", "/outputs/"),
    ):
        _xml_error(store.put(wrong, content=data), 403, "SignatureDoesNotMatch")
    _xml_error(store.get(url), 403, "SignatureDoesNotMatch")  # signed for PUT only
    _xml_error(store.post(url, content=data), 403, "SignatureDoesNotMatch")
    assert store.put(url, content=data).status_code == 200


def test_an_expired_url_is_refused(fresh: LocalServer, store: httpx.Client) -> None:
    with _client(fresh) as api:
        intent = _checked(api.post("/v1/batches/files", json={"file_name": "late.jsonl"}), 201, FILE_CREATED)
        batches = fresh.app.batches
        issued = time.time()
        batches.clock = lambda: issued + 899
        assert store.put(intent["upload_url"], content=_jsonl(_prompts(1))).status_code == 200
        batches.clock = lambda: issued + 902
        text = _xml_error(store.put(intent["upload_url"], content=b"{}\n"), 403, "AccessDenied")
        assert "<Message>Request has expired</Message>" in text
        batches.clock = time.time


def test_uploads_are_not_bound_by_max_body_bytes_but_by_the_store_limit(store: httpx.Client) -> None:
    with LocalServer(api_key=KEY, max_body_bytes=4096) as small, _client(small) as api:
        lines = [_line(f"big-{n}", {"model": "m", "input": "x " * 500}) for n in range(40)]
        data = _jsonl(lines)
        assert len(data) > 10 * 4096
        job = _create(api, _upload(api, store, data))
        assert _run(api, job["batch_id"])["request_counts"]["completed"] == 40
        small.app.batches.store.max_object_bytes = 1000
        intent = _checked(api.post("/v1/batches/files", json={"file_name": "huge.jsonl"}), 201, FILE_CREATED)
        _xml_error(store.put(intent["upload_url"], content=data), 400, "EntityTooLarge")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield from (data[start : start + 512] for start in range(0, len(data), 512))

        _xml_error(store.put(intent["upload_url"], content=chunks()), 400, "EntityTooLarge")
        _refused(_raw_create(api, intent["file_id"]), 400, "has not completed")


# -- creating jobs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["file_name", "required"]),
        ({"file_name": "short"}, ["file_name", ".jsonl"]),
        ({"file_name": ".jsonl"}, ["file_name"]),
        ({"file_name": "data.json"}, ["file_name"]),
        ({"file_name": "data.jsonl\n"}, ["file_name"]),
        ({"file_name": 7}, ["file_name"]),
        ({"file_name": "data.jsonl", "purpose": "batch"}, ["purpose", "unknown field"]),
    ],
)
def test_a_bad_file_intent_is_a_400_naming_the_field(
    api: httpx.Client, body: dict[str, Any], words: list[str]
) -> None:
    _refused(api.post("/v1/batches/files", json=body), 400, *words)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"file_id": DROP}, ["file_id", "required"]),
        ({"request_id": DROP}, ["request_id", "required"]),
        ({"provider": DROP}, ["provider", "required"]),
        ({"completion_window": DROP}, ["completion_window", "required"]),
        ({"colour": "blue"}, ["colour", "unknown field"]),
        ({"provider": "mistral"}, ["provider", "openai, anthropic"]),
        ({"completion_window": "48h"}, ["completion_window", "24h"]),
        ({"completion_window": ["24h"]}, ["completion_window"]),
        ({"endpoint": "/v1/embeddings"}, ["endpoint", "/v1/responses"]),
        ({"endpoint": DROP}, ["endpoint", "required when provider is 'openai'"]),
        ({"endpoint": None}, ["endpoint", "required when provider is 'openai'"]),
        ({"provider": "anthropic", "endpoint": None}, ["endpoint", "omitted"]),
        ({"provider": "anthropic"}, ["endpoint", "omitted"]),
        ({"metadata": {"n": 1}}, ["metadata.n", "string"]),
        ({"metadata": ["x"]}, ["metadata"]),
        ({"file_id": "file-abc"}, ["file_id", "UUID"]),
        ({"request_id": 12}, ["request_id", "string"]),
    ],
)
def test_a_bad_create_request_is_a_400_naming_the_field(
    api: httpx.Client, store: httpx.Client, change: dict[str, Any], words: list[str]
) -> None:
    body = {
        "file_id": str(uuid.uuid4()),
        "provider": "openai",
        "endpoint": "/v1/responses",
        "completion_window": "24h",
        "request_id": str(uuid.uuid4()),
    }
    body = {key: value for key, value in (body | change).items() if value is not DROP}
    _refused(api.post("/v1/batches", json=body), 400, *words)


def test_unknown_and_unfinished_files_are_refused(api: httpx.Client) -> None:
    _refused(_raw_create(api, str(uuid.uuid4())), 404, "file_id", "POST /v1/batches/files")
    intent = _checked(api.post("/v1/batches/files", json={"file_name": "never.jsonl"}), 201, FILE_CREATED)
    _refused(_raw_create(api, intent["file_id"]), 400, "file_id", "has not completed")
    _refused(api.post("/v1/batches", content=b"[1]"), 400, "JSON object")
    _refused(api.post("/v1/batches", content=b"{"), 400, "not valid JSON")


def test_the_same_request_id_returns_the_same_job(
    server: LocalServer, api: httpx.Client, store: httpx.Client
) -> None:
    file_id = _upload(api, store, _jsonl(_prompts(2)))
    request_id = str(uuid.uuid4())
    first = _create(api, file_id, request_id=request_id)
    again = _job(_raw_create(api, file_id, request_id=request_id), 201)
    assert again == first
    _poll(api, first["batch_id"])
    third = _job(_raw_create(api, file_id, request_id=request_id), 201)
    assert third["batch_id"] == first["batch_id"] and third["status"] == "in_progress"
    listed = _checked(api.get("/v1/batches", params={"limit": 100}), 200, BATCH_LIST)["data"]
    assert [job["batch_id"] for job in listed if job["request_id"] == request_id] == [first["batch_id"]]
    _refused(
        _raw_create(api, file_id, request_id=request_id, metadata={"other": "run"}),
        409,
        "request_id",
        "different",
    )


def test_anthropic_jobs_are_accepted_but_their_lines_fail_validation(
    api: httpx.Client, store: httpx.Client
) -> None:
    file_id = _upload(
        api, store, _jsonl([{"custom_id": "a", "params": {"model": "claude", "max_tokens": 5}}])
    )
    job = _create(api, file_id, endpoint=None, provider="anthropic", metadata={"team": "x"})
    assert "endpoint" not in job and job["provider"] == "anthropic"
    failed = _poll(api, job["batch_id"])
    assert failed["status"] == "failed" and failed["failed_at"]
    assert failed["errors"][0]["line"] == 1 and "OpenAI-format" in failed["errors"][0]["message"]


# -- validation and per-line errors -----------------------------------------------------------------------
def test_invalid_lines_fail_the_job_with_their_line_numbers(api: httpx.Client, store: httpx.Client) -> None:
    good = _line("ok", {"model": "m", "input": "hi"})
    data = b"\n".join(
        [
            json.dumps(good).encode(),
            b"{not json",
            json.dumps({"method": "POST", "url": "/v1/responses", "body": {}}).encode(),
            json.dumps(_line("ok", {"model": "m", "input": "again"})).encode(),
            json.dumps(_line("chat", {"model": "m"}, "/v1/chat/completions")).encode(),
            json.dumps({**_line("get", {}), "method": "GET"}).encode(),
            json.dumps({**_line("nobody", {}), "body": []}).encode(),
            b"[1, 2]",
            json.dumps(_line("fine", {"model": "m", "input": "fine"})).encode(),
        ]
    )
    job = _create(api, _upload(api, store, data + b"\n"))
    failed = _poll(api, job["batch_id"])
    assert failed["status"] == "failed" and failed["failed_at"] and failed["in_progress_at"] is None
    assert failed["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    errors = failed["errors"]
    assert [error["line"] for error in errors] == [2, 3, 4, 5, 6, 7, 8]
    assert {error["code"] for error in errors} == {"invalid_input_file"}
    assert all(error["message"].startswith(f"Line {error['line']}: ") for error in errors)
    messages = [error["message"] for error in errors]
    assert "not valid JSON" in messages[0] and "'custom_id'" in messages[1]
    assert "duplicate custom_id 'ok' (first on line 1)" in messages[2]
    assert "does not match the batch's endpoint '/v1/responses'" in messages[3]
    assert "method" in messages[4] and "body" in messages[5] and "JSON object" in messages[6]
    links = _results(api, job["batch_id"])
    assert links == {
        "batch_id": job["batch_id"],
        "result_available": False,
        "output_file_url": None,
        "error_file_url": None,
        "expires_at": None,
    }
    _refused(api.post(f"/v1/batches/{job['batch_id']}/cancel"), 409, "failed")


def test_too_many_lines_or_an_empty_file_fail_the_job(api: httpx.Client, store: httpx.Client) -> None:
    many = _create(api, _upload(api, store, b'{"x": 1}\n' * (MAX_LINES + 1)))
    failed = _poll(api, many["batch_id"])
    assert failed["status"] == "failed" and failed["errors"][0]["line"] == MAX_LINES + 1
    assert "more than 50000 requests" in failed["errors"][0]["message"]
    empty = _create(api, _upload(api, store, b""))
    failed = _poll(api, empty["batch_id"])
    assert failed["status"] == "failed" and failed["errors"][0]["line"] is None


def test_refused_and_failing_lines_land_in_the_error_file(api: httpx.Client, store: httpx.Client) -> None:
    lines = [
        _line("fine", {"model": "m", "input": "all good"}),
        _line("boom", {"model": "m", "input": f"please {FAIL_MARKER} now"}),
        _line("boom-items", {"model": "m", "input": [{"role": "user", "content": f"x {FAIL_MARKER}"}]}),
        _line("not-user", {"model": "m", "input": "hi", "instructions": FAIL_MARKER}),
        _line("no-input", {"model": "m"}),
        _line("hot", {"model": "m", "input": "hi", "temperature": "hot"}),
        _line("streams", {"model": "m", "input": "hi", "stream": True}),
        _line("deep", {"model": "m", "input": "hi", "metadata": json.loads("[" * 200 + "]" * 200)}),
    ]
    job = _submit(api, store, lines)
    done = _run(api, job["batch_id"])
    assert done["status"] == "completed" and done["error_file_id"]
    assert done["request_counts"] == {"total": 8, "completed": 2, "failed": 6}
    output, errors = _files(api, store, job["batch_id"])
    assert sorted(entry["custom_id"] for entry in output) == ["fine", "not-user"]
    statuses = {entry["custom_id"]: entry["response"]["status_code"] for entry in errors}
    assert statuses == {
        "boom": 500,
        "boom-items": 500,
        "no-input": 400,
        "hot": 400,
        "streams": 400,
        "deep": 400,
    }
    for entry in errors:
        assert entry["id"].startswith("batch_req_") and entry["error"] is None
        error = entry["response"]["body"]["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["param"] is error["code"] is None
        kind = "server_error" if entry["response"]["status_code"] == 500 else "invalid_request_error"
        assert error["type"] == kind
    by_id = {entry["custom_id"]: entry["response"]["body"]["error"]["message"] for entry in errors}
    assert by_id["hot"].startswith("temperature") and by_id["streams"].startswith("stream")
    live = api.post("/v1/responses", json={"model": "m", "input": "hi", "temperature": "hot"})
    assert live.status_code == 400 and live.json()["message"] == by_id["hot"]


# -- polling, cancelling, results, listing ----------------------------------------------------------------
def test_results_wait_for_a_terminal_job_and_unknown_ids_are_404(
    api: httpx.Client, store: httpx.Client
) -> None:
    job = _submit(api, store, _prompts(3))
    for step in STEPS:
        body = _refused(api.get(f"/v1/batches/{job['batch_id']}/results"), 412, "not yet available")
        assert body["id"] == "precondition_failed"
        assert _poll(api, job["batch_id"])["status"] == step
    assert _results(api, job["batch_id"])["result_available"] is True
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        _refused(api.get(f"/v1/batches/{unknown}"), 404, "batch_id")
        _refused(api.get(f"/v1/batches/{unknown}/results"), 404, "batch_id")
        _refused(api.post(f"/v1/batches/{unknown}/cancel"), 404, "batch_id")


def test_cancel_is_refused_while_validating_then_leaves_partial_results(
    api: httpx.Client, store: httpx.Client
) -> None:
    lines = _prompts(10)
    job = _submit(api, store, lines)
    _refused(api.post(f"/v1/batches/{job['batch_id']}/cancel"), 409, "validating", "nothing to cancel")
    assert _poll(api, job["batch_id"])["status"] == "in_progress"
    cancelling = _job(api.post(f"/v1/batches/{job['batch_id']}/cancel"))
    assert cancelling["status"] == "cancelling" and cancelling["cancelled_at"] is None
    assert _job(api.post(f"/v1/batches/{job['batch_id']}/cancel"))["status"] == "cancelling"
    _refused(api.get(f"/v1/batches/{job['batch_id']}/results"), 412)
    cancelled = _poll(api, job["batch_id"])
    assert (
        cancelled["status"] == "cancelled" and cancelled["cancelled_at"] and cancelled["completed_at"] is None
    )
    assert cancelled["request_counts"] == {"total": 10, "completed": 5, "failed": 0}
    assert cancelled["output_file_id"] and cancelled["error_file_id"]
    output, errors = _files(api, store, job["batch_id"])
    assert sorted(entry["custom_id"] for entry in output) == sorted(f"req-{n}" for n in range(5))
    assert sorted(entry["custom_id"] for entry in errors) == sorted(f"req-{n}" for n in range(5, 10))
    for entry in errors:
        assert entry["response"] is None and entry["error"]["code"] == "batch_cancelled"
    _refused(api.post(f"/v1/batches/{job['batch_id']}/cancel"), 409, "cancelled")


def test_polls_per_step_and_finish(store: httpx.Client) -> None:
    with LocalServer(api_key=KEY, batch_polls_per_step=3) as slow, _client(slow) as api:
        job = _submit(api, store, _prompts(9))
        statuses = [_poll(api, job["batch_id"]) for _ in range(6)]
        assert [step["status"] for step in statuses] == ["validating"] * 2 + ["in_progress"] * 3 + [
            "finalizing"
        ]
        assert [step["request_counts"]["completed"] for step in statuses[2:]] == [0, 3, 6, 9]
        other = _submit(api, store, _prompts(2))
        finished = slow.app.batches.finish(other["batch_id"])
        assert finished["status"] == "completed" and finished["request_counts"]["completed"] == 2
        assert _poll(api, other["batch_id"]) == finished


def test_a_job_past_its_window_expires(fresh: LocalServer, store: httpx.Client) -> None:
    with _client(fresh) as api:
        job = _submit(api, store, _prompts(4))
        assert _poll(api, job["batch_id"])["status"] == "in_progress"
        later = time.time() + 24 * 3600 + 5
        fresh.app.batches.clock = lambda: later
        expired = _poll(api, job["batch_id"])
        assert expired["status"] == "expired" and expired["request_counts"]["completed"] == 0
        output, errors = _files(api, store, job["batch_id"])
        assert output == [] and {entry["error"]["code"] for entry in errors} == {"batch_expired"}
        assert len(errors) == 4


def test_the_list_is_newest_first_paged_and_filtered(fresh: LocalServer, store: httpx.Client) -> None:
    with _client(fresh) as api:
        empty = _checked(api.get("/v1/batches"), 200, BATCH_LIST)
        assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        file_id = _upload(api, store, _jsonl(_prompts(1)))
        made = [_create(api, file_id)["batch_id"] for _ in range(5)]
        for batch_id in made[:2]:
            fresh.app.batches.finish(batch_id)
        newest_first = made[::-1]
        seen: list[str] = []
        after: str | None = None
        while True:
            params = {"limit": "2"} | ({"after": after} if after else {})
            page = _checked(api.get("/v1/batches", params=params), 200, BATCH_LIST)
            seen += [job["batch_id"] for job in page["data"]]
            assert (
                page["first_id"] == page["data"][0]["batch_id"]
                and page["last_id"] == page["data"][-1]["batch_id"]
            )
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == newest_first
        whole = _checked(api.get("/v1/batches"), 200, BATCH_LIST)
        assert [job["batch_id"] for job in whole["data"]] == newest_first and whole["has_more"] is False
        done = _checked(api.get("/v1/batches", params={"status": "completed"}), 200, BATCH_LIST)
        assert [job["batch_id"] for job in done["data"]] == made[1::-1]
        waiting = _checked(
            api.get("/v1/batches", params={"status": "validating", "limit": 2}), 200, BATCH_LIST
        )
        assert [job["batch_id"] for job in waiting["data"]] == newest_first[:2] and waiting["has_more"]
        for params, word in (
            ({"limit": "0"}, "limit"),
            ({"limit": "101"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"status": "done"}, "status"),
            ({"after": "nope"}, "after"),
            ({"after": str(uuid.uuid4())}, "after"),
        ):
            _refused(api.get("/v1/batches", params=params), 400, word)


# -- auth, faults, routing --------------------------------------------------------------------------------
def test_every_batch_route_needs_the_key_and_takes_staged_faults(
    server: LocalServer, api: httpx.Client, store: httpx.Client
) -> None:
    job = _submit(api, store, _prompts(1))
    routes = [
        ("POST", "/v1/batches/files"),
        ("POST", "/v1/batches"),
        ("GET", "/v1/batches"),
        ("GET", f"/v1/batches/{job['batch_id']}"),
        ("POST", f"/v1/batches/{job['batch_id']}/cancel"),
        ("GET", f"/v1/batches/{job['batch_id']}/results"),
    ]
    with httpx.Client(base_url=server.base_url) as anonymous:
        for method, path in routes:
            _refused(anonymous.request(method, path, json={}), 401, "Bearer")
    for method, path in routes:
        _refused(
            api.request(method, path, json={}, headers={"x-gradient-fault": "status:500"}), 500, "Injected"
        )
    limited = api.post(
        "/v1/batches",
        json={"file_id": "x"},
        headers={"x-gradient-fault": "rate_limit:1", "x-gradient-fault-key": "b1"},
    )
    assert _refused(limited, 429, "rate limit")["id"] == "too_many_requests"
    assert limited.headers["retry-after"]
    assert _poll(api, job["batch_id"])["status"] == "in_progress"  # the faulted GETs moved nothing


def test_unknown_routes_list_the_batch_endpoints(api: httpx.Client) -> None:
    message = _refused(api.get("/v1/nothing"), 404)["message"]
    for endpoint in ("POST /v1/batches/files", "GET /v1/batches/{batch_id}/results", "POST /v1/batches"):
        assert endpoint in message
    assert _refused(api.delete(f"/v1/batches/{uuid.uuid4()}"), 405)["id"] == "method_not_allowed"


def test_polls_per_step_is_a_positive_integer_from_create_app_to_the_cli() -> None:
    assert create_app(batch_polls_per_step=4).batches.polls_per_step == 4
    assert create_app().batches.polls_per_step == 1
    for wrong in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_polls_per_step"):
            create_app(batch_polls_per_step=wrong)  # type: ignore[arg-type]
    assert parse_args(["--batch-polls-per-step", "3"]).batch_polls_per_step == 3
    assert parse_args([]).batch_polls_per_step == 1
    with pytest.raises(SystemExit):
        parse_args(["--batch-polls-per-step", "0"])
