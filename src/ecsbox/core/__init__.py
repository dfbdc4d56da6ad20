"""Shared kernel: clock, ids and ARNs, the in-process bus, the base error tree."""

from ecsbox.core.clock import Clock, FakeClock, ScaledClock, WallClock
from ecsbox.core.errors import EcsboxError

__all__ = ["Clock", "EcsboxError", "FakeClock", "ScaledClock", "WallClock"]
