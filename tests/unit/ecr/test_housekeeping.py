"""How long the registry's housekeeping waits before it looks at lifecycle policies again."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecsbox.core.clock import FakeClock
from ecsbox.ecr.blobs import BlobStore
from ecsbox.ecr.housekeeping import RegistryHousekeeping

NOW = 1_700_000_000.0
DAY = 86_400.0


@pytest.mark.parametrize(
    ("time_scale", "due", "expected"),
    [
        (1.0, None, 60.0),  # no policy anywhere: a minute, so a new policy is seen soon
        (1.0, NOW + 30.0, 30.0),  # the next repository falls due in 30 s
        (1.0, NOW + DAY, 60.0),  # far off: still look every minute
        (1.0, NOW - 5.0, 0.05),  # overdue: at once (but never a busy loop)
        (86_400.0, None, 1.0),  # a day per second: a policy put now applies within a second
        (86_400.0, NOW + DAY / 2, 0.5),
        (86_400.0, NOW + 10 * DAY, 1.0),
        (20.0, NOW + 600.0, 30.0),  # 600 s of ecsbox time at x20
    ],
)
def test_pause_until_the_next_look(
    tmp_path: Path, time_scale: float, due: float | None, expected: float
) -> None:
    keeper = RegistryHousekeeping(None, FakeClock(NOW), BlobStore(tmp_path), time_scale, 3600.0)  # type: ignore[arg-type]
    assert keeper.pause_s(due) == pytest.approx(expected)
