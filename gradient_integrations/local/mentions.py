"""Which tools a message mentions: the scripted model's rule for picking function tools and MCP tools.

A tool is mentioned by its full name as a whole `[\\w-]+` token (`get_weather`), or by a distinctive part
of its name as a word of four letters or more (`weather`; generic parts such as `get`, `set`, `fetch`,
`tool` do not count: `_GENERIC_PARTS`). Full-name mentions come first, in order of appearance, then
part mentions by word position; a tool mentioned in both ways counts where its full name is. Linear in the
message plus the tools (one pass over each), so thousands of tools and a long message do not multiply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["mentioned_tools"]

_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_NAME_TOKEN = re.compile(r"[\w-]+")
_WORD = re.compile(r"[a-z0-9]+")
_GENERIC_PARTS = frozenset(
    {"get", "set", "fetch", "make", "call", "tool", "func", "function", "run", "the", "for", "and", "with"}
)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_ToolT = TypeVar("_ToolT", bound=_Named)


def mentioned_tools(tools: Sequence[_ToolT], message: str) -> list[_ToolT]:
    """The tools (anything with a `name`) that `message` mentions, in order of mention (see the rules)."""
    lowered = message.lower()
    # Where each token first appears, found in one pass each (not one search of the message per tool:
    # thousands of tools and a long message would multiply). A tool name (`[A-Za-z0-9_-]+`, the core
    # checks it) is mentioned where it is a whole `[\w-]+` token; a part of it, where it is an `[a-z0-9]+`
    # word (by word index, after all full names).
    names: dict[str, int] = {}
    for token in _NAME_TOKEN.finditer(lowered):
        names.setdefault(token.group(), token.start())
    words: dict[str, int] = {}
    for index, word in enumerate(_WORD.findall(lowered)):
        if len(word) >= 4:
            words.setdefault(word, index)
    positions: list[tuple[int, int, _ToolT]] = []
    for order, tool in enumerate(tools):
        position = names.get(tool.name.lower(), -1)
        if position < 0:
            parts = {p.lower() for p in _NAME_PARTS.findall(tool.name)} - _GENERIC_PARTS
            hits = [words[part] for part in parts if part in words]
            position = len(lowered) + min(hits) if hits else -1
        if position >= 0:
            positions.append((position, order, tool))
    return [tool for _, _, tool in sorted(positions, key=lambda hit: (hit[0], hit[1]))]
