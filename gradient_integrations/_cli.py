"""The console script `gradient-local-server`.

It imports the server only when run, so a missing `local` extra is one line naming its `pip install`, not a
traceback from the import machinery. (`gradient-demo` is `demo.main` itself: the demo checks its extras.)
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
