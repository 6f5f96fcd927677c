"""The one error for a part of the package whose optional dependencies (its pip "extra") are missing.

Each optional part checks before importing anything: a bare `No module named 'langchain_core'` tells a user
what is missing but not how this package wants it installed.
"""

from __future__ import annotations

import importlib.util

__all__ = ["require_extra"]


def require_extra(extra: str, *modules: str, feature: str) -> None:
    """ModuleNotFoundError naming `pip install "gradient-integrations[<extra>]"` for an absent module."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a dotted name whose parent package is missing
            found = False
        if not found:
            raise ModuleNotFoundError(
                f"{feature} needs the {extra!r} extra, and {module!r} is not installed: "
                f'pip install "gradient-integrations[{extra}]"',
                name=module,
            )
