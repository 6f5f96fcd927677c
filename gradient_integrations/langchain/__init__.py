"""LangChain integration: `ChatGradient` (chat model over the shared `/v1/responses` core),
`GradientEmbeddings` (`/v1/embeddings`) and `get_gradient_callback` (tokens and dollars).

Importing this package needs `langchain-core` (the `langchain` extra); the core does not.
"""

from .callbacks import GradientCallbackHandler, get_gradient_callback
from .chat_models import ChatGradient
from .embeddings import GradientEmbeddings

__all__ = ["ChatGradient", "GradientCallbackHandler", "GradientEmbeddings", "get_gradient_callback"]
