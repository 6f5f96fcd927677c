"""Model routers: `model: "router:<name>"` picks a model per request, as DO's model routers do.

A router is an ordered list of `ModelRoute`s: the first route with a keyword the last user message holds
(whole words, case-insensitive, a trailing `s` ignored) wins; a route without keywords is the fallback (the
last such route, else the last route). The answer's `model` is the chosen model, and every answer (JSON and
stream, Responses and Chat Completions) carries `x-model-router-selected-route: <route name>`
(`ROUTE_HEADER`). An unknown router is a `404` naming it and the routers there are.

The default router, `router:demo` (`DEFAULT_ROUTERS`): `code` -> `openai-gpt-oss-120b` when the message
mentions code, python, a function, ...; else `general` -> `llama3.3-70b-instruct`. The app's `routers`
option adds routers (`{"name": [ModelRoute(...), ...]}`; it replaces a default of the same name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_ROUTERS", "ROUTER_PREFIX", "ROUTE_HEADER", "ModelRoute", "RouterError", "Routers"]

ROUTER_PREFIX = "router:"
ROUTE_HEADER = "x-model-router-selected-route"
_WORD = re.compile(r"[a-z0-9+#]+")


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """One route of a router: its `name`, the `model` it sends to, and the words that select it (none: the
    fallback route)."""

    name: str
    model: str
    keywords: tuple[str, ...] = ()


DEFAULT_ROUTERS: Mapping[str, tuple[ModelRoute, ...]] = {
    "demo": (
        ModelRoute(
            "code",
            "openai-gpt-oss-120b",
            (
                "code",
                "coding",
                "python",
                "function",
                "program",
                "programming",
                "script",
                "bug",
                "debug",
                "javascript",
                "typescript",
                "sql",
                "regex",
                "compile",
                "refactor",
            ),
        ),
        ModelRoute("general", "llama3.3-70b-instruct"),
    )
}


class RouterError(LookupError):
    """No such router (`message` names it and the routers there are)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Routers:
    """The app's routers; `select` is thread-safe (nothing changes after construction)."""

    def __init__(self, extra: Mapping[str, Sequence[ModelRoute]] | None = None) -> None:
        self._routers: dict[str, tuple[ModelRoute, ...]] = dict(DEFAULT_ROUTERS)
        for name, routes in (extra or {}).items():
            routes = tuple(routes)
            if not name or not routes or not all(isinstance(route, ModelRoute) for route in routes):
                raise ValueError(
                    f"routers[{name!r}] must be a non-empty list of ModelRoute(name, model, keywords)"
                )
            self._routers[name] = routes
        self._keywords = {
            name: [(route, frozenset(_stem(word) for word in route.keywords)) for route in routes]
            for name, routes in self._routers.items()
        }

    @property
    def names(self) -> list[str]:
        return list(self._routers)

    def select(self, model: str, message: str) -> ModelRoute | None:
        """The route for `model` (None when it is not `router:<name>`). Raises `RouterError`."""
        if not model.startswith(ROUTER_PREFIX):
            return None
        name = model.removeprefix(ROUTER_PREFIX).strip()
        routes = self._keywords.get(name)
        if routes is None:
            known = ", ".join(ROUTER_PREFIX + known for known in self._routers)
            raise RouterError(f"model: no router {name!r} on this server; routers: {known}")
        words = {_stem(word) for word in _WORD.findall(message.lower()[:100_000])}
        for route, keywords in routes:
            if keywords and not keywords.isdisjoint(words):
                return route
        fallbacks = [route for route, keywords in routes if not keywords]
        return fallbacks[-1] if fallbacks else routes[-1][0]


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
