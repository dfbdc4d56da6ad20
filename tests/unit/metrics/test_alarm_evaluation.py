"""Alarm evaluation against AWS's documented examples: both tables of the CloudWatch user guide's
"How alarm state is evaluated when data is missing" (every row, every TreatMissingData mode), M out of
N alarms, the evaluation range, AWS/DynamoDB's rule, and percentiles with low sample counts — on a
FakeClock, as the evaluator calls it."""

from __future__ import annotations

import doctest

import pytest

from ecsbox.core.clock import FakeClock
from ecsbox.metrics import alarms
from ecsbox.metrics.alarm_model import ALARM, INSUFFICIENT_DATA, OK, AlarmConfig
from ecsbox.metrics.alarms import (
    Datapoint,
    decide,
    evaluate,
    evaluation_interval,
    evaluation_range,
    minimum_samples,
    range_starts,
    window_end,
)

KEEP = None  # "Retain current state"
MODES = ("missing", "ignore", "breaching", "notBreaching")
THRESHOLD = 1.0
BREACHING_VALUE, OK_VALUE = 5.0, 0.0


def test_doctests() -> None:
    assert doctest.testmod(alarms).failed == 0


def config(
    n: int = 3,
    m: int | None = None,
    treat: str | None = None,
    *,
    namespace: str = "App",
    statistic: str = "Sum",
    low_sample: str | None = None,
    period: int = 300,
) -> AlarmConfig:
    document: dict[str, object] = {
        "Namespace": namespace,
        "MetricName": "Errors",
        "Period": period,
        "EvaluationPeriods": n,
        "Threshold": THRESHOLD,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    if statistic.startswith("p"):
        document["ExtendedStatistic"] = statistic
    else:
        document["Statistic"] = statistic
    for key, value in (("DatapointsToAlarm", m), ("TreatMissingData", treat)):
        if value is not None:
            document[key] = value
    if low_sample is not None:
        document["EvaluateLowSampleCountPercentile"] = low_sample
    return AlarmConfig.from_document("errors", document)


def series(text: str, clock: FakeClock, period: int = 300, samples: float = 1.0) -> list[Datapoint]:
    """``"0 - X - X"`` as the guide writes it (0 not breaching, X breaching, - missing), oldest
    first, as the periods of the evaluation range ending at ``clock``'s last whole minute."""
    marks = text.split()
    starts = range_starts(window_end(clock.now(), period), period, len(marks))
    values = {"0": OK_VALUE, "X": BREACHING_VALUE, "-": None}
    return [
        Datapoint(start, values[mark], samples if mark != "-" else 0.0)
        for start, mark in zip(starts, marks, strict=True)
    ]


# The guide's first table: DatapointsToAlarm = EvaluationPeriods = 3, evaluation range of 5 periods.
# Columns: MISSING, IGNORE, BREACHING, NOT BREACHING.
THREE_OF_THREE = [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("0 - - - -", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT_DATA, KEEP, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", (INSUFFICIENT_DATA, KEEP, ALARM, OK)),
    ("X - - - -", (ALARM, KEEP, ALARM, OK)),
]
# The second table: 2 out of 3.
TWO_OF_THREE = [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - - X", (INSUFFICIENT_DATA, KEEP, ALARM, OK)),
]


@pytest.mark.parametrize(("m", "table"), [(3, THREE_OF_THREE), (2, TWO_OF_THREE)], ids=["3-of-3", "2-of-3"])
def test_every_row_of_the_guides_tables_in_every_mode(
    m: int, table: list[tuple[str, tuple[str | None, ...]]]
) -> None:
    clock = FakeClock(1_732_788_125.0)
    assert evaluation_range(3) == 5  # the tables show 5 periods
    for text, expected in table:
        for mode, want in zip(MODES, expected, strict=True):
            points = series(text, clock)
            got = decide(config(3, m, mode), points)
            assert got == want, f"{text} with {mode}: {got} != {want}"
            outcome = evaluate(config(3, m, mode), points, clock.now())
            assert outcome.state == want
            assert (outcome.reason == "") == (want is KEEP)


def test_missing_is_the_default_treatment() -> None:
    clock = FakeClock()
    assert decide(config(3, 3, None), series("- - - - -", clock)) == INSUFFICIENT_DATA
    assert decide(config(3, 3, None), series("X - - - -", clock)) == ALARM


def test_retain_current_state_means_no_change_whatever_the_state() -> None:
    clock = FakeClock()
    for text in ("- - - - -", "- - - - X", "X - - - -"):
        assert evaluate(config(3, 3, "ignore"), series(text, clock), clock.now()).state is None


@pytest.mark.parametrize(
    ("n", "m", "text", "want"),
    [
        (5, 3, "- - X 0 X 0 X", ALARM),  # 3 of the last 5, not consecutive
        (5, 3, "- - X 0 0 0 X", OK),
        (3, 1, "- - 0 0 X", ALARM),
        (3, 3, "- - X X 0", OK),
        (1, 1, "- - X", ALARM),
        (4, 2, "X X 0 0 0 0", OK),  # the old breaches are out of the last 4
    ],
)
def test_m_out_of_n(n: int, m: int, text: str, want: str) -> None:
    clock = FakeClock()
    for mode in MODES:  # enough real data: the treatment plays no part
        assert decide(config(n, m, mode), series(text, clock)) == want


def test_datapoints_to_alarm_defaults_to_evaluation_periods() -> None:
    clock = FakeClock()
    assert decide(config(3), series("- - X X 0", clock)) == OK
    assert decide(config(3), series("- - X X X", clock)) == ALARM


def test_real_datapoints_anywhere_in_the_range_count_and_the_recent_gaps_are_filled() -> None:
    clock = FakeClock()
    # Three real points, the newest two periods missing: no filling at all.
    assert decide(config(3, 3, "notBreaching"), series("X X X - -", clock)) == ALARM
    # One real breaching point two periods back, N=2: one fill, treated as breaching.
    assert decide(config(2, 2, "breaching"), series("- - X -", clock)) == ALARM
    assert decide(config(2, 2, "notBreaching"), series("- - X -", clock)) == OK


def test_dynamodb_metrics_always_ignore_missing_data() -> None:
    clock = FakeClock()
    dynamo = config(3, 3, "breaching", namespace="AWS/DynamoDB")
    assert decide(dynamo, series("- - - - -", clock)) is KEEP
    assert decide(dynamo, series("X X X - -", clock)) == ALARM


@pytest.mark.parametrize(
    ("statistic", "needed"),
    [("p99", 1000), ("p90", 100), ("p50", 20), ("p99.9", 10_000), ("p25", 40), ("p10", 100)],
)
def test_percentile_significance_is_10_over_1_minus_p_or_10_over_p(statistic: str, needed: int) -> None:
    assert minimum_samples(statistic) == needed
    clock = FakeClock()
    ignoring = config(1, 1, statistic=statistic, low_sample="ignore")
    assert decide(ignoring, series("- - X", clock, samples=needed - 1)) is KEEP
    assert decide(ignoring, series("- - X", clock, samples=needed)) == ALARM
    evaluating = config(1, 1, statistic=statistic, low_sample="evaluate")
    assert decide(evaluating, series("- - X", clock, samples=1)) == ALARM
    assert decide(config(1, 1, statistic=statistic), series("- - X", clock, samples=1)) == ALARM


def test_p100_and_p0_need_no_minimum_sample_count() -> None:
    assert (
        minimum_samples("p100") is None and minimum_samples("p0") is None and minimum_samples("Sum") is None
    )


@pytest.mark.parametrize(
    ("period", "n", "interval"),
    [(10, 3, 10), (20, 1, 10), (30, 5, 10), (60, 5, 60), (300, 288, 60), (3600, 24, 60), (3600, 25, 3600)],
)
def test_evaluation_interval(period: int, n: int, interval: int) -> None:
    assert evaluation_interval(period, n) == interval


def test_window_ends_at_the_last_whole_minute_or_ten_seconds() -> None:
    clock = FakeClock(1_700_000_000.0 + 59.9)
    assert window_end(clock.now(), 300) == 1_700_000_040.0
    assert window_end(clock.now(), 10) == 1_700_000_050.0
