import pytest

from ecsbox.core.clock import FakeClock, scaled_now


@pytest.mark.parametrize(
    ("t0", "t1", "wall", "scale", "expected"),
    [
        (1000, 5000, 5010, 60, 1600),  # ten wall seconds are ten minutes
        (1000, 5000, 5000, 86400, 1000),  # at start, the origin
        (1000, 5000, 5001, 1, 1001),  # unscaled, wall-paced
        (1000, 5000, 5000.5, 86400, 44200),  # half a second is half a day
    ],
)
def test_scaled_now(t0: float, t1: float, wall: float, scale: float, expected: float) -> None:
    assert scaled_now(t0, t1, wall, scale) == expected


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert clock.now() == 100.0
    clock.advance(2.5)
    assert clock.now() == 102.5 and clock.wall() == 102.5
