"""CloudWatch Logs: log groups, streams and events, filter patterns, metric filters, retention.

Other packages use only what is named here: :func:`register` (the composition root), the
:class:`LogsHousekeeping` it starts, :class:`LogIngest` (the container log paths: Forward
receiver, awslogs, FireLens), :func:`metric_data` (the datapoints a metric filter makes of an
event) and :data:`MetricSink` (the hook, given to :func:`register` and :class:`LogIngest`, through
which CloudWatch metrics hears of every committed batch of events).
"""

from ecsbox.logs.api import logs_operations, register
from ecsbox.logs.container_logs import ContainerLogs
from ecsbox.logs.forward import ForwardServer
from ecsbox.logs.housekeeping import LogsHousekeeping, LogsHousekeepingReport
from ecsbox.logs.ingest import LogIngest
from ecsbox.logs.metric_filters import MetricDatum, metric_data
from ecsbox.logs.metric_hook import MetricSink
from ecsbox.logs.model import LogsRuleError

__all__ = [
    "ContainerLogs",
    "ForwardServer",
    "LogIngest",
    "LogsHousekeeping",
    "LogsHousekeepingReport",
    "LogsRuleError",
    "MetricDatum",
    "MetricSink",
    "logs_operations",
    "metric_data",
    "register",
]
