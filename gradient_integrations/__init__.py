"""gradient-integrations: Gradient `/v1/responses` as a LangChain chat model and a LlamaIndex LLM.

`import gradient_integrations` loads only the core (httpx + pydantic). The adapters live in
`gradient_integrations.langchain` (ChatGradient) and `gradient_integrations.llama_index` (GradientLLM),
and the local Gradient-compatible server in `gradient_integrations.local`; each is imported on demand.
"""

from ._version import __version__
from .core import *  # noqa: F403
from .core import __all__ as _core_all

__all__ = [*_core_all, "__version__"]
