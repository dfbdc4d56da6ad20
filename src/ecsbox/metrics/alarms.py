"""How a metric alarm decides its state, as CloudWatch does (SEMANTICS.md §5.3). Pure: the caller
reads the datapoints of the evaluation range and writes what :func:`evaluate` decides.

**When and over what.** An alarm with a period of a minute or more is evaluated every minute, one of
10, 20 or 30 seconds every 10 seconds, and one whose Period x EvaluationPeriods passes a day every
hour (CloudWatch user guide, "Alarm evaluation"). Each evaluation looks at whole periods ending at
the last whole minute (10 seconds for high-resolution alarms) — a sliding window, as the guide's
example says: with a 5-minute period, at the end of minute 6 the alarm evaluates minutes 2 to 6.
Real state reasons confirm it (``startDate`` 05:56 for a 300-second alarm evaluated at 06:01:18).
The partial period still filling is never evaluated: its value would change as data arrives.

**The evaluation range.** CloudWatch fetches more periods than EvaluationPeriods (N); its guide's
worked example has N = 3 and a range of 5. ecsbox takes N + 2 periods (:func:`evaluation_range`).
Then (guide, "How alarm state is evaluated when data is missing"):

* with at least N real datapoints in the range, the N most recent real ones are evaluated, and
  TreatMissingData plays no part;
* with fewer, the missing datapoints are filled as few times as possible (N - real of them, the most
  recent missing periods) and every real datapoint in the range counts, however old;
* ALARM when at least M (DatapointsToAlarm) evaluated datapoints breach, else OK — where
  ``breaching`` counts the filled ones as breaching and ``notBreaching`` as not;
* ``missing`` and ``ignore`` do not count filled datapoints either way: fewer than M breaching with a
  real non-breaching datapoint is OK; no real datapoint at all is INSUFFICIENT_DATA (``missing``) or
  no change (``ignore``); and when every real datapoint breaches but fewer than M do, ``ignore``
  keeps the state and ``missing`` goes to ALARM when the oldest evaluated datapoint is a real one
  (the metric stopped after breaching: "CloudWatch alarms may repeatedly re-evaluate the last set of
  data points … after the metric has stopped flowing"), else INSUFFICIENT_DATA (data is only
  starting to arrive). This rule reproduces every row of both of the guide's tables; the guide gives
  the reason for its ``X - - - -`` row only as "the oldest evaluated data point is breaching and there
  aren't any non-breaching data points".

**Percentiles with few samples.** With ``EvaluateLowSampleCountPercentile: ignore`` the state does
not change while an evaluated datapoint has fewer samples than 10/(1-p) (p ≥ 0.5) or 10/p (p < 0.5)
(:func:`minimum_samples`); ``evaluate`` (the default) always evaluates.

>>> from ecsbox.metrics.alarm_model import AlarmConfig
>>> config = AlarmConfig.from_document("a", {"Namespace": "App", "MetricName": "Errors",
...     "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "Threshold": 1.0,
...     "ComparisonOperator": "GreaterThanThreshold"})
>>> starts = range_starts(window_end(1_700_000_330.0, 60), 60, evaluation_range(3))
>>> points = [Datapoint(t, v, 1.0) for t, v in zip(starts, [None, 0.0, 2.0, None, 3.0])]
>>> evaluate(config, points, 1_700_000_330.0).state
'OK'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ecsbox.metrics.alarm_model import (
    ALARM,
    INSUFFICIENT_DATA,
    LOW_SAMPLE_IGNORE,
    OK,
    TREAT_BREACHING,
    TREAT_IGNORE,
    TREAT_MISSING,
    TREAT_NOT_BREACHING,
    AlarmConfig,
    wording,
)
from ecsbox.metrics.alarm_text import aws_time, java_double, plural, reason_time, to_json, was_were
from ecsbox.metrics.statistics import percentile_of

HIGH_RESOLUTION_TICK = 10  # seconds between evaluations of a 10-, 20- or 30-second alarm
MINUTE = 60
HOUR = 3_600
DAY = 86_400


@dataclass(frozen=True)
class Datapoint:
    """One period of the evaluation range: its start, the statistic's value (None: missing) and how
    many samples it was computed from."""

    timestamp: float
    value: float | None = None
    sample_count: float = 0.0

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Outcome:
    """What one evaluation decided: the new state (None: keep the current one), and the state reason
    and reason data (JSON) CloudWatch writes with it."""

    state: str | None
    reason: str = ""
    reason_data: str | None = None


# ---- when and over what -----------------------------------------------------------------------------


def evaluation_interval(period: int, evaluation_periods: int) -> int:
    """Seconds between two evaluations of an alarm.

    >>> evaluation_interval(10, 6), evaluation_interval(300, 3), evaluation_interval(3600, 25)
    (10, 60, 3600)
    """
    if period < MINUTE:
        return HIGH_RESOLUTION_TICK
    if period * evaluation_periods > DAY:
        return HOUR
    return MINUTE


def window_end(now: float, period: int) -> float:
    """Where the evaluated periods end: the last whole minute, or the last whole 10 seconds for a
    high-resolution alarm.

    >>> window_end(1_700_000_339.5, 300), window_end(1_700_000_339.5, 10)
    (1700000280.0, 1700000330.0)
    """
    step = HIGH_RESOLUTION_TICK if period < MINUTE else MINUTE
    return float(math.floor(now / step) * step)


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods an evaluation fetches: N + 2 (the guide's example fetches 5 for N = 3).

    >>> evaluation_range(3), evaluation_range(1)
    (5, 3)
    """
    return evaluation_periods + 2


def range_starts(end: float, period: int, count: int) -> list[float]:
    """The starts of the ``count`` periods ending at ``end``, oldest first.

    >>> range_starts(600.0, 60, 3)
    [420.0, 480.0, 540.0]
    """
    return [end - (count - index) * period for index in range(count)]


def minimum_samples(statistic: str) -> Fraction | None:
    """The samples a percentile needs to be statistically significant: 10/(1-p) for p in [0.5, 1),
    10/p for p in (0, 0.5); None for other statistics (and p0, p100).

    >>> minimum_samples("p99"), minimum_samples("p90"), minimum_samples("p25"), minimum_samples("Sum")
    (Fraction(1000, 1), Fraction(100, 1), Fraction(40, 1), None)
    """
    percent = percentile_of(statistic)
    if percent is None:
        return None
    fraction = Fraction(repr(percent)) / 100
    if Fraction(1, 2) <= fraction < 1:
        return 10 / (1 - fraction)
    if 0 < fraction < Fraction(1, 2):
        return 10 / fraction
    return None


# ---- the decision -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    real: list[Datapoint]  # the real datapoints evaluated, oldest first
    filled: list[Datapoint]  # the missing periods filled in, oldest first

    @property
    def evaluated(self) -> list[Datapoint]:
        return sorted(self.real + self.filled, key=lambda point: point.timestamp)


def _select(points: Sequence[Datapoint], evaluation_periods: int) -> _Selection:
    real = [point for point in points if not point.missing]
    if len(real) >= evaluation_periods:
        return _Selection(real[-evaluation_periods:], [])
    gaps = [point for point in points if point.missing]
    wanted = min(evaluation_periods - len(real), len(gaps))
    return _Selection(real, gaps[len(gaps) - wanted :] if wanted else [])


def _low_sample(config: AlarmConfig, real: Sequence[Datapoint]) -> bool:
    if not config.extended or config.low_sample_count != LOW_SAMPLE_IGNORE:
        return False
    needed = minimum_samples(config.statistic)
    return needed is not None and any(point.sample_count < needed for point in real)


def decide(config: AlarmConfig, points: Sequence[Datapoint]) -> str | None:
    """The state the datapoints of the evaluation range (oldest first) call for; None: keep the
    current state, whatever it is. See the module's description for the rules.

    >>> from ecsbox.metrics.alarm_model import AlarmConfig
    >>> config = AlarmConfig.from_document("a", {"Namespace": "App", "MetricName": "Errors",
    ...     "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
    ...     "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"})
    >>> decide(config, [Datapoint(t, v) for t, v in enumerate([0.0, 0.0, 2.0, 0.0, 2.0])])
    'ALARM'
    """
    selection = _select(points, config.evaluation_periods)
    if _low_sample(config, selection.real):
        return None
    return _state(config, selection)


def _state(config: AlarmConfig, selection: _Selection) -> str | None:
    needed = config.datapoints_to_alarm
    breaching = sum(1 for point in selection.real if config.breaches(_value(point)))
    if not selection.filled:
        return ALARM if breaching >= needed else OK
    treatment = config.treatment
    if treatment == TREAT_BREACHING:
        return ALARM if breaching + len(selection.filled) >= needed else OK
    if treatment == TREAT_NOT_BREACHING or breaching >= needed:
        return ALARM if breaching >= needed else OK
    if breaching < len(selection.real):  # a real datapoint does not breach
        return OK
    if treatment == TREAT_IGNORE:
        return None
    assert treatment == TREAT_MISSING
    if not selection.real:
        return INSUFFICIENT_DATA
    oldest = selection.evaluated[0]
    return ALARM if not oldest.missing else INSUFFICIENT_DATA


def _value(point: Datapoint) -> float:
    assert point.value is not None
    return point.value


def evaluate(config: AlarmConfig, points: Sequence[Datapoint], now: float) -> Outcome:
    """Decide the state for the evaluation range ``points`` (oldest first) at ``now``, with the state
    reason and reason data CloudWatch writes for it. The state may be the alarm's current one (then
    nothing changes, but a scaling action is invoked again); None keeps the current state."""
    selection = _select(points, config.evaluation_periods)
    if _low_sample(config, selection.real):
        return Outcome(None)
    state = _state(config, selection)
    if state is None:
        return Outcome(None)
    return Outcome(state, state_reason(config, selection, state), reason_data(config, selection, now))


# ---- what CloudWatch writes ---------------------------------------------------------------------------


def _treated_as(config: AlarmConfig) -> str | None:
    return {TREAT_BREACHING: "Breaching", TREAT_NOT_BREACHING: "NonBreaching"}.get(config.treatment)


def state_reason(config: AlarmConfig, selection: _Selection, state: str) -> str:
    """The StateReason of an evaluation, in CloudWatch's words, e.g. ``Threshold Crossed: 2 out of
    the last 3 datapoints [80.1 (28/11/24 10:03:00), 75.2 (28/11/24 10:01:00)] were greater than or
    equal to the threshold (70.0) (minimum 2 datapoints for OK -> ALARM transition).``"""
    filled = len(selection.filled)
    if state == INSUFFICIENT_DATA:
        return f"Insufficient Data: {plural(filled, 'datapoint')} {was_were(filled)} unknown."
    to_alarm = state == ALARM
    listed = [p for p in selection.real if config.breaches(_value(p)) == to_alarm]
    treated = _treated_as(config) if filled else None
    n = config.evaluation_periods
    if not listed:
        received = len(selection.real)
        got = (
            "no datapoints were" if not received else f"{plural(received, 'datapoint')} {was_were(received)}"
        )
        return (
            f"Threshold Crossed: {got} received for {plural(n, 'period')} and "
            f"{plural(filled, 'missing datapoint')} {was_were(filled)} treated as [{treated}]."
        )
    shown = ", ".join(f"{java_double(_value(p))} ({reason_time(p.timestamp)})" for p in reversed(listed))
    count = len(listed)
    comparison = ("" if to_alarm else "not ") + wording(config.comparison)
    threshold = java_double(config.threshold)
    if config.datapoints_given is None:
        text = f"Threshold Crossed: {plural(count, 'datapoint')} [{shown}] {was_were(count)} {comparison}"
    else:
        text = f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] {was_were(count)} {comparison}"
    text += f" the threshold ({threshold})"
    if treated is not None:
        text += f" and {plural(filled, 'missing datapoint')} {was_were(filled)} treated as [{treated}]"
    if config.datapoints_given is not None:
        needed = config.datapoints_to_alarm if to_alarm else n - config.datapoints_to_alarm + 1
        transition = "OK -> ALARM" if to_alarm else "ALARM -> OK"
        text += f" (minimum {plural(needed, 'datapoint')} for {transition} transition)"
    return text + "."


def reason_data(config: AlarmConfig, selection: _Selection, now: float) -> str:
    """The StateReasonData JSON: when the query ran, the statistic, the real datapoints' values
    (oldest first) and every evaluated datapoint (newest first; a filled one has only its time)."""
    document: dict[str, object] = {"version": "1.0", "queryDate": aws_time(now)}
    if selection.real:
        document["startDate"] = aws_time(selection.real[0].timestamp)
    if config.unit is not None:
        document["unit"] = config.unit
    document["extendedStatistic" if config.extended else "statistic"] = config.statistic
    document["period"] = config.period
    document["recentDatapoints"] = [_value(p) for p in selection.real]
    document["threshold"] = config.threshold
    document["evaluatedDatapoints"] = [_evaluated(p) for p in reversed(selection.evaluated)]
    return to_json(document)


def _evaluated(point: Datapoint) -> dict[str, object]:
    if point.missing:
        return {"timestamp": aws_time(point.timestamp)}
    return {"timestamp": aws_time(point.timestamp), "sampleCount": point.sample_count, "value": point.value}
