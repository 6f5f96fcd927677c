"""Each non-2xx status becomes its own error class carrying status, error id, request id and message.

Bodies come in DO's form `{"id", "message", "request_id"}` (the spec's own examples are read from the
copied `shared/responses/*.yml`) and in vLLM/OpenAI's `{"error": {"message", "type", "code"}}`. Errors
are raised the same way by `create`, `acreate` and a stream that is refused before it starts.
"""

from __future__ import annotations

import httpx
import pytest
from fakes import FakeEndpoint, Reply, json_reply

from gradient_integrations.core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    GradientError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFailedError,
    ResponseReader,
    StreamError,
    StreamTimeoutError,
    UnprocessableEntityError,
    build_request,
)
from gradient_integrations.core.errors import StreamConnectionError

from ._support import acollect, collect, load_yaml, make_client

REQUEST = build_request(model="m", input="hi")

STATUS_CLASSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
    (418, APIStatusError),  # any other 4xx: the base class
    (451, APIStatusError),
]


def _do_body(status: int) -> dict[str, str]:
    return {"id": f"err_{status}", "message": f"DO says {status}", "request_id": f"req-{status}"}


def _vllm_body(status: int) -> dict[str, object]:
    return {
        "error": {"message": f"vLLM says {status}", "type": f"Type{status}", "param": None, "code": status}
    }


async def _raise(script: FakeEndpoint, how: str) -> APIStatusError:
    client = make_client(script, max_retries=0)
    with pytest.raises(APIStatusError) as caught:
        if how == "create":
            client.create(REQUEST)
        elif how == "acreate":
            await client.acreate(REQUEST)
        elif how == "stream":
            collect(client.stream(REQUEST))
        else:
            await acollect(client.astream(REQUEST))
    assert script.count == 1
    return caught.value


@pytest.mark.parametrize("how", ["create", "acreate", "stream", "astream"])
@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_do_error_body(status: int, cls: type[APIStatusError], how: str) -> None:
    error = await _raise(FakeEndpoint(json_reply(_do_body(status), status=status)), how)
    assert type(error) is cls
    assert error.status_code == status
    assert (error.error_id, error.request_id) == (f"err_{status}", f"req-{status}")
    assert (
        str(error) == f"Error code: {status} - DO says {status} (id: err_{status}) (request_id: req-{status})"
    )
    assert error.message == str(error)
    assert error.body == _do_body(status)
    assert error.response.status_code == status
    assert error.request is not None and error.request.url.path == "/v1/responses"


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_vllm_error_body(status: int, cls: type[APIStatusError]) -> None:
    script = FakeEndpoint(
        json_reply(_vllm_body(status), status=status, headers={"x-request-id": "hdr-req-1"})
    )
    error = await _raise(script, "create")
    assert type(error) is cls
    assert error.status_code == status
    assert error.error_id == f"Type{status}"
    assert error.request_id == "hdr-req-1"  # no request_id in the body: the header supplies it
    assert f"vLLM says {status}" in str(error)


@pytest.mark.parametrize(
    "name", ["bad_request", "unauthorized", "too_many_requests", "server_error", "unexpected_error"]
)
async def test_do_spec_error_examples(name: str) -> None:
    example = load_yaml(f"responses/{name}.yml")["content"]["application/json"]["example"]
    status = {"bad_request": 400, "unauthorized": 401, "too_many_requests": 429, "server_error": 500}.get(
        name, 418
    )
    error = await _raise(FakeEndpoint(json_reply(example, status=status)), "acreate")
    assert error.error_id == example["id"]
    assert example["message"] in str(error)
    assert error.request_id == example.get("request_id")


async def test_non_json_error_body() -> None:
    error = await _raise(FakeEndpoint(Reply(status=502, headers={"content-type": "text/html"})), "create")
    assert type(error) is InternalServerError
    assert str(error) == "Error code: 502 - Bad Gateway"
    assert (error.error_id, error.request_id, error.body) == (None, None, None)


async def test_plain_text_error_body_becomes_the_message() -> None:
    class TextReply(Reply):
        def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
            return httpx.Response(503, text="upstream unavailable", request=request)

    error = await _raise(FakeEndpoint(TextReply()), "create")
    assert str(error) == "Error code: 503 - upstream unavailable"
    assert error.body == "upstream unavailable"


def test_invalid_json_on_success_is_an_api_error() -> None:
    class Garbage(Reply):
        def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
            return httpx.Response(200, content=b"<html>", headers={"content-type": "application/json"})

    with pytest.raises(APIError, match="invalid JSON") as caught:
        make_client(FakeEndpoint(Garbage())).create(REQUEST)
    assert not isinstance(caught.value, APIStatusError)
    with pytest.raises(APIError, match="not an object"):
        make_client(FakeEndpoint(json_reply([1, 2]))).create(REQUEST)


def test_exception_tree() -> None:
    assert issubclass(ConfigurationError, GradientError) and issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidRequestError, GradientError) and issubclass(InvalidRequestError, ValueError)
    for cls in (APIStatusError, APIConnectionError, StreamError):
        assert issubclass(cls, APIError) and issubclass(cls, GradientError)
    assert issubclass(APITimeoutError, APIConnectionError)
    # A transport failure mid-stream is both: a StreamError (with `.partial`) and an APIConnectionError.
    assert issubclass(StreamConnectionError, StreamError) and issubclass(
        StreamConnectionError, APIConnectionError
    )
    assert issubclass(StreamTimeoutError, StreamConnectionError) and issubclass(
        StreamTimeoutError, APITimeoutError
    )
    # The server's own verdict is not a connection failure.
    assert issubclass(ResponseFailedError, StreamError)
    assert not issubclass(ResponseFailedError, APIConnectionError)
    for _, cls in STATUS_CLASSES:
        assert issubclass(cls, APIStatusError)


def test_stream_errors_build_with_their_partial_and_message() -> None:
    partial = ResponseReader().snapshot()
    for cls in (StreamError, ResponseFailedError, StreamConnectionError, StreamTimeoutError):
        error = cls("went wrong", partial=partial)
        assert str(error) == error.message == "went wrong"
        assert error.partial is partial and error.request is None
