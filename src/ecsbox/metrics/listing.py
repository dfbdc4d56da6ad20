"""ListMetrics' rules (pure): which metrics a dimension filter keeps, and how far back a metric must
have received a datapoint to be listed.

A metric is listed when it received a datapoint in the past two weeks (the past three hours with
``RecentlyActive=PT3H``), and, for every dimension filter, has a dimension of that name (with that
value, when the filter gives one): the metric may have more dimensions than the filters name.

>>> dims = (("ClusterName", "c"), ("ServiceName", "web"))
>>> matches(dims, [("ServiceName", None)]), matches(dims, [("ServiceName", "api")]), matches(dims, [])
(True, False, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecsbox.metrics.model import Dimensions

LISTED_FOR_S = 14 * 86_400  # metrics with a datapoint in the past two weeks
RECENTLY_ACTIVE_S = 3 * 3_600  # RecentlyActive=PT3H

DimensionFilter = tuple[str, str | None]


def filters_of(given: Sequence[Mapping[str, Any]] | None) -> list[DimensionFilter]:
    """ListMetrics' ``Dimensions`` as (name, value or None) pairs.

    >>> filters_of([{"Name": "ClusterName"}, {"Name": "ServiceName", "Value": "web"}])
    [('ClusterName', None), ('ServiceName', 'web')]
    """
    return [(str(f["Name"]), None if f.get("Value") is None else str(f["Value"])) for f in given or ()]


def matches(dimensions: Dimensions, filters: Sequence[DimensionFilter]) -> bool:
    """Whether a metric's dimensions satisfy every filter."""
    values = dict(dimensions)
    return all(name in values and (value is None or values[name] == value) for name, value in filters)


def listed_since(now: float, recently_active: str | None) -> float:
    """The earliest ``last_put`` a listed metric may have.

    >>> listed_since(1_000_000.0, None), listed_since(1_000_000.0, "PT3H")
    (-209600.0, 989200.0)
    """
    return now - (RECENTLY_ACTIVE_S if recently_active == "PT3H" else LISTED_FOR_S)
