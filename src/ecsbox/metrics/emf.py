"""The CloudWatch embedded metric format (EMF): the metrics a structured log event carries. Pure.

A log event whose message is a JSON object with an ``_aws`` member::

    {"_aws": {"Timestamp": 1574109732004,
              "CloudWatchMetrics": [{"Namespace": "lambda-function-metrics",
                                     "Dimensions": [["functionVersion"]],
                                     "Metrics": [{"Name": "time", "Unit": "Milliseconds"}]}]},
     "functionVersion": "$LATEST", "time": 100}

makes one datapoint per metric definition and dimension set: here ``time`` = 100 ms with the
dimension ``functionVersion=$LATEST`` in namespace ``lambda-function-metrics``. The rules kept
(CloudWatch_Embedded_Metric_Format_Specification, SEMANTICS §5.2):

* the message is one JSON object; ``_aws`` is an object holding a ``CloudWatchMetrics`` array of
  directives; anything else in the document is ignored;
* a directive has a ``Namespace`` (1-255 characters), ``Dimensions`` (a non-empty array of dimension
  sets, each an array of at most 30 keys, possibly empty) and ``Metrics`` (at most 100 definitions,
  each a ``Name`` of 1-255 characters, an optional ``Unit`` among CloudWatch's units, default
  ``None``, and an optional ``StorageResolution`` of 1 or 60, default 60);
* every name a directive references is a member of the root: a dimension's value is a string of
  1-1024 characters, a metric's value a number or an array of 1-100 numbers, each one CloudWatch
  can record (finite, within ±2^360);
* a directive that breaks any rule makes no metrics; the others in the same event still do (AWS
  stores the log event either way);
* ``_aws.Timestamp`` (milliseconds) times the metrics. The specification requires it; when it is
  missing ecsbox uses the log event's own timestamp rather than dropping the metrics (an ecsbox
  choice), and a Timestamp that is not a number invalidates the whole document.

Container Insights' performance log events carry a ``CloudWatchMetrics`` array at the top level,
not under ``_aws``: they are not EMF and make nothing here (the collector records those metrics).

ecsbox note: a namespace starting ``AWS/`` is refused, as PutMetricData refuses it, so a log line
cannot forge an AWS service's metrics.

>>> doc = ('{"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [{"Namespace": "App",'
...        ' "Dimensions": [["Route"]], "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}]}]},'
...        ' "Route": "/a", "Latency": [12, 30]}')
>>> [(d.metric.name, d.metric.dimensions, d.timestamp, d.sample_count, d.sum, d.unit)
...  for d in emf_data(doc, 0)]
[('Latency', (('Route', '/a'),), 1700000000.0, 2.0, 42.0, 'Milliseconds')]
>>> emf_data('{"Type": "Task", "CloudWatchMetrics": [{"Namespace": "ECS/ContainerInsights"}]}', 0)
[]
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ecsbox.metrics.model import Datum, MetricId

MAX_METRICS_PER_DIRECTIVE = 100
MAX_DIMENSION_KEYS = 30
MAX_VALUES_PER_METRIC = 100
MAX_NAME_CHARS = 255  # namespace, metric name, dimension key
MAX_DIMENSION_VALUE_CHARS = 1024
VALUE_LIMIT = 2.0**360  # CloudWatch rejects values beyond ±2^360 (and NaN, ±Infinity)
RESERVED_NAMESPACE_PREFIX = "AWS/"
STORAGE_RESOLUTIONS = (1, 60)
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
_MARKER = '"_aws"'  # cheap test before parsing: most log lines are not EMF


class _Invalid(Exception):
    """This directive (or document) breaks a rule of the specification."""


def emf_data(message: str, timestamp_ms: int) -> list[Datum]:
    """The datapoints an EMF log event makes, in directive, dimension set, metric order; ``[]`` for
    a message that is not an EMF document. ``timestamp_ms`` is the log event's timestamp, used only
    when the document has no ``_aws.Timestamp``."""
    if _MARKER not in message:
        return []
    try:
        root = json.loads(message, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return []
    if not isinstance(root, dict):
        return []
    metadata = root.get("_aws")
    if not isinstance(metadata, dict):
        return []
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return []
    try:
        seconds = _timestamp_s(metadata.get("Timestamp", timestamp_ms))
    except _Invalid:
        return []
    found: list[Datum] = []
    for directive in directives:
        try:
            found.extend(directive_data(directive, root, seconds))
        except _Invalid:
            continue
    return found


def directive_data(directive: Any, root: Mapping[str, Any], timestamp_s: float) -> list[Datum]:
    """The datapoints of one MetricDirective, or :class:`_Invalid` when it breaks a rule."""
    if not isinstance(directive, dict):
        raise _Invalid("a directive is an object")
    namespace = _name(directive.get("Namespace"))
    if namespace.startswith(RESERVED_NAMESPACE_PREFIX):
        raise _Invalid("AWS/ namespaces are reserved")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list) or not dimension_sets:
        raise _Invalid("Dimensions is a non-empty array of dimension sets")
    definitions = directive.get("Metrics")
    if not isinstance(definitions, list) or len(definitions) > MAX_METRICS_PER_DIRECTIVE:
        raise _Invalid(f"Metrics is an array of at most {MAX_METRICS_PER_DIRECTIVE} definitions")
    dimensions = _unique([dimension_set(keys, root) for keys in dimension_sets])
    metrics = [metric_definition(definition, root) for definition in definitions]
    return [
        _datum(MetricId.of(namespace, name, pairs), timestamp_s, values, unit, resolution)
        for pairs in dimensions
        for name, unit, resolution, values in metrics
    ]


def dimension_set(keys: Any, root: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """One DimensionSet resolved against the root: ``["Route"]`` with ``{"Route": "/a"}`` →
    ``(("Route", "/a"),)``; a missing or non-string target breaks the directive."""
    if not isinstance(keys, list) or len(keys) > MAX_DIMENSION_KEYS:
        raise _Invalid(f"a dimension set is an array of at most {MAX_DIMENSION_KEYS} keys")
    pairs: dict[str, str] = {}
    for key in keys:
        name = _name(key)
        value = root.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_DIMENSION_VALUE_CHARS:
            raise _Invalid(f"dimension {name} needs a string value in the document")
        pairs[name] = value
    return tuple(sorted(pairs.items()))


def metric_definition(definition: Any, root: Mapping[str, Any]) -> tuple[str, str, int, list[float]]:
    """One MetricDefinition resolved against the root: (name, unit, storage resolution, values)."""
    if not isinstance(definition, dict):
        raise _Invalid("a metric definition is an object")
    name = _name(definition.get("Name"))
    unit = definition.get("Unit", "None")
    if unit not in UNITS:
        raise _Invalid(f"unknown unit {unit!r}")
    resolution = definition.get("StorageResolution", 60)
    if isinstance(resolution, bool) or resolution not in STORAGE_RESOLUTIONS:
        raise _Invalid("StorageResolution is 1 or 60")
    return name, str(unit), int(resolution), metric_values(root.get(name))


def metric_values(target: Any) -> list[float]:
    """A metric target's values: ``5`` → ``[5.0]``; ``[1, 2]`` → ``[1.0, 2.0]``; anything else (a
    string, an empty or over-long array, a value CloudWatch cannot record) breaks the directive."""
    items = target if isinstance(target, list) else [target]
    if not 0 < len(items) <= MAX_VALUES_PER_METRIC:
        raise _Invalid(f"a metric has 1 to {MAX_VALUES_PER_METRIC} values")
    values = [_number(item) for item in items]
    if not all(is_recordable(value) for value in values):
        raise _Invalid("a metric value is a number CloudWatch can record")
    return values


def is_recordable(value: float) -> bool:
    """CloudWatch takes finite values within ±2^360: ``is_recordable(1e100)`` → True,
    ``is_recordable(1e109)`` → False, ``is_recordable(float("nan"))`` → False."""
    return math.isfinite(value) and abs(value) <= VALUE_LIMIT


def _datum(metric: MetricId, timestamp_s: float, values: list[float], unit: str, resolution: int) -> Datum:
    counts = Counter(values)
    return Datum(
        metric,
        timestamp_s,
        float(len(values)),
        math.fsum(values),
        min(values),
        max(values),
        unit,
        resolution,
        tuple((value, float(count)) for value, count in sorted(counts.items())),
    )


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        raise _Invalid(f"a name is a string of 1 to {MAX_NAME_CHARS} characters")
    return value


def _timestamp_s(value: Any) -> float:
    milliseconds = _number(value)
    if not math.isfinite(milliseconds) or milliseconds < 0:
        raise _Invalid("Timestamp is milliseconds since the epoch")
    return milliseconds / 1000.0


def _number(value: Any) -> float:
    """A JSON number as a float (an integer too large for a float is out of range anyway)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("not a number")
    try:
        return float(value)
    except OverflowError as exc:
        raise _Invalid("number out of range") from exc


def _unique(sets: list[tuple[tuple[str, str], ...]]) -> list[tuple[tuple[str, str], ...]]:
    """Each dimension set once: a repeated set would count every value twice."""
    return list(dict.fromkeys(sets))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
