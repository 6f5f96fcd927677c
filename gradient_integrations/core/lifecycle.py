"""`ClosesClient`: `close()` / `aclose()` and both context managers for a class that owns a core client.

Both adapters hold their `ResponsesClient` (created lazily) in `_client`; this mixin is how they release
its pools, so LangChain and LlamaIndex users close a model the same way. Injected httpx clients are left
to their owner; async pools are closed on their own event loop (see `ResponsesClient.aclose`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .client import ResponsesClient

__all__ = ["ClosesClient"]

_Owner = TypeVar("_Owner", bound="ClosesClient")


class ClosesClient:
    """Mixin: release the pooled connections of `self._client`."""

    _client: ResponsesClient | None

    def close(self) -> None:
        """Release pooled connections (injected httpx clients are left to their owner)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Release pooled connections, async pools included."""
        if self._client is not None:
            await self._client.aclose()

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self: _Owner) -> _Owner:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
