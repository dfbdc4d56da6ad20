import pytest

from ecsbox.core.lag import LoopLagMonitor, percentile


@pytest.mark.parametrize(
    ("samples", "fraction", "expected"),
    [([1, 2, 3, 4], 0.5, 2), ([1, 2, 3, 4], 0.99, 4), ([], 0.99, 0.0), ([5], 0.5, 5), ([3, 1, 2], 0.01, 1)],
)
def test_percentile(samples: list[float], fraction: float, expected: float) -> None:
    assert percentile(samples, fraction) == expected


def test_summary_in_milliseconds() -> None:
    monitor = LoopLagMonitor()
    monitor.samples.extend([0.001, 0.002, 0.020])
    assert monitor.summary() == {"samples": 3, "p50_ms": 2.0, "p99_ms": 20.0, "max_ms": 20.0}
