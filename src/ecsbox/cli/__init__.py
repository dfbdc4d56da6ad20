"""The ``ecsbox`` command: ``up``, ``down``, ``status``, ``version``.

Stdlib only, so ``ecsbox --help`` and ``ecsbox status`` stay fast and work even when the server's
dependencies are broken. The server itself (``ecsbox.app``) is imported only by ``ecsbox up``.
"""

from ecsbox.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
