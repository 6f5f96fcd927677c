"""DO's vendored OpenAPI schemas (`spec/`) as jsonschema validators, for checking what the server emits.

OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`; loading turns `nullable: true` into a null
alternative and resolves the files' relative `$ref`s through a `referencing` registry keyed by file URI.
`strict=True` also forbids properties the spec does not declare, except `DOCUMENTED_EXTRAS` (fields the
server sends on purpose for OpenAI-SDK compatibility, listed in docs/local-server.md, "Endpoints"), so a
misspelt field name fails a test instead of passing as an "additional property".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC = Path(__file__).parent / "spec" / "specification"
MODELS = "resources/inference/models/"
RESPONSE = MODELS + "create_response_response.yml"
STREAM_CHUNK = MODELS + "create_response_stream_response.yml"
CHAT_RESPONSE = MODELS + "chat_completion_response.yml"
CHAT_CHUNK = MODELS + "chat_completion_chunk.yml"
MODEL_LIST = MODELS + "list_models_response.yml"
ERROR = "shared/models/error.yml"

DOCUMENTED_EXTRAS = frozenset(
    {
        "incomplete_details",  # response: why status is `incomplete` (OpenAI's field)
        "summary",  # reasoning output item (OpenAI's field)
        "annotations",  # output_text content part (OpenAI's field)
        "index",  # DO stream tool-call piece: which call it belongs to (chat-completions style)
        "strict",  # echoed tool definition
        "prompt_tokens_details",  # chat usage in OpenAI's naming, next to DO's cache_* fields
        "completion_tokens_details",
    }
)


def _convert(node: Any, *, strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _convert(value, strict=strict) for key, value in node.items() if key != "nullable"}
    if strict and isinstance(converted.get("properties"), dict) and "additionalProperties" not in converted:
        converted["properties"] = {**{extra: {} for extra in DOCUMENTED_EXTRAS}, **converted["properties"]}
        converted["additionalProperties"] = False
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:  # a $ref or allOf cannot carry the null: offer it as an alternative
            converted = {"anyOf": [{"type": "null"}, converted]}
    return converted


@lru_cache(maxsize=2)
def _registry(strict: bool) -> Registry[Any]:
    resources = []
    for path in sorted(SPEC.rglob("*.yml")):
        contents = _convert(yaml.safe_load(path.read_text(encoding="utf-8")), strict=strict)
        resources.append((path.as_uri(), Resource(contents=contents, specification=DRAFT4)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=32)
def validator(schema_path: str, *, strict: bool = True) -> Draft4Validator:
    """A validator for one vendored schema file, e.g. `validator(RESPONSE)`."""
    return Draft4Validator({"$ref": (SPEC / schema_path).as_uri()}, registry=_registry(strict))


def spec_errors(instance: Any, schema_path: str, *, strict: bool = True) -> list[str]:
    """Every violation, as readable `path: message` lines (empty when the instance is valid)."""
    errors = validator(schema_path, strict=strict).iter_errors(instance)
    return [f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}" for error in errors]


def assert_valid(instance: Any, schema_path: str, *, strict: bool = True) -> None:
    errors = spec_errors(instance, schema_path, strict=strict)
    assert not errors, f"not valid against {schema_path}:\n" + "\n".join(errors)
