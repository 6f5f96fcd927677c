"""Context windows of known Gradient serverless models, for `LLMMetadata.context_window`.

LlamaIndex sizes prompts and chunks from the context window, so an unknown model gets a deliberately
small default (too small only costs extra chunking; too large overflows the model). Pass
`context_window=` to `GradientLLM` for a model missing here. Matched by longest id prefix.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CONTEXT_WINDOW", "context_window_for"]

DEFAULT_CONTEXT_WINDOW = 8192

_CONTEXT_WINDOWS: dict[str, int] = {
    "openai-gpt-oss-": 131_072,
    "openai-gpt-4o": 128_000,
    "openai-gpt-4.1": 1_047_576,
    "openai-gpt-5": 400_000,
    "openai-o3": 200_000,
    "anthropic-claude-": 200_000,
    "llama3.3-70b-instruct": 128_000,
    "llama3-8b-instruct": 8_192,
    "deepseek-r1-distill-llama-70b": 128_000,
    "mistral-nemo-instruct-2407": 128_000,
    "alibaba-qwen3-32b": 32_768,
}


def context_window_for(model: str) -> int:
    """The known context window of `model`, else `DEFAULT_CONTEXT_WINDOW`."""
    matches = [prefix for prefix in _CONTEXT_WINDOWS if model.startswith(prefix)]
    if not matches:
        return DEFAULT_CONTEXT_WINDOW
    return _CONTEXT_WINDOWS[max(matches, key=len)]
