"""LlamaIndex integration: `GradientLLM`, a `FunctionCallingLLM` over the shared `/v1/responses` core,
`GradientEmbedding` (`/v1/embeddings`), `gradient_usage` (tokens and dollars, from LlamaIndex's
instrumentation events) and `gradient_tokenizer` (offline token counts for `Settings.tokenizer`).

Needs the `llama-index` extra (`llama-index-core`). The adapters only map LlamaIndex types to and from
the core's wire types; see `base.GradientLLM` for configuration.
"""

from .._extras import require_extra

require_extra("llama-index", "llama_index.core", feature="gradient_integrations.llama_index")

from ..core.tokens import Tokenizer
from .base import DEFAULT_MODEL, GradientLLM
from .embeddings import GradientEmbedding
from .usage import GradientUsageEventHandler, gradient_usage, install_usage_handler

gradient_tokenizer = Tokenizer()
"""The core's offline token estimate as LlamaIndex's tokenizer: `Settings.tokenizer = gradient_tokenizer`."""

__all__ = [
    "DEFAULT_MODEL",
    "GradientEmbedding",
    "GradientLLM",
    "GradientUsageEventHandler",
    "gradient_tokenizer",
    "gradient_usage",
    "install_usage_handler",
]
