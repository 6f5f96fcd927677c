"""`ChatGradient.profile`: the core catalog's facts about a model, in langchain-core's `ModelProfile` keys.

Only facts the catalog has are set (a key is absent, not False, when unknown), and a model the catalog
does not know has no profile (None), as ChatOpenAI does. Inputs are what this adapter sends: the
endpoint is text-only here, so no media input is claimed whatever the model can see.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.language_models.model_profile import ModelProfile

from ..core.catalog import CATALOG, ModelCatalog

__all__ = ["model_profile"]


def model_profile(model: str, catalog: ModelCatalog = CATALOG) -> ModelProfile | None:
    info = catalog.get(model)
    if info is None or info.kind != "chat":
        return None
    facts: dict[str, Any] = {
        "name": info.name,
        "release_date": info.release_date,
        "open_weights": info.open_weights,
        "max_input_tokens": info.context_window,
        "max_output_tokens": info.max_output_tokens,
        "reasoning_output": info.reasoning,
        "tool_calling": info.tool_calling,
        "tool_choice": info.tool_calling,  # the endpoint takes every tool_choice form with tools
        "structured_output": info.structured_output,
    }
    profile: dict[str, Any] = {key: value for key, value in facts.items() if value is not None}
    profile.update(
        text_inputs=True,
        text_outputs=True,
        image_inputs=False,
        image_url_inputs=False,
        pdf_inputs=False,
        audio_inputs=False,
        video_inputs=False,
    )
    if info.tool_calling:
        profile["tool_call_streaming"] = True
    return cast(ModelProfile, profile)
