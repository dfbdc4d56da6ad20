"""How late the event loop runs: a sleeper that measures how far past its deadline it wakes.

A blocked loop delays every request; ecsbox keeps the p99 under 10 ms and reports it at
``/_ecsbox/health`` so a benchmark can read it right after a load run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile. ``percentile([1, 2, 3, 4], 0.5)`` → 2; ``(…, 0.99)`` → 4; [] → 0."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class LoopLagMonitor:
    def __init__(self, interval_s: float = 0.01, window: int = 1000) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)  # lag in seconds, newest last

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.samples.append(max(0.0, time.perf_counter() - started - self.interval_s))

    def summary(self) -> dict[str, float]:
        samples = list(self.samples)
        return {
            "samples": len(samples),
            "p50_ms": round(percentile(samples, 0.5) * 1000, 3),
            "p99_ms": round(percentile(samples, 0.99) * 1000, 3),
            "max_ms": round(max(samples, default=0.0) * 1000, 3),
        }
