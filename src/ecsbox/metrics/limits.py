"""PutMetricData's rules (pure): what a datum may carry, and the :class:`Datum` it is stored as.

A request is checked as CloudWatch checks it: the namespace, the number of data (≤ 1,000 across
``MetricData`` and ``EntityMetricData``), then each datum — which of ``Value``, ``Values`` and
``StatisticValues`` it carries (exactly one), its numbers (finite, within ±2^360), its dimensions
(unique ASCII names and values), its timestamp (at most two weeks old, at most two hours ahead) and
its storage resolution (1 or 60). Every broken rule is reported; the answer carries the code of the
first and, one per line, every message with that code (as AWS lists every bad timestamp).

>>> [d.sum for d in data_of("App", [{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [3.0, 1.0]}], 0.0)]
[5.0]
>>> data_of("AWS/EC2", [{"MetricName": "m", "Value": 1.0}], 0.0)
Traceback (most recent call last):
...
ecsbox.metrics.model.MetricsRuleError: The value AWS/EC2 for parameter Namespace is invalid.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ecsbox.metrics.model import (
    INVALID_COMBINATION,
    INVALID_VALUE,
    Datum,
    MetricId,
    MetricsRuleError,
    missing,
)

MAX_DATA = 1_000  # data per request, MetricData and EntityMetricData together
MAX_VALUES = 150  # distinct values of one datum's Values array
MAX_DIMENSIONS = 30
VALUE_LIMIT = 2.0**360  # |value| must be below this, and zero or at least its inverse
TOO_OLD_S = 14 * 86_400  # two weeks
TOO_NEW_S = 2 * 3_600  # two hours
STORAGE_RESOLUTIONS = (1, 60)
RESERVED_NAMESPACE_PREFIX = "AWS/"


def is_valid_value(value: Any) -> bool:
    """A number CloudWatch stores: finite, |v| ≤ 2^360 and either zero or |v| ≥ 2^-360.

    >>> [is_valid_value(v) for v in (0.0, -1.5, 2.0**360, 2.0**361, 2.0**-361, float("nan"), float("inf"))]
    [True, True, True, False, False, False, False]
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    number = float(value)
    if not math.isfinite(number):
        return False
    magnitude = abs(number)
    return magnitude == 0.0 or 1.0 / VALUE_LIMIT <= magnitude <= VALUE_LIMIT


def is_valid_dimension_name(name: str) -> bool:
    """ASCII, no control characters, at least one non-whitespace character, not starting with ':'.

    >>> [is_valid_dimension_name(n) for n in ("ClusterName", ":x", "  ", "é", "a\\tb")]
    [True, False, False, False, False]
    """
    return is_valid_dimension_value(name) and not name.startswith(":")


def is_valid_dimension_value(value: str) -> bool:
    """ASCII, no control characters, at least one non-whitespace character.

    >>> [is_valid_dimension_value(v) for v in ("web-1", " ", "a\\x7fb")]
    [True, False, False]
    """
    return bool(value.strip()) and value.isascii() and all(32 <= ord(ch) < 127 for ch in value)


def is_valid_namespace(namespace: str) -> bool:
    """ASCII without control characters, and not one of AWS's own (``AWS/...``).

    >>> [is_valid_namespace(n) for n in ("MyApp/Web", "AWS/ECS", "ECS/ContainerInsights", "caf\\u00e9")]
    [True, False, True, False]
    """
    if namespace.startswith(RESERVED_NAMESPACE_PREFIX):
        return False
    return namespace.isascii() and all(32 <= ord(ch) < 127 for ch in namespace)


def timestamp_problem(timestamp: float, now: float) -> str | None:
    """Why a datum's timestamp is refused (``"old"``, ``"new"``) or None: at most two weeks
    before ``now`` and at most two hours after it.

    >>> [timestamp_problem(t, 1_000_000.0) for t in (1_000_000.0 - TOO_OLD_S, 1_000_000.0 - TOO_OLD_S - 1,
    ...                                             1_000_000.0 + TOO_NEW_S, 1_000_000.0 + TOO_NEW_S + 1)]
    [None, 'old', None, 'new']
    """
    if timestamp < now - TOO_OLD_S:
        return "old"
    if timestamp > now + TOO_NEW_S:
        return "new"
    return None


def value_counts_of(values: Sequence[float], counts: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """A Values/Counts pair as (value, count) pairs, equal values merged, zero counts dropped.

    >>> value_counts_of([3.0, 1.0, 3.0, 2.0], [1.0, 2.0, 4.0, 0.0])
    ((1.0, 2.0), (3.0, 5.0))
    """
    merged: dict[float, float] = {}
    for value, count in zip(values, counts, strict=True):
        if count > 0:
            merged[value] = merged.get(value, 0.0) + count
    return tuple(sorted(merged.items()))


def statistic_set_values(
    sample_count: float, total: float, minimum: float, maximum: float
) -> tuple[tuple[float, float], ...] | None:
    """The raw values a statistic set still tells, when it tells them: one sample (its value is the
    sum), or all samples equal (min = max). AWS computes percentiles from such sets, and from no others.

    >>> statistic_set_values(1.0, 7.0, 7.0, 7.0), statistic_set_values(4.0, 8.0, 2.0, 2.0)
    (((7.0, 1.0),), ((2.0, 4.0),))
    >>> statistic_set_values(2.0, 3.0, 1.0, 2.0) is None
    True
    """
    if sample_count == 1.0:
        return ((total, 1.0),)
    if minimum == maximum:
        return ((minimum, sample_count),)
    return None


class _Problems:
    """The problems found so far, in the order found: (code, message)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, code: str, message: str) -> None:
        self.found.append((code, message))

    def raise_if_any(self) -> None:
        if self.found:
            code = self.found[0][0]
            raise MetricsRuleError(code, "\n".join(m for c, m in self.found if c == code))


def _invalid(name: str, value: Any) -> str:
    return f"The value {_show(value)} for parameter {name} is invalid."


def _show(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return str(value)


def _exclusive(first: str, second: str) -> str:
    return f"The parameters {first} and {second} are mutually exclusive and you have specified both."


def _epoch(timestamp: Any) -> float:
    if isinstance(timestamp, datetime.datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    return float(timestamp)


def data_of(
    namespace: str,
    metric_data: Sequence[Mapping[str, Any]],
    now: float,
    entity_metric_data: Sequence[Mapping[str, Any]] = (),
) -> list[Datum]:
    """Check a PutMetricData request and return the data to store (MetricsRuleError when any rule
    is broken: nothing of a bad request is stored). ``EntityMetricData``'s data are stored like
    ``MetricData``'s; the entity itself is accepted and not kept."""
    problems = _Problems()
    if not is_valid_namespace(namespace):
        raise MetricsRuleError(INVALID_VALUE, _invalid("Namespace", namespace))
    groups: list[tuple[str, Sequence[Mapping[str, Any]]]] = [("MetricData", metric_data)]
    for index, entity in enumerate(entity_metric_data, 1):
        groups.append((f"EntityMetricData.member.{index}.MetricData", entity.get("MetricData") or ()))
    total = sum(len(data) for _, data in groups)
    if total == 0:
        raise missing("The parameter MetricData is required.")
    if total > MAX_DATA:
        raise MetricsRuleError(
            INVALID_VALUE, f"The collection MetricData must not have a size greater than {MAX_DATA}."
        )
    stored: list[Datum] = []
    for prefix, data in groups:
        for index, item in enumerate(data, 1):
            datum = _datum(namespace, item, f"{prefix}.member.{index}", now, problems)
            if datum is not None:
                stored.append(datum)
    problems.raise_if_any()
    return stored


def _datum(
    namespace: str, item: Mapping[str, Any], where: str, now: float, problems: _Problems
) -> Datum | None:
    dimensions = _dimensions(item.get("Dimensions") or (), where, problems)
    timestamp = now if item.get("Timestamp") is None else _epoch(item["Timestamp"])
    problem = timestamp_problem(timestamp, now)
    if problem == "old":
        problems.add(
            INVALID_VALUE, f"The parameter {where}.Timestamp must specify a time within the past two weeks."
        )
    elif problem == "new":
        problems.add(
            INVALID_VALUE,
            f"The parameter {where}.Timestamp must specify a time no more than two hours in the future.",
        )
    resolution = item.get("StorageResolution")
    if resolution is None:
        resolution = 60
    elif resolution not in STORAGE_RESOLUTIONS:
        problems.add(INVALID_VALUE, _invalid(f"{where}.StorageResolution", resolution))
    shape = _values(item, where, problems)
    if shape is None or dimensions is None:
        return None
    sample_count, total, minimum, maximum, value_counts = shape
    if sample_count <= 0:  # every count was zero: nothing was observed
        return None
    return Datum(
        MetricId.of(namespace, str(item["MetricName"]), dimensions),
        timestamp,
        sample_count,
        total,
        minimum,
        maximum,
        str(item.get("Unit") or "None"),
        int(resolution),
        value_counts,
    )


def _dimensions(
    given: Sequence[Mapping[str, Any]], where: str, problems: _Problems
) -> list[tuple[str, str]] | None:
    if len(given) > MAX_DIMENSIONS:
        problems.add(
            INVALID_VALUE,
            f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}.",
        )
        return None
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    ok = True
    for index, dimension in enumerate(given, 1):
        name, value = str(dimension.get("Name", "")), str(dimension.get("Value", ""))
        at = f"{where}.Dimensions.member.{index}"
        if not is_valid_dimension_name(name):
            problems.add(INVALID_VALUE, _invalid(f"{at}.Name", name))
            ok = False
        if not is_valid_dimension_value(value):
            problems.add(INVALID_VALUE, _invalid(f"{at}.Value", value))
            ok = False
        if name in seen:
            problems.add(
                INVALID_VALUE,
                f"The parameter {at}.Name has the value {name}, which another dimension of the datum has.",
            )
            ok = False
        seen.add(name)
        pairs.append((name, value))
    return pairs if ok else None


_Shape = tuple[float, float, float, float, tuple[tuple[float, float], ...] | None]


def _values(item: Mapping[str, Any], where: str, problems: _Problems) -> _Shape | None:
    """(sample count, sum, min, max, value counts) of whichever of Value, Values or StatisticValues
    the datum carries."""
    value = item.get("Value")
    values = item.get("Values") or None  # an empty list is no list (the query protocol cannot tell)
    counts = item.get("Counts") or None
    statistics = item.get("StatisticValues")
    given = [
        name
        for name, part in (("Value", value), ("StatisticValues", statistics), ("Values", values))
        if part is not None
    ]
    if len(given) > 1:
        problems.add(INVALID_COMBINATION, _exclusive(f"{where}.{given[0]}", f"{where}.{given[1]}"))
        return None
    if counts is not None and values is None:
        problems.add(
            INVALID_COMBINATION, f"The parameter {where}.Counts must be used together with {where}.Values."
        )
        return None
    if not given:
        problems.add(
            INVALID_COMBINATION,
            f"At least one of the parameters {where}.Value, {where}.StatisticValues and {where}.Values "
            "must be specified.",
        )
        return None
    if value is not None:
        if not is_valid_value(value):
            problems.add(INVALID_VALUE, _invalid(f"{where}.Value", value))
            return None
        number = float(value)
        return 1.0, number, number, number, ((number, 1.0),)
    if statistics is not None:
        return _statistic_set(statistics, f"{where}.StatisticValues", problems)
    assert values is not None
    return _values_and_counts(values, counts, where, problems)


def _statistic_set(statistics: Mapping[str, Any], where: str, problems: _Problems) -> _Shape | None:
    ok = True
    for name in ("SampleCount", "Sum", "Minimum", "Maximum"):
        if not is_valid_value(statistics.get(name)):
            problems.add(INVALID_VALUE, _invalid(f"{where}.{name}", statistics.get(name)))
            ok = False
    if not ok:
        return None
    sample_count, total = float(statistics["SampleCount"]), float(statistics["Sum"])
    minimum, maximum = float(statistics["Minimum"]), float(statistics["Maximum"])
    if sample_count <= 0:
        problems.add(INVALID_VALUE, _invalid(f"{where}.SampleCount", statistics["SampleCount"]))
        return None
    if minimum > maximum:
        problems.add(
            INVALID_VALUE, f"The parameter {where}.Minimum must be less than or equal to {where}.Maximum."
        )
        return None
    return sample_count, total, minimum, maximum, statistic_set_values(sample_count, total, minimum, maximum)


def _values_and_counts(
    values: Sequence[Any], counts: Sequence[Any] | None, where: str, problems: _Problems
) -> _Shape | None:
    if len(values) > MAX_VALUES:
        problems.add(
            INVALID_VALUE, f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
        return None
    if counts is not None and len(counts) != len(values):
        problems.add(
            INVALID_VALUE, f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
        return None
    ok = True
    for number in values:
        if not is_valid_value(number):
            problems.add(INVALID_VALUE, _invalid(f"{where}.Values", number))
            ok = False
            break
    for count in counts or ():
        if not is_valid_value(count) or float(count) < 0:
            problems.add(INVALID_VALUE, _invalid(f"{where}.Counts", count))
            ok = False
            break
    if not ok:
        return None
    floats = [float(v) for v in values]
    weights = [float(c) for c in counts] if counts is not None else [1.0] * len(floats)
    pairs = value_counts_of(floats, weights)
    if not pairs:
        return 0.0, 0.0, 0.0, 0.0, None
    sample_count = sum(count for _, count in pairs)
    total = sum(v * count for v, count in pairs)
    return sample_count, total, pairs[0][0], pairs[-1][0], pairs
