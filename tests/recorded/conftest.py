"""Puts the recorded corpus's loader (`tests/fixtures/recorded/corpus.py`) on the import path.

No `__init__.py` here, as in `tests/integration/`: a package would put `tests/` on `sys.path`, where
`tests/langchain/` and `tests/llama_index/` would shadow the real libraries.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "recorded"))
