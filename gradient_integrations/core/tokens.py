"""Offline token counts: a fast estimate of o200k-style BPE counts that needs no tokenizer download.

This module owns every token count the package makes without asking the server: `estimate_tokens`
(one text), `estimate_message_tokens` (a Responses-API `input` list plus `instructions` and function
`tools`, with each chat template's per-message overhead), and `tokenize` / `Tokenizer` (the same
estimate as a list of text pieces, the shape LlamaIndex's `Settings.tokenizer` hook takes:
`Callable[[str], list]`, whose `len()` is all LlamaIndex uses). Pure Python, standard library only;
nothing here downloads or loads tokenizer data.

How the estimate works. A text is cut into pre-tokens with a regular expression that mirrors the
o200k_base split (GPT-4o, GPT-5, o-series, gpt-oss): a word with at most one leading space or
punctuation character, split at lower-to-upper case humps (`TypeError` -> `Type`, `Error`); numbers in
groups of up to 3 digits; punctuation runs; whitespace runs. On a 5.6 MB mixed corpus this split agrees
with o200k's own on 99.99 % of pre-tokens. Each pre-token then costs a fitted expected number of BPE
tokens: 1 plus a slope per letter past a knee (separate constants for lower and upper case, and for a
leading space, a leading punctuation character or none), plus an extra per non-ASCII letter by script
(accented Latin ~1.2, Han ~0.7, kana ~0.5, Hangul ~0.4, Cyrillic/Greek/Arabic/Hebrew ~0.2) and per
non-ASCII symbol (0.8; emoji 1.3), capped at the pre-token's UTF-8 length (a byte-level BPE never needs
more). Costs are summed as floats and rounded once, so per-piece rounding does not add up. The
expression has no nested quantifiers: time is linear in the text (a 1 MB string takes well under 1 s).

Where the constants come from. Fitted offline against real o200k_base counts (weighted least squares
per pre-token, then bounded minimisation of the per-document relative error) on a corpus that the
benchmark never uses: Python standard-library modules, installed packages' METADATA (Markdown) and JSON
files, GnuPG's help texts in 28 languages and gettext message catalogues in 34 languages (Latin,
Cyrillic/Greek, CJK, Arabic/Hebrew/Indic/Thai/Georgian scripts). The per-message and tool constants of
each `ChatFormat` are read off the recorded `usage.input_tokens` in `tests/fixtures/recorded/`
(in-sample: those are the only server counts there are).

Measured error. Reproduce with `.venv/bin/python -m benchmarks.token_estimate_accuracy` (add `--rows`
for one line per sample); relative error per sample, bias = error of the summed counts:

* Text level, against o200k_base itself (tiktoken with the o200k_base file that llama-index-core ships,
  checked against tiktoken's published SHA-256), 73 samples: this repository's Markdown, every package
  module and `expected.json`, plus short JSON, numbers, log and prose in 9 languages written for the
  benchmark. All: mean |error| 5.7 %, median 4.5 %, p90 8.2 %, max 38.1 %, bias +3.6 % (an
  over-estimate is the safe side for context-window checks). English docs 1.6 % (bias -0.7 %), Python
  code 4.4 % (bias +4.5 %), JSON/numbers/logs <= 3 %. Non-English prose is the weak spot: mean 17 %,
  bias +13 % (Korean 0 %, Japanese -6 %, German -4 %, but Russian and Hindi about +37 %): common words
  there are single tokens that a length rule cannot tell from rare ones. Against cl100k_base (GPT-4,
  GPT-3.5; also the first 100k entries of Llama 3's vocabulary): mean |error| 7.4 %, bias +3.7 %.
* Message level, `estimate_message_tokens` against the recorded `usage.input_tokens` of the 23 recorded
  requests whose whole prompt is in the request (no `previous_response_id`, no hosted tools): median
  |error| 0.2 %, mean 10.5 %. Without tools (10): mean 0.7 %, max 7.1 %. With function tools (13): median
  1.9 %, but three misses: two 2025-03 gpt-4o recordings (-83 %, -78 %: that server counted ~200 more
  tokens for the same tool than a later gpt-4o recording) and Qwen3.6 (-45 %: a longer tool template
  than Qwen3's).

Not covered: other vocabularies (Llama, Qwen, Mistral, DeepSeek and Claude tokenize differently, often by
10-20 % on the same text; their chat overheads use the OpenAI default unless listed in `chat_format`),
image sizes (a flat `IMAGE_TOKENS` per image), hosted tools, and whatever history the server adds for
`previous_response_id`. For an exact o200k count, tiktoken (a llama-index-core dependency) plus the
o200k_base file llama-index-core ships is what the benchmark uses.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "CHATML",
    "HARMONY",
    "IMAGE_TOKENS",
    "OPENAI_CHAT",
    "OPENAI_REASONING",
    "ChatFormat",
    "Tokenizer",
    "chat_format",
    "estimate_message_tokens",
    "estimate_tokens",
    "estimate_tool_tokens",
    "tokenize",
]

# --- pre-tokenisation -------------------------------------------------------------------------------

# Punctuation and symbols: characters that are neither letters, digits nor whitespace, as explicit
# ranges (the standard `re` module has no \p{...} classes). Everything not listed here, not \s and not
# \d counts as a letter, which also keeps combining marks (Devanagari vowel signs, accents) inside their
# word as o200k does. Emoji, surrogates and private-use characters are symbols.
_PUNCT = (
    r"\x00-\x08\x0e-\x1b\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x84\x86-\x9f\xa1-\xa9\xab-\xb4\xb6-\xb9\xbb-\xbf"
    r"\xd7\xf7\u037e\u0387\u055a-\u055f\u0589\u058a\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0600-\u060f"
    r"\u061b-\u061f\u066a-\u066d\u06d4\u0964\u0965\u0e4f\u0e5a\u0e5b"
    r"\u200b-\u2027\u202a-\u202e\u2030-\u205e\u2060-\u206f\u2190-\u2bff\u2e00-\u2e7f\u3001-\u3003"
    r"\u3008-\u3020\u3030\u303d\u30fb\ufe10-\ufe19\ufe30-\ufe6f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40"
    r"\ufe00-\ufe0f\uff5b-\uff65\ufff0-\uffff\ud800-\udfff\ue000-\uf8ff\U0001f000-\U0001faff"
)
_LEAD = rf"(?:[{_PUNCT}]|[^\S\r\n])?"  # one space or punctuation character before a word
_CONTRACTION = r"(?:'(?:[sStTmMdD]|[lL][lL]|[vV][eE]|[rR][eE]))?"
# o200k_base's pattern with ASCII case classes. No nested quantifiers, and every character matches
# some branch, so `finditer` covers the whole text in linear time.
_PIECE_PATTERN = (
    rf"{_LEAD}[A-Z]*[^\s\d{_PUNCT}A-Z]+{_CONTRACTION}"  # word: lower case, or Capitalised
    rf"|{_LEAD}[A-Z]+[^\s\d{_PUNCT}A-Z]*{_CONTRACTION}"  # word: UPPER case (then lower case)
    r"|\d{1,3}"  # numbers: groups of up to three digits
    rf"| ?[{_PUNCT}]+[\r\n/]*"  # punctuation run
    r"|\s*[\r\n]+"  # line breaks, with the blanks before them
    r"|\s+(?!\S)"  # blanks, leaving the last one to the next word
    r"|\s+"
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], Callable[[str], re.Match[str] | None]]:
    """Compiled on first use, not at import (the Unicode classes take milliseconds to compile, and
    `import gradient_integrations` should not pay them)."""
    return re.compile(_PIECE_PATTERN), re.compile(rf"[{_PUNCT}]").match


# --- fitted costs (expected o200k tokens per pre-token) ---------------------------------------------

# ASCII word of `n` letters: c + s * max(0, n - k), keyed by (lead, upper case). Lead: "" none,
# " " a space, "p" a punctuation character. Upper case: the first two letters are capitals.
_WORD: dict[tuple[str, bool], tuple[float, float, float]] = {
    ("", False): (1.12, 7.0, 0.19),
    ("", True): (1.3, 1.0, 0.23),
    (" ", False): (1.0, 4.4, 0.053),
    (" ", True): (1.02, 1.5, 0.19),
    ("p", False): (1.05, 2.5, 0.174),
    ("p", True): (1.3, 3.5, 0.31),
}
# Punctuation run of `n` characters (without a leading space / after one): 1 + s * max(0, n - k).
_PUNCT_RUN = (5.0, 0.07)
_PUNCT_RUN_SPACED = (10.0, 0.035)
# A word with non-ASCII letters: the ASCII rule on its length, plus an extra per non-ASCII letter by
# script (accented Latin letters mostly fall outside the merged vocabulary and cost about one more).
_X_LATIN = 1.17  # Latin-1 supplement, Latin extended A/B, Latin extended additional
_X_GREEK_CYRILLIC = 0.18
_X_RTL = 0.18  # Armenian, Hebrew, Arabic, Syriac, Thaana
_X_INDIC = 0.23  # Devanagari to Sinhala
_X_KANA = 0.53
_X_HAN = 0.66
_X_HANGUL = 0.39
_X_OTHER = 0.25
# Non-ASCII symbols in a punctuation run, per character: BMP symbols (arrows, box drawing, quotes,
# CJK punctuation) and astral ones (emoji, which o200k mostly spells as 1-2 byte-level tokens).
_W_SYMBOL = 0.8
_W_ASTRAL_SYMBOL = 1.3
# Whitespace runs: o200k has single tokens for up to ~64 spaces; newlines and tabs merge ~16 a token.
_SPACES_PER_TOKEN_PAST_64 = 112.0
_OTHER_BLANKS_PER_TOKEN_PAST_4 = 16.0


def _letter_extra(char: str) -> float:
    """The extra cost of one non-ASCII letter, by script."""
    code = ord(char)
    if code < 0x250 or 0x1E00 <= code < 0x1F00:
        return _X_LATIN
    if 0x370 <= code < 0x530:
        return _X_GREEK_CYRILLIC
    if 0x530 <= code < 0x900:
        return _X_RTL
    if 0x900 <= code < 0xE00:
        return _X_INDIC
    if 0x3040 <= code < 0x3100 or 0x31F0 <= code < 0x3200 or 0xFF66 <= code < 0xFFA0:
        return _X_KANA
    if 0x3400 <= code < 0xA000 or 0xF900 <= code < 0xFB00 or 0x20000 <= code < 0x30000:
        return _X_HAN
    if 0xAC00 <= code < 0xD7B0 or 0x1100 <= code < 0x1200 or 0x3130 <= code < 0x3190:
        return _X_HANGUL
    return _X_OTHER


def _symbol_run_cost(run: str, knee: float, slope: float) -> float:
    """A punctuation run with non-ASCII symbols: arrows, box drawing, CJK punctuation, emoji."""
    ascii_count = astral = 0
    for char in run:
        if char < "\x80":
            ascii_count += 1
        elif char > "\uffff":
            astral += 1
    other = len(run) - ascii_count - astral
    cost = _W_SYMBOL * other + _W_ASTRAL_SYMBOL * astral
    if ascii_count:
        return 1.0 + slope * max(0.0, ascii_count - knee) + cost
    # Without ASCII, the first symbol is the run's base token.
    return 1.0 + cost - (_W_ASTRAL_SYMBOL if astral else _W_SYMBOL)


def _piece_cost(piece: str) -> float:
    """Expected o200k tokens for one pre-token: at least 1, at most its UTF-8 length."""
    first = piece[0]
    if first.isspace() and piece.isspace():
        spaces = piece.count(" ")
        others = len(piece) - spaces
        return (
            1.0
            + max(0, spaces - 64) / _SPACES_PER_TOKEN_PAST_64
            + max(0, others - 4) / _OTHER_BLANKS_PER_TOKEN_PAST_4
        )
    if first.isdigit() and piece.isdigit():
        return 1.0
    lead = ""
    body = piece
    if first == " " or first.isspace() or _patterns()[1](first):
        if len(piece) == 1:
            return 1.0
        lead = " " if first == " " else "p"
        body = piece[1:]
        second = body[0]
        if _patterns()[1](second) or second in "\r\n/":  # a punctuation run, not a word
            knee, slope = _PUNCT_RUN_SPACED if lead == " " else _PUNCT_RUN
            run = body if lead == " " else piece
            if run.isascii():
                return 1.0 + slope * max(0.0, len(run) - knee)
            return _symbol_run_cost(run, knee, slope)
    upper = len(body) > 1 and body[:2].isupper()
    base, knee, slope = _WORD[lead, upper]
    cost = base + slope * max(0.0, len(body) - knee)
    if piece.isascii():
        return min(cost, len(piece))  # byte-level BPE never needs more tokens than bytes
    for char in body:
        if char >= "\x80":
            cost += _letter_extra(char)
    return min(cost, len(piece.encode("utf-8", "surrogatepass")))


# Text repeats its short pieces; long ones (which would pin memory in the cache) are priced directly.
_cached_piece_cost = lru_cache(maxsize=1 << 14)(_piece_cost)
_CACHED_PIECE_CHARS = 48


def _pieces_with_costs(text: str) -> Iterator[tuple[str, float]]:
    for match in _patterns()[0].finditer(text):
        piece = match.group()
        if len(piece) <= _CACHED_PIECE_CHARS:
            yield piece, _cached_piece_cost(piece)
        else:
            yield piece, _piece_cost(piece)


def _round(total: float) -> int:
    return int(total + 0.5)


def estimate_tokens(text: str) -> int:
    """Estimated o200k_base token count of `text` (0 for ""); see the module docstring for its error."""
    total = 0.0
    for _, cost in _pieces_with_costs(text):
        total += cost
    return _round(total)


def tokenize(text: str) -> list[str]:
    """`text` cut into `estimate_tokens(text)` pieces that join back to `text`.

    Each pre-token gets the whole tokens its running cost adds up to (at least one) and is cut into that
    many near-equal slices; a one-character pre-token given two tokens yields an empty second slice.
    The pieces approximate BPE tokens in number, not in where they cut.
    """
    out: list[str] = []
    total = 0.0
    for piece, cost in _pieces_with_costs(text):
        total += cost
        count = _round(total) - len(out)
        if count == 1:
            out.append(piece)
            continue
        size, extra = divmod(len(piece), count)
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            out.append(piece[start:end])
            start = end
    return out


class Tokenizer:
    """The estimate as a tokenizer object: `Tokenizer()(text)` and `.encode(text)` return `tokenize(text)`.

    Fits LlamaIndex's hook (`Settings.tokenizer = Tokenizer()`; it takes any `Callable[[str], list]`
    and counts with `len()`), and anything else that wants `encode`. The list holds text pieces, not
    vocabulary ids: there is no vocabulary here.
    """

    def __call__(self, text: str) -> list[str]:
        return tokenize(text)

    def encode(self, text: str, *args: Any, **kwargs: Any) -> list[str]:
        return tokenize(text)

    def count(self, text: str) -> int:
        return estimate_tokens(text)

    def __repr__(self) -> str:
        return "Tokenizer(o200k estimate)"


# --- messages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatFormat:
    """Tokens a chat template adds around the text, for `estimate_message_tokens`.

    `per_message`: around each message or tool-call item, role included. `reply`: the primer that opens
    the assistant's answer. `fixed`: once per request (a default system message). `tools_fixed`: once
    when function tools are sent. `tools_json`: True when the template shows tools as JSON (ChatML /
    Qwen), False when it shows them as TypeScript declarations (OpenAI, harmony).
    """

    name: str
    per_message: int
    reply: int
    fixed: int = 0
    tools_fixed: int = 0
    tools_json: bool = False


# Measured on `tests/fixtures/recorded/` (usage.input_tokens minus the o200k count of the text):
# gpt-4o: one message costs text + 7 (OpenAI's cookbook counts 3 + 1 for the role per message and 3
# for the reply primer). gpt-5 family, o3-mini, computer-use-preview: text + 6 for one message, text
# + 10 for instructions plus one message. Qwen3 on vLLM: text + 8 (`<|im_start|>user\n` ... `<|im_end|>\n`
# and `<|im_start|>assistant\n`). gpt-oss on vLLM: text + 67 for one message: harmony's default system
# message. Tool constants: the recorded requests with function tools minus the rendered declarations.
OPENAI_CHAT = ChatFormat("openai-chat", per_message=4, reply=3)
OPENAI_REASONING = ChatFormat("openai-reasoning", per_message=4, reply=2)
HARMONY = ChatFormat("harmony", per_message=4, reply=2, fixed=61)
CHATML = ChatFormat("chatml", per_message=5, reply=3, tools_fixed=52, tools_json=True)

# OpenAI's reasoning models, by their OpenAI names or Gradient ids ("openai-o3", "openai-gpt-5-mini").
_REASONING_MODEL = re.compile(r"(?:^|[/-])(?:o\d|gpt-5|computer-use)|codex", re.IGNORECASE)


def chat_format(model: str | None) -> ChatFormat:
    """The measured `ChatFormat` for a model name; OpenAI's chat format for anything unknown."""
    if not model:
        return OPENAI_CHAT
    name = model.lower()
    if "gpt-oss" in name:
        return HARMONY
    if "qwen" in name:
        return CHATML
    if _REASONING_MODEL.search(name):
        return OPENAI_REASONING
    return OPENAI_CHAT


# OpenAI's documented base cost of one image at `detail: low`; higher detail costs more.
IMAGE_TOKENS = 85


def _text_of(value: Any) -> Iterator[str]:
    """The strings in an item's content: a str, or parts with `text` / `refusal` / nested values."""
    if value is None:
        return
    if isinstance(value, str):
        yield value
        return
    if isinstance(value, Mapping):
        for key in ("text", "refusal"):
            text = value.get(key)
            if isinstance(text, str):
                yield text
        return
    if isinstance(value, Sequence):
        for part in value:
            yield from _text_of(part)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_tokens(content)
    total = 0
    if isinstance(content, Sequence):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") in ("input_image", "image_url", "image"):
                total += IMAGE_TOKENS
            else:
                total += sum(estimate_tokens(text) for text in _text_of(part))
    elif isinstance(content, Mapping):
        total += sum(estimate_tokens(text) for text in _text_of(content))
    return total


def _item_tokens(item: Mapping[str, Any]) -> int:
    """Text tokens of one `input` item, without the per-message overhead."""
    kind = item.get("type")
    if kind is None or kind == "message":
        return _content_tokens(item.get("content"))
    if kind == "function_call":
        return estimate_tokens(str(item.get("name") or "")) + estimate_tokens(
            str(item.get("arguments") or "")
        )
    if kind == "function_call_output":
        output = item.get("output")
        return _content_tokens(output if output is not None else "")
    if kind == "reasoning":
        # Only readable text counts: `summary` and `content` parts. `encrypted_content` is opaque and
        # servers decide themselves whether earlier reasoning goes back into the prompt.
        return _content_tokens(item.get("summary")) + _content_tokens(item.get("content"))
    # Anything else (item references, hosted tool calls): its JSON, a conservative stand-in.
    return estimate_tokens(json.dumps(item, ensure_ascii=False, default=str))


def estimate_message_tokens(
    items: str | Sequence[Mapping[str, Any]],
    instructions: str | None = None,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    model: str | None = None,
) -> int:
    """Estimated prompt tokens (`usage.input_tokens`) of a `/v1/responses` request.

    `items` is the request's `input`: a string (one user message) or a list of items: messages
    (`{"type": "message", "role": ..., "content": str | [{"type": "input_text", "text": ...}, ...]}`,
    `type` may be left out), `function_call` (`name`, `arguments`), `function_call_output` (`output`)
    and `reasoning` items. Each item costs its text plus `ChatFormat.per_message`; a non-empty
    `instructions` is one more message; the reply primer and the format's fixed cost are added once.
    `tools` are the request's function tools (`estimate_tool_tokens`). `model` picks the `ChatFormat`
    (`chat_format`); unknown models get OpenAI's chat format.
    """
    fmt = chat_format(model)
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    total = fmt.fixed + fmt.reply
    if instructions:
        total += fmt.per_message + estimate_tokens(instructions)
    for item in items:
        total += fmt.per_message + _item_tokens(item)
    if tools:
        total += estimate_tool_tokens(tools, model=model)
    return total


# --- tools ------------------------------------------------------------------------------------------


def _function_of(tool: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A function tool's `{name, description, parameters}` (Responses or Chat Completions shape)."""
    function = tool.get("function")
    if isinstance(function, Mapping):
        return function
    if tool.get("type", "function") == "function" and isinstance(tool.get("name"), str):
        return tool
    return None


def _ts_type(schema: Any, depth: int = 0) -> str:
    """A JSON schema as the TypeScript type OpenAI's templates print for it."""
    if not isinstance(schema, Mapping) or depth > 8:
        return "any"
    if "enum" in schema and isinstance(schema["enum"], Sequence) and not isinstance(schema["enum"], str):
        return " | ".join(json.dumps(value, ensure_ascii=False, default=str) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, Sequence) and not isinstance(options, str):
            return " | ".join(_ts_type(option, depth + 1) for option in options)
    kind = schema.get("type")
    if isinstance(kind, Sequence) and not isinstance(kind, str):
        return " | ".join(_ts_type({**schema, "type": one}, depth + 1) for one in kind)
    if kind == "array":
        return f"{_ts_type(schema.get('items'), depth + 1)}[]"
    if kind == "object" or "properties" in schema:
        return _ts_object(schema, depth + 1)
    return {"integer": "number", "number": "number", "string": "string", "boolean": "boolean"}.get(
        str(kind), "null" if kind == "null" else "any"
    )


def _ts_object(schema: Mapping[str, Any], depth: int) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return "object"
    required = schema.get("required")
    required_names = set(required) if isinstance(required, Sequence) else set()
    lines = ["{"]
    for name, prop in properties.items():
        if isinstance(prop, Mapping) and isinstance(prop.get("description"), str):
            lines.append(f"// {prop['description']}")
        optional = "" if name in required_names else "?"
        line = f"{name}{optional}: {_ts_type(prop, depth)},"
        if isinstance(prop, Mapping) and "default" in prop:
            line += f" // default: {json.dumps(prop['default'], ensure_ascii=False, default=str)}"
        lines.append(line)
    lines.append("}")
    return "\n".join(lines)


def _typescript(functions: Sequence[Mapping[str, Any]]) -> str:
    lines = ["# Tools", "", "## functions", "", "namespace functions {", ""]
    for function in functions:
        description = function.get("description")
        if isinstance(description, str) and description:
            lines.append(f"// {description}")
        parameters = function.get("parameters")
        name = function.get("name")
        if isinstance(parameters, Mapping) and parameters.get("properties"):
            lines.append(f"type {name} = (_: {_ts_object(parameters, 1)}) => any;")
        else:
            lines.append(f"type {name} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def estimate_tool_tokens(tools: Sequence[Mapping[str, Any]], *, model: str | None = None) -> int:
    """Estimated prompt tokens that function `tools` add, as the model's template prints them.

    OpenAI models and gpt-oss see TypeScript declarations (`namespace functions { type f = (_: {...})
    => any; }`); ChatML models (Qwen) see one JSON object per tool inside `<tools>` plus instructions.
    Hosted tools (`web_search`, `file_search`, ...) are the server's business and count 0 here.
    """
    functions = [function for function in map(_function_of, tools) if function is not None]
    if not functions:
        return 0
    fmt = chat_format(model)
    if fmt.tools_json:
        text = "\n".join(
            json.dumps({"type": "function", "function": dict(function)}, ensure_ascii=False, default=str)
            for function in functions
        )
    else:
        text = _typescript(functions)
    return fmt.tools_fixed + estimate_tokens(text)
