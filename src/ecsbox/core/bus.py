"""An in-process publish/subscribe bus for events between capabilities."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._subscribers[topic].append(handler)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for handler in list(self._subscribers.get(topic, ())):
            result = handler(topic, event)
            if result is not None:
                await result
