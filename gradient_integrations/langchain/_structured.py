"""`with_structured_output` for ChatGradient: three ways to ask for a schema, one way to parse.

- `function_calling`: bind the schema as the only tool and force it (`tool_choice` = its name,
  `parallel_tool_calls=False`); parse the first tool call.
- `json_schema`: the endpoint's constrained decoding, `text={"format": {"type": "json_schema", "name",
  "schema", "strict"}}`; parse the text.
- `json_mode`: `text={"format": {"type": "json_object"}}` (any JSON object; say the keys in the prompt).

Parsing follows LangChain's conventions: a pydantic schema gives instances, anything else gives dicts; a
parse failure raises `OutputParserException`, or with `include_raw=True` lands in `parsing_error` beside
`raw` and `parsed=None`. Every binding carries `ls_structured_output_format` for tracing.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import JsonOutputKeyToolsParser, JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from ..core.errors import InvalidRequestError
from ..core.values import json_schema_format

if TYPE_CHECKING:
    from .chat_models import ChatGradient

__all__ = ["StructuredOutputMethod", "structured_output"]

StructuredOutputMethod: TypeAlias = Literal["function_calling", "json_schema", "json_mode"]
_METHODS = ("function_calling", "json_schema", "json_mode")


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def _text_parser(schema: Any) -> Runnable[Any, Any]:
    if _is_pydantic(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def _schema_function(schema: Any, strict: bool | None = None) -> dict[str, Any]:
    """The schema as an OpenAI-style function; a value that is no schema is an error naming `schema`."""
    try:
        function: dict[str, Any] = convert_to_openai_tool(schema, strict=strict)["function"]
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(
            "schema",
            f"must be a pydantic class, a TypedDict or a JSON schema dict, got {type(schema).__name__} "
            f"({exc})",
        ) from None
    return function


def _json_schema_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    function = _schema_function(schema)
    return json_schema_format(
        function.get("parameters") or {"type": "object", "properties": {}},
        name=function["name"],
        description=function.get("description"),
        strict=strict,
    )


def structured_output(
    model: ChatGradient,
    schema: dict[str, Any] | type | None,
    *,
    method: StructuredOutputMethod,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """The runnable `ChatGradient.with_structured_output` returns."""
    if method not in _METHODS:
        raise InvalidRequestError("method", f"must be one of {list(_METHODS)}, got {method!r}")
    if schema is None and method != "json_mode":
        raise InvalidRequestError(
            "schema", f"method={method!r} needs a schema (a pydantic class, TypedDict or JSON schema)"
        )
    # LangChain reads `schema` unconditionally, so schemaless JSON mode sends no tracing format at all.
    tracing = (
        {"kwargs": {"method": method, "strict": strict}, "schema": schema} if schema is not None else None
    )
    bound: Runnable[LanguageModelInput, Any]
    parser: Runnable[Any, Any]
    if method == "function_calling":
        name = _schema_function(schema)["name"]
        bound = model.bind_tools(
            [schema],  # type: ignore[list-item]
            tool_choice=name,
            parallel_tool_calls=False,
            strict=strict,
            ls_structured_output_format=tracing,
        )
        if _is_pydantic(schema):
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif method == "json_schema":
        bound = model.bind(
            text={"format": _json_schema_format(schema, strict)}, ls_structured_output_format=tracing
        )
        parser = _text_parser(schema)
    else:
        if strict is not None:
            raise ValueError(
                "strict applies to function_calling and json_schema; json_mode enforces no schema"
            )
        json_object = {"format": {"type": "json_object"}}
        bound = model.bind(text=json_object, **({"ls_structured_output_format": tracing} if tracing else {}))
        parser = _text_parser(schema)
    if not include_raw:
        return bound | parser
    parse_raw = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | parse_raw.with_fallbacks([keep_raw], exception_key="parsing_error")
