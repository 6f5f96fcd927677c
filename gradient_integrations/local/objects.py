"""The object store behind Batch Inference files: presigned S3-style URLs on the local server itself.

DO hands out presigned Spaces URLs for batch files: `PUT` the input JSONL to `upload_url`, `GET` the output
and error files from the URLs `GET /v1/batches/{batch_id}/results` returns. This store answers those URLs
on the same app, under `/_objects/<key>` (`uploads/<file_id>.jsonl`, `outputs/<batch_id>.jsonl`,
`errors/<batch_id>.jsonl`), and refuses what S3/Spaces refuses, with S3's XML error bodies:

- a request that carries an `Authorization` header: `400 InvalidArgument` (S3 allows one auth mechanism,
  and the presigned query is one: a client that sends its bearer key here has a bug, and would leak the key
  to object storage);
- a missing or wrong signature, or a method the URL was not signed for: `403 SignatureDoesNotMatch`;
- an expired URL: `403 AccessDenied` ("Request has expired");
- an upload over `max_object_bytes` (200 MB, DO's limit for a batch input file): `400 EntityTooLarge`.
  The API's `max_body_bytes` does not apply here; the body is counted as it arrives.

The signature is an HMAC-SHA256, with a per-store random secret, of the method, the path, `X-Amz-Date` and
`X-Amz-Expires`, so no part of the URL can be changed. Every request is recorded in `requests`
(`StoreRequest`: method, path, whether an Authorization header was present, the status answered), so tests
can check that a client never sent its key to the store. Objects are kept in memory.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

__all__ = [
    "DOWNLOAD_URL_SECONDS",
    "MAX_OBJECT_BYTES",
    "OBJECTS_PREFIX",
    "UPLOAD_URL_SECONDS",
    "ObjectStore",
    "StoreRequest",
]

logger = logging.getLogger("gradient_integrations.local")

OBJECTS_PREFIX = "/_objects/"
MAX_OBJECT_BYTES = 200 * 1000 * 1000  # DO: "up to 200 MB" per batch input file
UPLOAD_URL_SECONDS = 900  # DO: upload URLs are "typically valid for ~15 minutes"
DOWNLOAD_URL_SECONDS = 3600
_ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_TWO_AUTHS = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Use the presigned URL exactly as it was given, with the method it was issued for."
)


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """One request the object store received: `authorization` says whether it carried that header."""

    method: str
    path: str
    authorization: bool
    status: int


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ObjectStore:
    """In-memory objects served at presigned URLs (see the module docstring). `clock` gives the time in
    seconds since the epoch (tests move it to expire URLs)."""

    def __init__(self, clock: Callable[[], float], *, max_object_bytes: int = MAX_OBJECT_BYTES) -> None:
        self._clock = clock
        self._secret = os.urandom(32)
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.max_object_bytes = max_object_bytes
        self.requests: list[StoreRequest] = []

    def __repr__(self) -> str:
        return f"ObjectStore({len(self._objects)} objects)"

    # -- the API side ---------------------------------------------------------------------------------
    def presign(self, method: str, key: str, base_url: str, seconds: int) -> tuple[str, float]:
        """A presigned URL for `method` on object `key`, on the server at `base_url`; and when it expires."""
        now = self._clock()
        date = time.strftime(_DATE_FORMAT, time.gmtime(now))
        path = OBJECTS_PREFIX + key
        query = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Expires": str(seconds),
            "X-Amz-Date": date,
            "X-Amz-Signature": self._sign(method, path, date, str(seconds)),
        }
        return f"{base_url.rstrip('/')}{path}?{urlencode(query)}", calendar.timegm(time.gmtime(now)) + seconds

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._objects[key] = data

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._objects.get(key)

    def exists(self, key: str) -> bool:
        """The `HEAD` check DO makes before accepting a batch: has this object been uploaded?"""
        with self._lock:
            return key in self._objects

    def _sign(self, method: str, path: str, date: str, expires: str) -> str:
        message = "\n".join((method.upper(), path, date, expires)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    # -- the HTTP side --------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        """Answer one request to `/_objects/...` (no bearer auth: the URL's signature is the credential)."""
        authorization = "authorization" in request.headers
        body_read = False
        try:
            response, body_read = await self._answer(request, authorization)
        except _Refusal as refusal:
            response = _xml_error(refusal, request)
        except ClientDisconnect:
            logger.debug("client disconnected during %s %s", request.method, request.url.path)
            response = _xml_error(_Refusal(400, "IncompleteBody", "The body ended early."), request)
        except Exception:  # a bug here must not leak a traceback to the client
            logger.exception("local object store failed on %s %s", request.method, request.url.path)
            response = _xml_error(
                _Refusal(500, "InternalError", "The local store failed; see its log."), request
            )
        self.requests.append(
            StoreRequest(request.method, request.url.path, authorization, response.status_code)
        )
        headers = request.headers
        if not body_read and (headers.get("content-length", "0") != "0" or "transfer-encoding" in headers):
            response.headers["connection"] = "close"  # the unread body must not be parsed as a request
        return response

    async def _answer(self, request: Request, authorization: bool) -> tuple[Response, bool]:
        if authorization:
            raise _Refusal(400, "InvalidArgument", _TWO_AUTHS)
        path = request.url.path
        key = path[len(OBJECTS_PREFIX) :]
        query = request.query_params
        date, expires = query.get("X-Amz-Date", ""), query.get("X-Amz-Expires", "")
        signature = query.get("X-Amz-Signature", "")
        expected = self._sign(request.method, path, date, expires)
        if query.get("X-Amz-Algorithm") != _ALGORITHM or not hmac.compare_digest(
            signature.encode(), expected.encode()
        ):
            raise _Refusal(403, "SignatureDoesNotMatch", _BAD_SIGNATURE)
        # Signed by this store, so both parse.
        issued = calendar.timegm(time.strptime(date, _DATE_FORMAT))
        if self._clock() > issued + int(expires):
            raise _Refusal(403, "AccessDenied", "Request has expired")
        if request.method == "PUT":
            data = await self._read(request)
            self.put(key, data)
            etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
            return Response(b"", 200, {"etag": etag}), True
        content = self.get(key)
        if content is None:
            raise _Refusal(404, "NoSuchKey", "The specified key does not exist.")
        etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
        return Response(content, 200, {"etag": etag}, "application/octet-stream"), False

    async def _read(self, request: Request) -> bytes:
        limit = self.max_object_bytes
        too_large = _Refusal(
            400,
            "EntityTooLarge",
            f"Your proposed upload exceeds the maximum allowed size ({limit} bytes for a batch input file).",
        )
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


def _xml_error(refusal: _Refusal, request: Request) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(refusal.code)}</Code><Message>{escape(refusal.message)}</Message>"
        f"<Resource>{escape(request.url.path)}</Resource><RequestId>{os.urandom(8).hex()}</RequestId></Error>"
    )
    return Response(body, refusal.status, media_type="application/xml")
