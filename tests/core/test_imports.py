"""`import gradient_integrations` loads the core only: no LangChain, LlamaIndex, server or SDK packages.

Checked in a fresh interpreter (this test process has long since imported everything), by listing
`sys.modules` after the import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import gradient_integrations
import gradient_integrations.core

FORBIDDEN = ("langchain", "langchain_core", "llama_index", "starlette", "uvicorn", "openai", "pydo", "numpy")

_PROBE = """
import json, sys
import gradient_integrations
from gradient_integrations import ResponsesClient, build_request
ResponsesClient(base_url="http://127.0.0.1:1").close()
build_request(model="m", input="hi").to_body(stream=True)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _top_level_modules_after_import() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_importing_the_package_pulls_in_no_framework() -> None:
    loaded = _top_level_modules_after_import()
    assert {"gradient_integrations", "httpx", "pydantic"} <= loaded  # the probe really ran
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
    assert not {name for name in loaded if name.startswith(("langchain", "llama"))}


def test_adapter_and_server_subpackages_are_not_loaded_eagerly() -> None:
    probe = (
        "import sys, gradient_integrations\n"
        "print([m for m in sys.modules if m.startswith('gradient_integrations.')"
        " and not m.startswith(('gradient_integrations.core', 'gradient_integrations._version'))])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_package_reexports_the_core_api() -> None:
    for name in gradient_integrations.core.__all__:
        assert getattr(gradient_integrations, name) is getattr(gradient_integrations.core, name)
    assert "__version__" in gradient_integrations.__all__
