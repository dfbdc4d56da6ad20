"""Metric filters (pure): what PutMetricFilter accepts, and the datapoints a filter makes of a log
event — what CloudWatch metrics will record once that capability exists.

A filter has one metric transformation: a namespace and name, a ``metricValue`` that is a number
(``"1"``) or a field of the event (``$.latency`` in a JSON event, ``$bytes`` in a space-delimited
pattern's fields), up to three dimensions whose values are fields, an optional ``defaultValue``
published when an event does not match (never with dimensions) and a unit.

>>> from types import SimpleNamespace
>>> always = SimpleNamespace(matches=lambda m: True, fields=lambda m: {})
>>> [d.value for d in metric_data(always, [{"metricName": "n", "metricNamespace": "ns",
...     "metricValue": "$.latency"}], '{"latency": 250}', 1000)]
[250.0]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecsbox.logs.model import MAX_DIMENSIONS, invalid_parameter

# A field reference: $.json.path[0] in a JSON event, or $name of a space-delimited pattern.
_JSON_REF_RE = re.compile(r"\$\.[^\s]+")
_NAMED_REF_RE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
_PATH_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Pattern(Protocol):
    """What a compiled filter pattern offers (:class:`ecsbox.logs.patterns.FilterPattern`)."""

    def matches(self, message: str) -> bool: ...

    def fields(self, message: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class MetricDatum:
    """One value for CloudWatch: ``PutMetricData``'s MetricDatum, at the event's timestamp."""

    namespace: str
    name: str
    value: float
    timestamp_ms: int
    unit: str = "None"
    dimensions: dict[str, str] = field(default_factory=dict)


def is_field_reference(text: str) -> bool:
    """``$.latency``, ``$.a.b[0]`` and ``$bytes`` are; ``1``, ``latency`` and ``$`` are not."""
    return bool(_JSON_REF_RE.fullmatch(text) or _NAMED_REF_RE.fullmatch(text))


def check_transformation(transformation: Mapping[str, Any]) -> dict[str, Any]:
    """The transformation as stored and described, or InvalidParameterException."""
    value = str(transformation["metricValue"])
    if not is_field_reference(value) and _number(value) is None:
        raise invalid_parameter(
            f"Invalid metric value: {value}. It must be a number or a field reference such as $.size or $size."
        )
    dimensions = dict(transformation.get("dimensions") or {})
    if len(dimensions) > MAX_DIMENSIONS:
        raise invalid_parameter(f"A metric filter can have at most {MAX_DIMENSIONS} dimensions.")
    for key, ref in dimensions.items():
        if not is_field_reference(str(ref)):
            raise invalid_parameter(
                f"Invalid dimension value for {key}: {ref}. It must be a field reference."
            )
    if dimensions and transformation.get("defaultValue") is not None:
        raise invalid_parameter("A metric filter with dimensions cannot have a default value.")
    stored: dict[str, Any] = {
        "metricName": transformation["metricName"],
        "metricNamespace": transformation["metricNamespace"],
        "metricValue": value,
    }
    if transformation.get("defaultValue") is not None:
        stored["defaultValue"] = float(transformation["defaultValue"])
    if dimensions:
        stored["dimensions"] = dimensions
    if transformation.get("unit"):
        stored["unit"] = transformation["unit"]
    return stored


def metric_data(
    pattern: Pattern, transformations: Sequence[Mapping[str, Any]], message: str, timestamp_ms: int
) -> list[MetricDatum]:
    """The datapoints one log event makes: for a matching event, each transformation's value (a
    number, or the field it names, which must be numeric) with its dimensions; for an event that
    does not match, the ``defaultValue`` where one is set. An event whose named value or dimension
    is missing or not usable makes no datapoint, as CloudWatch Logs publishes nothing for it.

    Example: ``{ $.status = 500 }`` with metricValue ``1``, namespace ``App``, name ``Errors`` on
    ``{"status": 500}`` → ``[MetricDatum("App", "Errors", 1.0, t)]``; on ``{"status": 200}`` → ``[]``
    (or the defaultValue 0 → ``[MetricDatum("App", "Errors", 0.0, t)]``).
    """
    matched = pattern.matches(message)
    found: list[MetricDatum] = []
    extracted: dict[str, Any] | None = None
    for t in transformations:
        unit = str(t.get("unit") or "None")
        if not matched:
            if t.get("defaultValue") is not None:
                found.append(
                    MetricDatum(
                        t["metricNamespace"], t["metricName"], float(t["defaultValue"]), timestamp_ms, unit
                    )
                )
            continue
        if extracted is None:
            extracted = pattern.fields(message) or {}
        value = _value_of(str(t["metricValue"]), extracted, message)
        if value is None:
            continue
        dimensions: dict[str, str] = {}
        for key, ref in dict(t.get("dimensions") or {}).items():
            dimension = field_value(str(ref), extracted, message)
            if dimension is None or dimension == "":
                break
            dimensions[key] = str(dimension)
        else:
            found.append(
                MetricDatum(t["metricNamespace"], t["metricName"], value, timestamp_ms, unit, dimensions)
            )
    return found


def field_value(ref: str, extracted: Mapping[str, Any], message: str) -> Any:
    """The value a field reference names: from the pattern's own fields, else (``$.path``) from the
    event's JSON. None when the event has no such field."""
    for key in (ref, ref[1:], ref[2:] if ref.startswith("$.") else None):
        if key and key in extracted:
            return _scalar(extracted[key])
    if ref.startswith("$."):
        return _scalar(json_path(message, ref[2:]))
    return None


def json_path(message: str, path: str) -> Any:
    """``json_path('{"a": {"b": [5, 6]}}', "a.b[1]")`` → 6; None where the event is not JSON or
    lacks the path."""
    try:
        node: Any = json.loads(message)
    except ValueError:
        return None
    for name, index in _PATH_PART_RE.findall(path):
        if name:
            if not isinstance(node, dict) or name not in node:
                return None
            node = node[name]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    return node


def _value_of(metric_value: str, extracted: Mapping[str, Any], message: str) -> float | None:
    if not is_field_reference(metric_value):
        return _number(metric_value)
    found = field_value(metric_value, extracted, message)
    return None if found is None or isinstance(found, bool) else _number(str(found))


def _scalar(value: Any) -> Any:
    return None if isinstance(value, dict | list) else value


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
