import asyncio
import logging

import pytest

from ecsbox.core.loops import in_batches, run_forever, wall_pause_s


@pytest.mark.parametrize(
    ("ecsbox_s", "scale", "expected"),
    [
        (3_600.0, 1.0, 60.0),  # an hour, unscaled: the one-minute ceiling
        (3_600.0, 720.0, 5.0),  # an hour at 720x: five wall seconds
        (300.0, 60.0, 5.0),  # five minutes at 60x
        (300.0, 86_400.0, 1.0),  # a day a second: the one-second floor
        (30.0, 1.0, 30.0),  # within the bounds: as is
    ],
)
def test_wall_pause_s(ecsbox_s: float, scale: float, expected: float) -> None:
    assert wall_pause_s(ecsbox_s, scale) == expected


def test_wall_pause_s_other_bounds() -> None:
    assert wall_pause_s(10.0, 1.0, minimum_s=0.5, maximum_s=2.0) == 2.0
    assert wall_pause_s(10.0, 100.0, minimum_s=0.5, maximum_s=2.0) == 0.5


def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    passes: list[int] = []

    async def one_pass() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("boom")
        if len(passes) == 3:
            raise asyncio.CancelledError  # cancellation is not a failure: it ends the loop

    log = logging.getLogger("ecsbox.test.loops")
    with caplog.at_level(logging.ERROR, logger="ecsbox.test.loops"), pytest.raises(asyncio.CancelledError):
        asyncio.run(run_forever(one_pass, lambda: 0.0, log, "test_pass_failed"))
    assert passes == [0, 1, 2]
    failures = [r for r in caplog.records if r.getMessage() == "event=test_pass_failed"]
    assert len(failures) == 1 and failures[0].exc_info is not None


@pytest.mark.parametrize(
    ("rows", "batch", "writes", "expected"),
    [
        (4_500, 2_000, 3, 4_500),  # 2,000, 2,000, 500
        (4_000, 2_000, 3, 4_000),  # 2,000, 2,000, then an empty batch says it is done
        (0, 2_000, 1, 0),
    ],
)
def test_in_batches_runs_until_a_short_batch(rows: int, batch: int, writes: int, expected: int) -> None:
    left = [rows]
    calls: list[str] = []

    async def write(what: str) -> int:
        calls.append(what)
        done = min(batch, left[0])
        left[0] -= done
        return done

    assert asyncio.run(in_batches(write, "expire", batch)) == expected
    assert calls == ["expire"] * writes
