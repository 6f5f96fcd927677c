"""LangChain integration: `ChatGradient` (chat model over the shared `/v1/responses` core),
`GradientEmbeddings` (`/v1/embeddings`), `get_gradient_callback` (tokens and dollars) and Batch Inference
(`submit_batch` / `attach_batch` for a ChatGradient, a binding of one or a structured-output chain).

Importing this package needs `langchain-core` (the `langchain` extra); the core does not.
"""

from .._extras import require_extra

require_extra("langchain", "langchain_core", feature="gradient_integrations.langchain")

from .batch import aattach_batch, asubmit_batch, attach_batch, submit_batch
from .callbacks import GradientCallbackHandler, get_gradient_callback
from .chat_models import ChatGradient
from .embeddings import GradientEmbeddings

__all__ = [
    "ChatGradient",
    "GradientCallbackHandler",
    "GradientEmbeddings",
    "aattach_batch",
    "asubmit_batch",
    "attach_batch",
    "get_gradient_callback",
    "submit_batch",
]
