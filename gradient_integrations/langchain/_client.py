"""`HoldsClient`: how both LangChain classes hold their core client: lazy, never pickled, never copied.

`ChatGradient` and `GradientEmbeddings` are pydantic models with `http_client` / `http_async_client`
fields and a private `_client`. The client is built on first use from `_settings()` (under a lock:
`batch()` calls from threads). A pickle carries no live pool and no client; a copy (`model_copy`, which
may change the key or endpoint) builds its own; a deep copy shares the injected pools instead of cloning
them. Private attributes come back as None: they are caches of what the fields describe.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from ..core import ResponsesClient
from ..core.lifecycle import ClosesClient

if TYPE_CHECKING:
    import httpx

    from ..core import Settings

__all__ = ["HoldsClient"]

# Module-level, not per instance: a lock cannot be pickled or deep-copied, and creation is rare.
_CLIENT_LOCK = threading.Lock()
_POOLS = ("http_client", "http_async_client")


class HoldsClient(ClosesClient):
    """Mixin for a pydantic model with `http_client`, `http_async_client` and a private `_client`."""

    http_client: httpx.Client | None
    http_async_client: httpx.AsyncClient | None
    __pydantic_private__: dict[str, Any] | None

    def _settings(self) -> Settings:
        raise NotImplementedError

    @property
    def client(self) -> ResponsesClient:
        """The shared core client (created on first use)."""
        if self._client is None:
            with _CLIENT_LOCK:
                if self._client is None:
                    self._client = ResponsesClient.from_settings(
                        self._settings(),
                        http_client=self.http_client,
                        http_async_client=self.http_async_client,
                    )
        return self._client

    def _cleared_private(self) -> dict[str, Any]:
        return dict.fromkeys(self.__pydantic_private__ or {"_client": None})

    # The key needs nothing here (an AccessKey pickles as "read from the environment"); live pools do.
    def __getstate__(self) -> dict[Any, Any]:
        state: dict[Any, Any] = super().__getstate__()  # type: ignore[misc]
        fields = dict(state["__dict__"])
        for name in _POOLS:
            fields[name] = None  # live pools cannot travel
        state["__dict__"] = fields
        state["__pydantic_private__"] = self._cleared_private()
        return state

    def __copy__(self) -> Self:
        clone: Self = super().__copy__()  # type: ignore[misc]
        object.__setattr__(clone, "__pydantic_private__", self._cleared_private())
        return clone

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        clone = self.__copy__()
        for name, value in self.__dict__.items():
            if name not in _POOLS:  # connection pools are shared, not cloned
                clone.__dict__[name] = copy.deepcopy(value, memo)
        return clone
