"""What the built-in tools search: a small fixed "web" and the knowledge bases, ranked by word overlap.

No embeddings and no network: a document's score is the share of the query's content words (lower-cased
`[a-z0-9]+` words that are not stop words) it contains, ties broken by document order, so every search is
deterministic and explainable in a test.

- `WEB_PAGES`: a handful of fake pages under `https://docs.example.com/...` (title, URL, one-sentence text)
  that `web_search` finds.
- `KnowledgeBases`: knowledge base id -> documents. The default one, `demo-kb` (`DEFAULT_KNOWLEDGE_BASE`),
  holds the documents `make demo` indexes (`gradient_integrations.demo.DOCUMENTS`, imported on first use);
  more come from the app's `knowledge_bases` option (`{id: [text, ...]}`; an id given there replaces the
  default). A document's id is `<kb id>-doc-<n>` and its name `document-<n>.txt` (1-based).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DEFAULT_KNOWLEDGE_BASE",
    "WEB_PAGES",
    "Document",
    "KnowledgeBases",
    "WebPage",
    "content_words",
    "ranked",
]

DEFAULT_KNOWLEDGE_BASE = "demo-kb"
_WORD = re.compile(r"[a-z0-9]+")
_MAX_QUERY_WORDS = 64  # a 1 MB message must not make every document comparison cost a megabyte
_STOP_TEXT = (
    "a about an and are as at be by can could did do does for from had has have how i if in is it its me my "
    "of on or please provide should so tell that the their them then there these this to use was we were "
    "what "
    "when where which who why will with would you your"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_words(text: str, limit: int = _MAX_QUERY_WORDS) -> list[str]:
    """The text's lower-cased words that carry meaning, in order, without repeats (at most `limit`)."""
    words: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        if word not in STOP_WORDS:
            words.setdefault(word, None)
            if len(words) >= limit:
                break
    return list(words)


@dataclass(frozen=True, slots=True)
class WebPage:
    url: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    filename: str
    text: str


_T = TypeVar("_T", WebPage, Document)


def ranked(query: str, documents: Sequence[_T], texts: Sequence[frozenset[str]]) -> list[tuple[float, _T]]:
    """`(score, document)` best first: the share of the query's content words each document's word set
    (`texts`, parallel to `documents`) holds; equal scores keep document order."""
    wanted = content_words(query)
    if not wanted:
        return [(0.0, document) for document in documents]
    scores = [sum(word in words for word in wanted) / len(wanted) for words in texts]
    order = sorted(range(len(documents)), key=lambda index: (-scores[index], index))
    return [(round(scores[index], 4), documents[index]) for index in order]


def _word_set(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


_BASE = "https://docs.example.com"
WEB_PAGES: tuple[WebPage, ...] = (
    WebPage(
        f"{_BASE}/gradient/serverless-inference",
        "Serverless inference on Gradient",
        "Gradient's serverless inference endpoint answers POST /v1/responses and POST /v1/chat/completions "
        "for DigitalOcean's hosted models, billed per token.",
    ),
    WebPage(
        f"{_BASE}/gradient/model-access-keys",
        "Model access keys",
        "A model access key authorises serverless inference requests; send it in the Authorization header.",
    ),
    WebPage(
        f"{_BASE}/gradient/knowledge-bases",
        "Knowledge bases",
        "A Gradient knowledge base indexes your documents so agents and the knowledge_base_retrieval tool "
        "can search and cite them.",
    ),
    WebPage(
        f"{_BASE}/gradient/model-routers",
        "Model routers",
        "A model router picks a model for each request from routes you define, and reports the chosen route "
        "in a response header.",
    ),
    WebPage(
        f"{_BASE}/gradient/rate-limits",
        "Rate limits",
        "Serverless inference limits requests and tokens per minute and tokens per day; an answer over a "
        "limit is a 429 with retry-after.",
    ),
    WebPage(
        f"{_BASE}/python/asyncio",
        "asyncio: asynchronous I/O in Python",
        "asyncio is the Python library for concurrent code with async and await.",
    ),
    WebPage(
        f"{_BASE}/mcp/introduction",
        "Model Context Protocol",
        "MCP is an open protocol that lets models list and call tools on remote servers over JSON-RPC.",
    ),
    WebPage(
        f"{_BASE}/weather/san-francisco",
        "San Francisco weather",
        "San Francisco has mild weather all year: foggy mornings, cool summers and about 18 C in the "
        "afternoon.",
    ),
    WebPage(
        f"{_BASE}/geography/paris",
        "Paris, capital of France",
        "Paris is the capital and largest city of France, on the Seine.",
    ),
)
_WEB_WORDS = tuple(_word_set(f"{page.title} {page.text}") for page in WEB_PAGES)


def search_web(query: str, max_results: int) -> list[tuple[float, WebPage]]:
    """The `max_results` best pages for `query`, with their scores (a search always returns pages)."""
    return ranked(query, WEB_PAGES, _WEB_WORDS)[:max_results]


class KnowledgeBases:
    """Knowledge base id -> documents, searched by word overlap. Read-only once built (thread-safe)."""

    def __init__(self, extra: Mapping[str, Sequence[str]] | None = None) -> None:
        self._given: dict[str, tuple[Document, ...]] = {}
        for kb_id, texts in (extra or {}).items():
            if not isinstance(kb_id, str) or not kb_id or isinstance(texts, str):
                raise ValueError(f"knowledge_bases must map ids to lists of texts, got {kb_id!r}: {texts!r}")
            self._given[kb_id] = _documents(kb_id, texts)
        self._words: dict[str, tuple[frozenset[str], ...]] = {}

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys([DEFAULT_KNOWLEDGE_BASE, *self._given]))

    def documents(self, kb_id: str) -> tuple[Document, ...] | None:
        """The knowledge base's documents, or None when there is no such knowledge base."""
        if kb_id in self._given:
            return self._given[kb_id]
        if kb_id == DEFAULT_KNOWLEDGE_BASE:
            from ..demo import DOCUMENTS  # lazily: the demo module is not needed to serve anything else

            self._given[kb_id] = _documents(kb_id, DOCUMENTS)
            return self._given[kb_id]
        return None

    def search(self, kb_id: str, query: str, limit: int = 3) -> list[tuple[float, Document]] | None:
        """The `limit` best documents that share a word with `query` (None: no such knowledge base)."""
        documents = self.documents(kb_id)
        if documents is None:
            return None
        words = self._words.get(kb_id)
        if words is None:
            words = self._words[kb_id] = tuple(_word_set(document.text) for document in documents)
        return [(score, document) for score, document in ranked(query, documents, words) if score > 0][:limit]


def _documents(kb_id: str, texts: Sequence[str]) -> tuple[Document, ...]:
    return tuple(
        Document(f"{kb_id}-doc-{number}", f"document-{number}.txt", str(text))
        for number, text in enumerate(texts, start=1)
    )
