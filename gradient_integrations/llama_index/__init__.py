"""LlamaIndex integration: `GradientLLM`, a `FunctionCallingLLM` over the shared `/v1/responses` core.

Needs the `llama-index` extra (`llama-index-core`). The adapter only maps LlamaIndex types to and from
the core's wire types; see `base.GradientLLM` for configuration.
"""

from .base import DEFAULT_MODEL, GradientLLM

__all__ = ["DEFAULT_MODEL", "GradientLLM"]
