"""Tokens CloudWatch metric reads hand out (pure): ListMetrics' and GetMetricData's ``NextToken``.

Both are opaque (the shared codec of :mod:`ecsbox.core.paging`) and keyset-based, so data arriving
between two pages never shifts what the next page holds. ListMetrics' token carries the sort key of
the last metric returned; GetMetricData's carries a fingerprint of the request (a token from another
request is refused), the query it stopped in and the last timestamp it returned there.

>>> decode_list_token(list_token(("App", "Latency", "[]")))
('App', 'Latency', '[]')
>>> token = data_token("ab12", Resume(query=2, after=1_700_000_060.0))
>>> decode_data_token(token, "ab12")
Resume(query=2, after=1700000060.0)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ecsbox.core import paging as core_paging
from ecsbox.metrics.model import INVALID_NEXT_TOKEN, MetricsRuleError, invalid_value

LIST_PAGE = 500  # ListMetrics answers up to 500 metrics a call
DEFAULT_MAX_DATAPOINTS = 100_800  # GetMetricData's page when MaxDatapoints is omitted

_LIST_SCOPE = "ListMetrics"
_DATA_SCOPE = "GetMetricData"


def list_token(key: tuple[str, str, str]) -> str:
    """The token after the metric with sort key (namespace, metric name, dimensions JSON)."""
    return core_paging.encode_token(_LIST_SCOPE, list(key))


def decode_list_token(token: str) -> tuple[str, str, str]:
    """The sort key a ListMetrics token carries; InvalidParameterValue for anything else."""
    key = core_paging.decode_token(token, _LIST_SCOPE)
    if key is None or len(key) != 3 or not all(isinstance(part, str) for part in key):
        raise invalid_value("The value for parameter NextToken is invalid.")
    return key[0], key[1], key[2]


@dataclass(frozen=True)
class Resume:
    """Where a GetMetricData page stopped: in result ``query`` (its index among the returned
    results), after the datapoint with timestamp ``after`` in the request's scan order."""

    query: int
    after: float


def request_fingerprint(request: Any) -> str:
    """A short digest of what a GetMetricData request asks (its queries, times and order), so a
    token is only good for the request that produced it.

    >>> request_fingerprint({"a": 1}) == request_fingerprint({"a": 1}), len(request_fingerprint({}))
    (True, 16)
    """
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def data_token(fingerprint: str, resume: Resume) -> str:
    return core_paging.encode_token(_DATA_SCOPE, [fingerprint, resume.query, resume.after])


def decode_data_token(token: str, fingerprint: str) -> Resume:
    """Where to resume; InvalidNextToken when the token is not one of this request's."""
    key = core_paging.decode_token(token, _DATA_SCOPE)
    if (
        key is None
        or len(key) != 3
        or key[0] != fingerprint
        or not isinstance(key[1], int)
        or isinstance(key[1], bool)
        or key[1] < 0
        or not isinstance(key[2], int | float)
        or isinstance(key[2], bool)
    ):
        raise MetricsRuleError(
            INVALID_NEXT_TOKEN, "The service couldn't process your request because NextToken is invalid."
        )
    return Resume(key[1], float(key[2]))
