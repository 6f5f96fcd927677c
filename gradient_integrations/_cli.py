"""The console scripts `gradient-local-server` and `gradient-demo`.

They import their program only when run, so a missing extra is one line naming its `pip install`, not a
traceback from the import machinery.
"""

from __future__ import annotations

import sys


def local_server() -> int:
    """`gradient-local-server`: `python -m gradient_integrations.local` (needs the `local` extra)."""
    try:
        from .local.__main__ import main
    except ModuleNotFoundError as exc:
        print(f"gradient-local-server: {exc}", file=sys.stderr)
        return 1
    return main()


def demo() -> int:
    """`gradient-demo`: `python -m gradient_integrations.demo` (the halves whose extras are installed)."""
    from .demo import main

    return main()
