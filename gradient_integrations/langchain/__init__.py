"""LangChain integration: `ChatGradient`, a chat model over the shared `/v1/responses` core.

Importing this package needs `langchain-core` (the `langchain` extra); the core does not.
"""

from .chat_models import ChatGradient

__all__ = ["ChatGradient"]
