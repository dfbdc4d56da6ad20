"""GetMetricData's rules (pure): which queries a request may hold, their default labels, and how the
results are cut into pages of ``MaxDatapoints``.

A request holds 1 to 500 queries with unique ids (a lowercase letter, then letters, digits or
underscores). ecsbox runs ``MetricStat`` queries — any standard statistic, percentile or trimmed
statistic; metric math and ``SEARCH`` expressions are refused with a ValidationError that says so.

>>> qs = parse_queries([{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency"},
...                                               "Period": 60, "Stat": "p99"}}], account_id="0")
>>> qs[0].metric.name, qs[0].stat, qs[0].returns
('Latency', 'p99', True)
>>> parse_queries([{"Id": "M1", "MetricStat": {}}], account_id="0")
Traceback (most recent call last):
...
ecsbox.metrics.model.MetricsRuleError: The value M1 for parameter MetricDataQueries.member.1.Id is not \
matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.metrics.model import MetricId, missing, validation
from ecsbox.metrics.paging import Resume
from ecsbox.metrics.queries import is_valid_period
from ecsbox.metrics.statistics import is_statistic

MAX_QUERIES = 500
ID_PATTERN = "^[a-z][a-zA-Z0-9_]*$"
_ID = re.compile(ID_PATTERN)
DESCENDING = "TimestampDescending"
ASCENDING = "TimestampAscending"


@dataclass(frozen=True)
class StatQuery:
    """One MetricStat query: what to read, and whether its result is returned."""

    id: str
    metric: MetricId
    period: int
    stat: str
    unit: str | None
    label: str | None
    returns: bool
    account_id: str | None  # another account's metric (no account is linked here: Forbidden)


def _where(index: int, member: str) -> str:
    return f"MetricDataQueries.member.{index}.{member}"


def parse_queries(queries: Sequence[Mapping[str, Any]], account_id: str) -> list[StatQuery]:
    """Check every query and return them; ValidationError (or MissingParameter) for the first bad one."""
    if not queries:
        raise missing("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise validation(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    parsed: list[StatQuery] = []
    seen: set[str] = set()
    for index, query in enumerate(queries, 1):
        query_id = str(query.get("Id", ""))
        if not _ID.match(query_id):
            raise validation(
                f"The value {query_id} for parameter {_where(index, 'Id')} is not matching the expected "
                f"pattern {ID_PATTERN}."
            )
        if query_id in seen:
            raise validation(f"The value {query_id} for parameter {_where(index, 'Id')} is not unique.")
        seen.add(query_id)
        parsed.append(_stat_query(index, query, query_id, account_id))
    return parsed


def _stat_query(index: int, query: Mapping[str, Any], query_id: str, account_id: str) -> StatQuery:
    stat_part, expression = query.get("MetricStat"), query.get("Expression")
    if stat_part is not None and expression is not None:
        raise validation(
            f"The parameters {_where(index, 'MetricStat')} and {_where(index, 'Expression')} are mutually "
            "exclusive and you have specified both."
        )
    if expression is not None:
        raise validation(
            f"The parameter {_where(index, 'Expression')} is not supported: ecsbox does not evaluate metric "
            "math or SEARCH expressions yet; use MetricStat queries."
        )
    if stat_part is None:
        raise validation(f"The parameter {_where(index, 'MetricStat')} is required.")
    metric_part = stat_part.get("Metric") or {}
    for member in ("Namespace", "MetricName"):
        if not metric_part.get(member):
            raise validation(f"The parameter {_where(index, f'MetricStat.Metric.{member}')} is required.")
    period = int(stat_part["Period"])
    if not is_valid_period(period):
        raise validation(
            f"The parameter {_where(index, 'MetricStat.Period')} must be a value in the set "
            "[ 1, 5, 10, 20, 30 ] or a multiple of 60."
        )
    stat = str(stat_part["Stat"])
    if not is_statistic(stat):
        raise validation(
            f"The value {stat} for parameter {_where(index, 'MetricStat.Stat')} is not supported."
        )
    dimensions = [(str(d["Name"]), str(d["Value"])) for d in metric_part.get("Dimensions") or ()]
    other_account = query.get("AccountId")
    return StatQuery(
        id=query_id,
        metric=MetricId.of(str(metric_part["Namespace"]), str(metric_part["MetricName"]), dimensions),
        period=period,
        stat=stat,
        unit=None if stat_part.get("Unit") is None else str(stat_part["Unit"]),
        label=None if query.get("Label") is None else str(query["Label"]),
        returns=query.get("ReturnData") is not False,
        account_id=None if other_account in (None, account_id) else str(other_account),
    )


def labels(queries: Sequence[StatQuery]) -> list[str]:
    """Each query's label: its own, else the metric name, followed by the stat and the period when
    those differ between the queries (so two series of one metric can be told apart).

    >>> m = MetricId.of("App", "Latency")
    >>> labels([StatQuery("a", m, 60, "p50", None, None, True, None),
    ...         StatQuery("b", m, 60, "p99", None, "tail", True, None),
    ...         StatQuery("c", m, 60, "Average", None, None, True, None)])
    ['Latency p50', 'tail', 'Latency Average']
    """
    stats_differ = len({q.stat for q in queries}) > 1
    periods_differ = len({q.period for q in queries}) > 1
    found: list[str] = []
    for query in queries:
        if query.label is not None:
            found.append(query.label)
            continue
        parts = [query.metric.name]
        if stats_differ:
            parts.append(query.stat)
        if periods_differ:
            parts.append(str(query.period))
        found.append(" ".join(parts))
    return found


@dataclass(frozen=True)
class Result:
    """One returned query's datapoints, in the request's scan order, and what it answers with."""

    id: str
    label: str
    points: list[tuple[float, float]]  # (timestamp, value)
    status: str = "Complete"  # Forbidden for another account's metric


def _beyond(timestamp: float, after: float, descending: bool) -> bool:
    return timestamp < after if descending else timestamp > after


def page(
    results: Sequence[Result], max_datapoints: int, descending: bool, resume: Resume | None
) -> tuple[list[dict[str, Any]], Resume | None]:
    """The MetricDataResults of one page and where the next page resumes (None: this is the last).

    Datapoints fill a page query by query, at most ``max_datapoints`` in all; a query cut short
    answers ``PartialData`` and the next page resumes after its last timestamp.

    >>> rs = [Result("a", "A", [(3.0, 30.0), (2.0, 20.0), (1.0, 10.0)]), Result("b", "B", [(1.0, 5.0)])]
    >>> first, resume = page(rs, 2, True, None)
    >>> [(r["Id"], r["Timestamps"], r["StatusCode"]) for r in first], resume
    ([('a', [3.0, 2.0], 'PartialData')], Resume(query=0, after=2.0))
    >>> second, resume = page(rs, 2, True, resume)
    >>> [(r["Id"], r["Values"], r["StatusCode"]) for r in second], resume
    ([('a', [10.0], 'Complete'), ('b', [5.0], 'Complete')], None)
    """
    room = max_datapoints
    answered: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        points = result.points
        if resume is not None:
            if index < resume.query:
                continue
            if index == resume.query:
                points = [p for p in points if _beyond(p[0], resume.after, descending)]
        if room == 0 and points:
            return answered, Resume(index, math.inf if descending else -math.inf)
        taken = points[:room]
        room -= len(taken)
        complete = len(taken) == len(points)
        answered.append(
            {
                "Id": result.id,
                "Label": result.label,
                "Timestamps": [t for t, _ in taken],
                "Values": [v for _, v in taken],
                "StatusCode": result.status if complete else "PartialData",
            }
        )
        if not complete:
            return answered, Resume(index, taken[-1][0])
    return answered, None
