"""The embeddings corpus loader (`tests/fixtures/recorded/embeddings/corpus.py`), imported by file path.

It is also called `corpus.py`, so it is loaded under its own name here: `corpus` on `sys.path` is the
`/v1/responses` corpus one folder up (see `conftest.py`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "embeddings"


def _load() -> ModuleType:
    name = "_embeddings_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FOLDER / "corpus.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file executes
        spec.loader.exec_module(module)
    return sys.modules[name]


loader = _load()
Exchange = loader.Exchange
load_exchanges = loader.load_exchanges
