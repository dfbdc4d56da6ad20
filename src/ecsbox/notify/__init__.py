"""SNS: topics, subscriptions and deliveries: how people and programs hear of events (an alarm
changed state).

Other packages use only what is named here.
"""

from __future__ import annotations

from typing import Any


def register(registry: Any, store: Any, clock: Any) -> None:
    """Register every SNS operation with the wire layer's registry."""
