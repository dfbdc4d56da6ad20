"""SQL for metrics: series (one row per metric of a partition) and their points — the bulk insert of
a batch, the per-period aggregate a read asks for, ListMetrics' keyset scan, and the selects and
deletes retention runs in batches.

The hot statements run on the database driver directly (:class:`ecsbox.store.Prepared`, and
``executemany`` for the insert). Periods are counted in SQL: a point at ``ts`` lies in period
floor((ts - origin) / period), grouped and summed by the database; only value counts (percentiles) are
merged in Python, and only when asked for. The aggregate reads only columns the covering index
``ix_metric_points_series_covering`` holds (``with_values`` counts the points with raw values), so it
never visits the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, cast, delete, func, insert, select, tuple_, update
from sqlalchemy.sql.expression import ColumnElement

from ecsbox.metrics.model import Dimensions, MetricId, Partition
from ecsbox.store import BulkInsert, Prepared
from ecsbox.store.schema import metric_points, metric_series

_S = metric_series.c
_P = metric_points.c
_IN_CHUNK = 500  # ids per IN (...), within every database's bound-parameter limit

# series id, ts, resolution, unit, sample count, sum, min, max, value counts JSON, with values (0/1)
PointRow = tuple[int, float, int, str, float, float, float, float, str | None, int]


def dimensions_json(dimensions: Dimensions) -> str:
    """The canonical text of a dimension set, as ``metric_series.dimensions`` holds it.

    >>> dimensions_json((("ClusterName", "c"), ("ServiceName", "web")))
    '[["ClusterName","c"],["ServiceName","web"]]'
    """
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"))


def dimensions_of(text: str) -> Dimensions:
    """The dimension set ``metric_series.dimensions`` holds.

    >>> dimensions_of('[["ClusterName","c"]]')
    (('ClusterName', 'c'),)
    """
    return tuple((str(name), str(value)) for name, value in json.loads(text))


def value_counts_json(value_counts: Iterable[tuple[float, float]] | None) -> str | None:
    """Raw values as ``metric_points.value_counts`` holds them (None for a statistic set).

    >>> value_counts_json(((1.0, 2.0),)), value_counts_json(None)
    ('[[1.0,2.0]]', None)
    """
    if value_counts is None:
        return None
    return json.dumps([[value, count] for value, count in value_counts], separators=(",", ":"))


def point_row(
    series_id: int,
    ts: float,
    resolution: int,
    unit: str,
    sample_count: float,
    total: float,
    minimum: float,
    maximum: float,
    value_counts: Iterable[tuple[float, float]] | None,
) -> PointRow:
    """A point as :func:`insert_points` stores it: raw values as JSON, and ``with_values`` set from them.

    >>> point_row(7, 60.0, 60, "Count", 1.0, 2.0, 2.0, 2.0, ((2.0, 1.0),))[8:]
    ('[[2.0,1.0]]', 1)
    >>> point_row(7, 60.0, 60, "Count", 1.0, 2.0, 2.0, 2.0, None)[8:]
    (None, 0)
    """
    values = value_counts_json(value_counts)
    with_values = 0 if values is None else 1
    return (series_id, ts, resolution, unit, sample_count, total, minimum, maximum, values, with_values)


_POINT_ORDER = (
    "series_id",
    "ts",
    "resolution",
    "unit",
    "sample_count",
    "sum",
    "minimum",
    "maximum",
    "value_counts",
    "with_values",
)
_INSERT_POINTS = BulkInsert(
    insert(metric_points).values({name: bindparam(name) for name in _POINT_ORDER}), _POINT_ORDER
)


def insert_points(conn: Connection, rows: Sequence[PointRow]) -> None:
    """Store points (made by :func:`point_row`) in one ``executemany``."""
    _INSERT_POINTS.run(conn, rows)


# ---- series ------------------------------------------------------------------------------------------

_FIND_SERIES = Prepared(
    select(_S.id).where(
        (_S.account_id == bindparam("account_id"))
        & (_S.region == bindparam("region"))
        & (_S.namespace == bindparam("namespace"))
        & (_S.name == bindparam("name"))
        & (_S.dimensions == bindparam("dimensions"))
    )
)


def _key(partition: Partition, metric: MetricId) -> dict[str, Any]:
    return {
        "account_id": partition[0],
        "region": partition[1],
        "namespace": metric.namespace,
        "name": metric.name,
        "dimensions": dimensions_json(metric.dimensions),
    }


def find_series(conn: Connection, partition: Partition, metric: MetricId) -> int | None:
    row = _FIND_SERIES.first(conn, _key(partition, metric))
    return int(row[0]) if row else None


def create_series(conn: Connection, partition: Partition, metric: MetricId, now: float) -> int:
    """The series' id (its ``last_put`` set to ``now``), creating it when new."""
    found = find_series(conn, partition, metric)
    if found is not None:
        conn.execute(update(metric_series).where(_S.id == found).values(last_put=now))
        return found
    result = conn.execute(insert(metric_series).values(**_key(partition, metric), created=now, last_put=now))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def touch_series(conn: Connection, ids: Sequence[int], now: float) -> set[int]:
    """Set ``last_put`` of the series ``ids``; returns those that exist (a cached id whose series
    is gone — a state reset, retention — is not among them)."""
    found: set[int] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        result = conn.execute(update(metric_series).where(_S.id.in_(chunk)).values(last_put=now))
        if result.rowcount == len(chunk):
            found.update(chunk)
        else:
            present = conn.execute(select(_S.id).where(_S.id.in_(chunk))).scalars()
            found.update(int(i) for i in present)
    return found


_SERIES_FIELDS = (_S.namespace, _S.name, _S.dimensions)


def recent_series(
    conn: Connection,
    partition: Partition,
    since: float,
    namespace: str | None,
    name: str | None,
    after: tuple[str, str, str] | None,
    limit: int,
) -> list[tuple[str, str, str]]:
    """Up to ``limit`` series of a partition with a point put since ``since``, after the sort key
    ``after``, in (namespace, name, dimensions) order: (namespace, name, dimensions JSON)."""
    query = select(*_SERIES_FIELDS).where(
        (_S.account_id == partition[0]) & (_S.region == partition[1]) & (_S.last_put >= since)
    )
    if namespace is not None:
        query = query.where(_S.namespace == namespace)
    if name is not None:
        query = query.where(_S.name == name)
    if after is not None:
        query = query.where(tuple_(*_SERIES_FIELDS) > tuple_(*after))
    query = query.order_by(*_SERIES_FIELDS).limit(limit)
    return [(str(a), str(b), str(c)) for a, b, c in conn.execute(query).all()]


# ---- period aggregates ---------------------------------------------------------------------------------


def _period_index(dialect: str) -> ColumnElement[Any]:
    offset = (_P.ts - bindparam("origin")) / bindparam("period")
    if dialect == "sqlite":  # no floor() without the math extension; CAST truncates, and ts ≥ origin
        return cast(offset, Integer)
    return func.floor(offset)


def _aggregate(dialect: str, by_unit: bool, unit_filter: bool) -> Prepared:
    index = _period_index(dialect)
    where = (
        (_P.series_id == bindparam("series_id")) & (_P.ts >= bindparam("start")) & (_P.ts < bindparam("end"))
    )
    if unit_filter:
        where = where & (_P.unit == bindparam("unit"))
    unit_column: Any = _P.unit if by_unit else func.min(_P.unit)
    group: tuple[Any, ...] = (index, _P.unit) if by_unit else (index,)
    return Prepared(
        select(
            index,
            unit_column,
            func.sum(_P.sample_count),
            func.sum(_P.sum),
            func.min(_P.minimum),
            func.max(_P.maximum),
            func.sum(_P.with_values),
            func.count(),
        )
        .where(where)
        .group_by(*group)
        .order_by(*group)
    )


def _values(dialect: str, unit_filter: bool) -> Prepared:
    where = (
        (_P.series_id == bindparam("series_id"))
        & (_P.ts >= bindparam("start"))
        & (_P.ts < bindparam("end"))
        & _P.value_counts.is_not(None)
    )
    if unit_filter:
        where = where & (_P.unit == bindparam("unit"))
    return Prepared(select(_period_index(dialect), _P.unit, _P.value_counts).where(where))


_AGGREGATES: dict[tuple[str, bool, bool], Prepared] = {}
_VALUES: dict[tuple[str, bool], Prepared] = {}


def _period_params(
    series_id: int, origin: float, period: int, start: float, end: float, unit: str | None
) -> dict[str, Any]:
    """The binds of :func:`_aggregate` and :func:`_values` (``unit`` only when they filter by it)."""
    params: dict[str, Any] = {
        "series_id": series_id,
        "origin": origin,
        "period": period,
        "start": start,
        "end": end,
    }
    if unit is not None:
        params["unit"] = unit
    return params


# period index, unit, sample count, sum, min, max, points with value counts, points
AggregateRow = tuple[int, str, float, float, float, float, int, int]


def aggregates(
    conn: Connection,
    series_id: int,
    origin: float,
    period: int,
    start: float,
    end: float,
    unit: str | None,
    by_unit: bool,
) -> list[AggregateRow]:
    """A series' points in [start, end) summed per period counted from ``origin`` (and per unit
    with ``by_unit``), in period order."""
    dialect = conn.dialect.name
    key = (dialect, by_unit and unit is None, unit is not None)
    statement = _AGGREGATES.get(key)
    if statement is None:
        statement = _AGGREGATES[key] = _aggregate(dialect, *key[1:])
    params = _period_params(series_id, origin, period, start, end, unit)
    return [
        (int(i), str(u), float(n), float(s), float(lo), float(hi), int(nv), int(np_))
        for i, u, n, s, lo, hi, nv, np_ in statement.rows(conn, params)
    ]


def value_counts_rows(
    conn: Connection,
    series_id: int,
    origin: float,
    period: int,
    start: float,
    end: float,
    unit: str | None,
) -> list[tuple[int, str, str]]:
    """(period index, unit, value counts JSON) of a series' points in [start, end) that carry values."""
    dialect = conn.dialect.name
    key = (dialect, unit is not None)
    statement = _VALUES.get(key)
    if statement is None:
        statement = _VALUES[key] = _values(dialect, key[1])
    params = _period_params(series_id, origin, period, start, end, unit)
    return [(int(i), str(u), str(v)) for i, u, v in statement.rows(conn, params)]


# ---- retention -------------------------------------------------------------------------------------------

_POINT_FIELDS = (
    _P.id,
    _P.series_id,
    _P.ts,
    _P.resolution,
    _P.unit,
    _P.sample_count,
    _P.sum,
    _P.minimum,
    _P.maximum,
    _P.value_counts,
)

# id, then a PointRow's fields
StoredPoint = tuple[int, int, float, int, str, float, float, float, float, str | None]

_EARLIEST = Prepared(
    select(func.min(_P.ts)).where((_P.resolution == bindparam("resolution")) & (_P.ts < bindparam("cutoff")))
)
_EXPIRED = Prepared(
    select(_P.id)
    .where((_P.resolution == bindparam("resolution")) & (_P.ts < bindparam("cutoff")))
    .limit(bindparam("batch"))
)


def earliest_due(conn: Connection, resolutions: Sequence[int], cutoff: float) -> float | None:
    """The oldest ``ts`` before ``cutoff`` among points of the given resolutions, None when none."""
    found = [
        row[0]
        for resolution in resolutions
        if (row := _EARLIEST.first(conn, {"resolution": resolution, "cutoff": cutoff})) is not None
        and row[0] is not None
    ]
    return float(min(found)) if found else None


def points_between(
    conn: Connection, resolutions: Sequence[int], start: float, end: float, limit: int
) -> list[StoredPoint]:
    """Up to ``limit`` points of the given resolutions with ``ts`` in [start, end), in (series,
    unit, ts) order."""
    rows = conn.execute(
        select(*_POINT_FIELDS)
        .where(_P.resolution.in_(list(resolutions)) & (_P.ts >= start) & (_P.ts < end))
        .order_by(_P.series_id, _P.unit, _P.ts)
        .limit(limit)
    ).all()
    return [
        (int(i), int(s), float(t), int(r), str(u), float(n), float(total), float(lo), float(hi), v)
        for i, s, t, r, u, n, total, lo, hi, v in rows
    ]


_AT = Prepared(
    select(*_POINT_FIELDS).where(
        (_P.series_id == bindparam("series_id"))
        & (_P.ts == bindparam("ts"))
        & (_P.resolution == bindparam("resolution"))
        & (_P.unit == bindparam("unit"))
    )
)


def points_at(conn: Connection, keys: Sequence[tuple[int, float, str]], resolution: int) -> list[StoredPoint]:
    """The points of one resolution at the given (series, ts, unit) keys."""
    found: list[StoredPoint] = []
    for series_id, ts, unit in keys:
        for i, s, t, r, u, n, total, lo, hi, v in _AT.rows(
            conn, {"series_id": series_id, "ts": ts, "resolution": resolution, "unit": unit}
        ):
            found.append(
                (int(i), int(s), float(t), int(r), str(u), float(n), float(total), float(lo), float(hi), v)
            )
    return found


def expired_point_ids(conn: Connection, resolution: int, cutoff: float, batch: int) -> list[int]:
    """Up to ``batch`` ids of points of one resolution with ``ts`` before ``cutoff``."""
    return [
        int(row[0])
        for row in _EXPIRED.rows(conn, {"resolution": resolution, "cutoff": cutoff, "batch": batch})
    ]


def delete_points(conn: Connection, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), _IN_CHUNK):
        conn.execute(delete(metric_points).where(_P.id.in_(list(ids[start : start + _IN_CHUNK]))))


def delete_idle_series(conn: Connection, before: float, batch: int) -> int:
    """Delete up to ``batch`` series that got no point since ``before`` and hold none; returns how many."""
    holding = select(_P.id).where(_P.series_id == _S.id).exists()
    ids = [
        int(row[0])
        for row in conn.execute(select(_S.id).where((_S.last_put < before) & ~holding).limit(batch)).all()
    ]
    if ids:
        conn.execute(delete(metric_series).where(_S.id.in_(ids)))
    return len(ids)
