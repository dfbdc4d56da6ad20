"""The operator's surface under ``/_ecsbox/``: health, reset (tests only), and later the web console."""

from ecsbox.console.operator import OperatorEndpoints

__all__ = ["OperatorEndpoints"]
