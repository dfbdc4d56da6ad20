"""Background loops: a pass, then a pause, until cancelled; a pass that fails is logged and the
next one still runs (a bug in one pass must not stop the work for good). And work done in batches,
so that the one writer never stalls on a million rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

B = TypeVar("B")


def wall_pause_s(
    ecsbox_s: float, time_scale: float, minimum_s: float = 1.0, maximum_s: float = 60.0
) -> float:
    """Wall-clock seconds that ``ecsbox_s`` of ecsbox time take under ``time_scale``, kept within
    [``minimum_s``, ``maximum_s``].

    Examples: an hour at scale 1 → 60.0 (the maximum); an hour at 720 → 5.0; 5 minutes at 86,400
    → 1.0 (the minimum).
    """
    return min(maximum_s, max(minimum_s, ecsbox_s / time_scale))


async def run_forever(
    one_pass: Callable[[], Awaitable[object]],
    pause_s: Callable[[], float],
    log: logging.Logger,
    failed_event: str,
) -> NoReturn:
    """Forever: ``await one_pass()``, then sleep ``pause_s()`` wall-clock seconds. A pass that
    raises is logged on ``log`` as ``event=<failed_event>`` with its traceback; cancellation ends
    the loop."""
    while True:
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event=%s", failed_event)
        await asyncio.sleep(pause_s())


async def in_batches(write: Callable[[B], Awaitable[int]], one_batch: B, batch: int) -> int:
    """``await write(one_batch)`` until it does fewer than ``batch`` rows (a short batch means nothing
    is left), letting other work in between batches; returns the rows done in all.

    Example: deleting 4,500 expired rows with ``batch`` 2,000 writes 2,000, 2,000, then 500 → 4,500.
    """
    done = 0
    while True:
        rows = await write(one_batch)
        done += rows
        if rows < batch:
            return done
        await asyncio.sleep(0)
