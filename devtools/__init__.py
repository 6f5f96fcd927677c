"""Contributor tools, kept in the repository and not in the wheel: cassette recording, notebook runs.

`cassettes` holds the vcrpy configuration the integration tests use (every request header and the query
string redacted, a JSON-aware body matcher, a serializer that stamps each cassette with the server it was
recorded against) and the scanner that proves no key landed in a cassette. `notebooks` executes and
scrubs the quickstart notebooks. Neither imports vcrpy, PyYAML or nbclient until a function needs them,
so importing this package costs nothing extra. Run from the repository root (pytest's `pythonpath` has it).
"""

from .cassettes import (
    CassetteError,
    RecordingSource,
    StampedYamlSerializer,
    StoredCassette,
    build_vcr,
    cassette_name,
    find_key_like,
    json_body_matcher,
    read_cassette,
    redact_request,
    redact_response,
    vcr_options,
)

__all__ = [
    "CassetteError",
    "RecordingSource",
    "StampedYamlSerializer",
    "StoredCassette",
    "build_vcr",
    "cassette_name",
    "find_key_like",
    "json_body_matcher",
    "read_cassette",
    "redact_request",
    "redact_response",
    "vcr_options",
]
