"""Time as a port: the wall clock, the scaled clock and a fake for tests.

Logic never calls ``time.time()``; it is handed a :class:`Clock`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch on ecsbox's (possibly scaled) clock."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch on the real wall clock (lifetimes that protect people)."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def wall(self) -> float:
        return time.time()


def scaled_now(t0: float, t1: float, wall: float, time_scale: float) -> float:
    """ecsbox time under a time scale: ``t0 + (wall - t1) * time_scale``.

    ``t0`` is the scaled time stored when the data directory was first used, ``t1`` the wall
    time the server started. Example: t0=1000, t1=5000, wall=5010, N=60 → 1000 + 10*60 = 1600.
    """
    return t0 + (wall - t1) * time_scale


class ScaledClock:
    def __init__(self, t0: float, t1: float, time_scale: float) -> None:
        self.t0 = t0
        self.t1 = t1
        self.time_scale = time_scale

    def now(self) -> float:
        return scaled_now(self.t0, self.t1, time.time(), self.time_scale)

    def wall(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall = start

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._wall += seconds
