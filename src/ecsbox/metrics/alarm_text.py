"""How CloudWatch writes numbers and times in alarm texts (state reasons, reason data, history and
notifications). CloudWatch is written in Java: a double prints as Java's ``Double.toString`` does,
times as ``2024-09-19T06:01:18.043+0000``, and a datapoint in a state reason as ``19/09/24 05:56:00``.
Pure.

>>> java_double(70), java_double(1.0166666666666666), java_double(12_345_678.0), java_double(0.0001)
('70.0', '1.0166666666666666', '1.2345678E7', '1.0E-4')
>>> aws_time(1_726_725_678.043), reason_time(1_726_725_360.0)
('2024-09-19T06:01:18.043+0000', '19/09/24 05:56:00')
"""

from __future__ import annotations

import datetime
import json
import math
from decimal import Decimal
from typing import Any

UTC = datetime.UTC


def java_double(value: float) -> str:
    """A double as Java prints it: plain between 10⁻³ and 10⁷, else computer notation (``1.0E7``),
    always with a fractional part."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    if 1e-3 <= abs(number) < 1e7:
        text = repr(number)
        if "e" in text or "E" in text:  # Python's repr never does this in the range; be safe
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    shown = "".join(str(d) for d in digits)
    power = len(digits) - 1 + exponent
    mantissa = shown[0] + "." + (shown[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def aws_time(epoch: float) -> str:
    """Epoch seconds as CloudWatch writes them in JSON texts (milliseconds, ``+0000``)."""
    moment = datetime.datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def reason_time(epoch: float) -> str:
    """A datapoint's time in a state reason: ``dd/mm/yy HH:MM:SS`` (UTC)."""
    return datetime.datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")


def plural(count: int, noun: str) -> str:
    """``plural(1, "datapoint")`` → ``1 datapoint``; ``plural(3, "period")`` → ``3 periods``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def was_were(count: int) -> str:
    return "was" if count == 1 else "were"


def to_json(value: Any) -> str:
    """Compact JSON as CloudWatch writes it, with doubles in Java's form (``70.0``, ``1.0E-4``).

    >>> to_json({"threshold": 70.0, "period": 60, "recentDatapoints": [1.5], "unit": None})
    '{"threshold":70.0,"period":60,"recentDatapoints":[1.5],"unit":null}'

    Integers stay integers only where they are ``int``; every ``float`` prints as a double.
    """
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
