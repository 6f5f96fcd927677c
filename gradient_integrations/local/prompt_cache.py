"""Prompt caching as the scripted model reports it: which input tokens were read from, or written to, a cache.

Two caches, each remembering prompt prefixes by digest only (never the text), bounded and thread-safe (the
server answers heavy requests in worker threads):

- `PrefixCache`, for every model (OpenAI's automatic caching): a prompt whose first words repeat, in whole
  blocks of `block` words, the start of an earlier prompt reports those words as read
  (`input_tokens_details.cached_tokens`). Prompts shorter than one block never do, so ordinary requests are
  not affected by the order they arrive in.
- `BreakpointCache`, for models whose id starts with `anthropic-` and requests with `cache_control` parts
  (Anthropic's explicit caching, DO's "Use Prompt Caching"): each such part ends a cacheable prefix (the
  instructions and messages up to and including that part). The longest prefix cached before, and not
  expired, is read (`cache_read_input_tokens`, and `cached_tokens`); the prefixes not cached yet are written
  (`cache_created_input_tokens`, per TTL in `cache_creation`). An entry lives `5m` (the default) or `1h`
  (`cache_control.ttl`), and a read starts its TTL again, as Anthropic's does. There is no minimum prefix
  length (Anthropic's is 1,024 tokens): a test needs no long prompt to see a cache hit.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["ANTHROPIC_PREFIX", "TTL_SECONDS", "BreakpointCache", "CacheUse", "PrefixCache"]

ANTHROPIC_PREFIX = "anthropic-"
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
_DEFAULT_TTL = "5m"


class PrefixCache:
    """Remembers prompt prefixes in whole blocks of words, like a provider's automatic prompt cache."""

    def __init__(self, block: int, capacity: int) -> None:
        self.block = block
        self.capacity = capacity
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()

    def lookup_and_store(self, words: list[str]) -> int:
        """How many leading words were cached already; remembers this prompt's blocks."""
        with self._lock:
            return self._lookup_and_store(words)

    def _lookup_and_store(self, words: list[str]) -> int:
        cached = 0
        digest = 0
        for end in range(self.block, len(words) + 1, self.block):
            digest = hash((digest, *words[end - self.block : end]))
            if digest in self._seen:
                self._seen.move_to_end(digest)
                if cached == end - self.block:
                    cached = end
            else:
                self._seen[digest] = None
                if len(self._seen) > self.capacity:
                    self._seen.popitem(last=False)
        return cached


@dataclass(frozen=True, slots=True)
class CacheUse:
    """What one request read from and wrote to the breakpoint cache, in tokens (words)."""

    read: int = 0
    created_5m: int = 0
    created_1h: int = 0

    @property
    def created(self) -> int:
        return self.created_5m + self.created_1h


@dataclass(slots=True)
class _Entry:
    expires: float
    ttl: float


class BreakpointCache:
    """Anthropic-style explicit prompt caching, keyed by model and prefix digest (module docstring)."""

    def __init__(self, capacity: int = 65536, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def lookup_and_store(
        self, model: str, words: Sequence[str], breakpoints: Sequence[tuple[int, str | None]]
    ) -> CacheUse:
        """`breakpoints` are `(words before and including the marked part, ttl or None)`, in prompt order."""
        prefixes = _prefix_digests(model, words, breakpoints)
        if not prefixes:
            return CacheUse()
        with self._lock:
            now = self._clock()
            read = 0
            for count, digest, _ in prefixes:
                entry = self._entries.get(digest)
                if entry is not None and entry.expires > now:
                    read = max(read, count)
                    entry.expires = now + entry.ttl  # a hit starts the TTL again
                    self._entries.move_to_end(digest)
            created = {"5m": 0, "1h": 0}
            previous = 0
            for count, digest, ttl in prefixes:
                entry = self._entries.get(digest)
                if entry is None or entry.expires <= now:
                    created[ttl] += max(count - max(previous, read), 0)
                    self._entries[digest] = _Entry(now + TTL_SECONDS[ttl], TTL_SECONDS[ttl])
                    self._entries.move_to_end(digest)
                    if len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
                previous = count
        return CacheUse(read=read, created_5m=created["5m"], created_1h=created["1h"])


def _prefix_digests(
    model: str, words: Sequence[str], breakpoints: Sequence[tuple[int, str | None]]
) -> list[tuple[int, bytes, str]]:
    """One digest per distinct breakpoint, in one pass over the words (a prefix's digest does not depend on
    where the other breakpoints are)."""
    running = hashlib.blake2b(model.encode(), digest_size=16)
    digests: list[tuple[int, bytes, str]] = []
    position = 0
    for count, ttl in breakpoints:
        count = min(count, len(words))
        if count <= position:
            if digests and count == position:  # a second marker at the same place: the longer TTL wins
                last = digests[-1]
                digests[-1] = (last[0], last[1], _longer(last[2], ttl or _DEFAULT_TTL))
            continue
        chunk = words[position:count]
        running.update(("\0".join(chunk) + "\0").encode("utf-8", "surrogatepass"))
        position = count
        digests.append((count, running.copy().digest(), ttl or _DEFAULT_TTL))
    return digests


def _longer(first: str, second: str) -> str:
    return first if TTL_SECONDS[first] >= TTL_SECONDS[second] else second
