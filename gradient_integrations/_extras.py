"""The one error for a part of the package whose optional dependencies (its pip "extra") are missing.

Each optional part checks before importing anything: a bare `No module named 'langchain_core'` tells a user
what is missing but not how this package wants it installed.
"""

from __future__ import annotations

import importlib.util

__all__ = ["is_installed", "require_extra"]


def is_installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (a dotted name's parents are imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


def require_extra(extra: str, *modules: str, feature: str) -> None:
    """ModuleNotFoundError naming `pip install "gradient-integrations[<extra>]"` for an absent module."""
    for module in modules:
        if not is_installed(module):
            raise ModuleNotFoundError(
                f"{feature} needs the {extra!r} extra, and {module!r} is not installed: "
                f'pip install "gradient-integrations[{extra}]"',
                name=module,
            )
