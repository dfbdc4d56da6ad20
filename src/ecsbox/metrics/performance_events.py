"""Container Insights performance log events: one JSON document per task, container, service,
cluster and container instance each period, in log group
``/aws/ecs/containerinsights/<ClusterName>/performance``. Pure.

Shapes follow CloudWatch's Container-Insights-reference-performance-logs-ECS: ``"Version": "0"``,
``"Type"``, identity, ``Timestamp`` in milliseconds, the figures, and on Task, Service and Cluster
events a top-level ``CloudWatchMetrics`` directive naming the metrics and their units (not under
``_aws``: these are not embedded-metric-format events; the collector records their metrics
itself). The container instance's event (``"Type": "Instance"``, the CloudWatch agent's name for
it) carries its ``instance_*`` figures and a directive of the same top-level form (an ecsbox choice:
the agent's own events use ``_aws``, which would make the log ingest record them a second time).

Streams, as AWS names them: a Fargate task's Task and Container events go to
``FargateTelemetry-<n>`` (n stable for the task), a task on a container instance's to
``AgentTelemetry-<container instance id>``, Service and Cluster events to
``ClusterTelemetry-<ClusterName>``, the instance's own to ``NodeTelemetry-<container instance id>``.

>>> log_group("fargate-cluster")
'/aws/ecs/containerinsights/fargate-cluster/performance'
>>> fargate_stream("arn:aws:ecs:ap-northeast-1:123456789012:task/fargate-cluster/0123456789abcdef")
'FargateTelemetry-4750'
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ecsbox.core.monitoring import (
    ClusterInfo,
    ContainerInfo,
    ContainerInstanceInfo,
    MonitoringSnapshot,
    Partition,
    ServiceInfo,
    TaskInfo,
)
from ecsbox.metrics.insights import NAMESPACE, SERVICE_METRICS, TASK_METRICS, task_values
from ecsbox.metrics.instance_metrics import (
    CLUSTER_DIMENSIONS,
    INSTANCE_DIMENSIONS,
    PER_INSTANCE,
    UNITS,
    HostUsage,
    instance_values,
)
from ecsbox.metrics.usage import NetworkUsage, TaskUsage, Usage

TASK_DIMENSIONS = [["ClusterName"], ["ClusterName", "TaskDefinitionFamily"]]
ON_INSTANCES = ("EC2", "EXTERNAL")
COUNT = "Count"

LogKey = tuple[Partition, str, str]  # (partition, log group, log stream)
LogEvents = dict[LogKey, list[tuple[int, str]]]  # → [(timestamp ms, message)]


def log_group(cluster: str) -> str:
    return f"/aws/ecs/containerinsights/{cluster}/performance"


def fargate_stream(task_arn: str) -> str:
    """``FargateTelemetry-<n>``: n (0 to 9999) from the task's ARN, so it stays the task's stream."""
    return f"FargateTelemetry-{int(hashlib.sha256(task_arn.encode()).hexdigest(), 16) % 10000}"


def task_stream(task: TaskInfo, instance: ContainerInstanceInfo | None) -> str:
    """Where a task's Task and Container events go.

    >>> from ecsbox.core.monitoring import ContainerInstanceInfo, TaskInfo
    >>> i = ContainerInstanceInfo(("a", "r"), "c", "arn", "5f0c", "i-1", "ACTIVE", 2048, 4096, 2048, 4096, 1, 0)
    >>> task_stream(TaskInfo(("a", "r"), "c", "arn", "t", None, "f", 1, "EC2", None, None, "bridge", "RUNNING"), i)
    'AgentTelemetry-5f0c'
    """
    if task.launch_type in ON_INSTANCES and instance is not None:
        return f"AgentTelemetry-{instance.instance_id}"
    return fargate_stream(task.task_arn)


def cluster_stream(cluster: str) -> str:
    return f"ClusterTelemetry-{cluster}"


def instance_stream(instance: ContainerInstanceInfo) -> str:
    return f"NodeTelemetry-{instance.instance_id}"


def ms(seconds: float) -> int:
    """Epoch seconds in whole milliseconds: ``ms(1643191009.8434)`` → 1643191009843."""
    return int(seconds * 1000)


def _directive(metrics: list[tuple[str, str]], dimensions: list[list[str]]) -> dict[str, Any]:
    return {
        "Namespace": NAMESPACE,
        "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics],
        "Dimensions": dimensions,
    }


def _number(value: float) -> float | int:
    """Whole figures as integers (``512``, not ``512.0``), as AWS's events show them."""
    return int(value) if float(value).is_integer() else value


def _identity(task: TaskInfo, instance: ContainerInstanceInfo | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "TaskId": task.task_id,
        "TaskDefinitionFamily": task.family,
        "TaskDefinitionRevision": str(task.revision),
    }
    if task.service_name:
        document["ServiceName"] = task.service_name
    if task.launch_type in ON_INSTANCES and instance is not None:
        document["ContainerInstanceId"] = instance.instance_id
        document["EC2InstanceId"] = instance.ec2_instance_id
    document["ClusterName"] = task.cluster
    return document


def _network(network: NetworkUsage) -> dict[str, Any]:
    totals = network.totals
    return {
        "NetworkRxBytes": _number(network.rx_bps),
        "NetworkRxDropped": totals.rx_dropped,
        "NetworkRxErrors": totals.rx_errors,
        "NetworkRxPackets": totals.rx_packets,
        "NetworkTxBytes": _number(network.tx_bps),
        "NetworkTxDropped": totals.tx_dropped,
        "NetworkTxErrors": totals.tx_errors,
        "NetworkTxPackets": totals.tx_packets,
    }


def task_event(
    used: TaskUsage, timestamp: float, instance: ContainerInstanceInfo | None = None
) -> dict[str, Any]:
    """The Task event of one measured task (the seed's ``container-insights.performance-event.task.json``)."""
    task = used.task
    document: dict[str, Any] = {"Version": "0", "Type": "Task", **_identity(task, instance)}
    document["AccountID"], document["Region"] = task.partition
    if task.availability_zone:
        document["AvailabilityZone"] = task.availability_zone
    document["KnownStatus"] = task.known_status
    document["LaunchType"] = task.launch_type
    for field, at in (
        ("PullStartedAt", task.pull_started_at),
        ("PullStoppedAt", task.pull_stopped_at),
        ("CreatedAt", task.created_at),
        ("StartedAt", task.started_at),
    ):
        if at is not None:
            document[field] = ms(at)
    document["Timestamp"] = ms(timestamp)
    values = task_values(used)
    for name, value in values.items():
        if name == "NetworkRxBytes" and used.usage.network is not None:
            document.update(_network(used.usage.network))
        elif not name.startswith("Network"):
            document[name] = _number(value)
    document["CloudWatchMetrics"] = [_directive([(n, TASK_METRICS[n]) for n in values], TASK_DIMENSIONS)]
    return document


def container_event(
    task: TaskInfo,
    container: ContainerInfo,
    usage: Usage,
    timestamp: float,
    instance: ContainerInstanceInfo | None = None,
) -> dict[str, Any]:
    """The Container event of one measured container: what it reserves in its definition."""
    identity = _identity(task, instance)
    identity.pop("ServiceName", None)
    document: dict[str, Any] = {
        "Version": "0",
        "Type": "Container",
        "ContainerName": container.name,
        **identity,
    }
    document["Image"] = container.image
    document["ContainerKnownStatus"] = container.known_status
    document["Timestamp"] = ms(timestamp)
    document["CpuUtilized"] = _number(usage.cpu_units)
    document["CpuReserved"] = _number(float(container.cpu or 0))
    document["MemoryUtilized"] = _number(usage.memory_mib)
    document["MemoryReserved"] = container.memory_reserved or 0
    document["StorageReadBytes"] = _number(usage.storage_read_bps)
    document["StorageWriteBytes"] = _number(usage.storage_write_bps)
    if usage.network is not None:
        document.update(_network(usage.network))
    return document


def service_event(service: ServiceInfo, timestamp: float) -> dict[str, Any]:
    counts = (service.desired_count, service.running_count, service.pending_count,
              service.deployment_count, service.task_set_count)  # fmt: skip
    return {
        "Version": "0",
        "Type": "Service",
        "ServiceName": service.service_name,
        "ClusterName": service.cluster,
        "Timestamp": ms(timestamp),
        **dict(zip(SERVICE_METRICS, counts, strict=True)),
        "CloudWatchMetrics": [
            _directive([(n, COUNT) for n in SERVICE_METRICS], [["ServiceName", "ClusterName"]])
        ],
    }


def cluster_event(cluster: ClusterInfo, container_instances: int, timestamp: float) -> dict[str, Any]:
    counts = {
        "TaskCount": cluster.running_task_count,
        "ContainerInstanceCount": container_instances,
        "ServiceCount": cluster.service_count,
    }
    return {
        "Version": "0",
        "Type": "Cluster",
        "ClusterName": cluster.name,
        "Timestamp": ms(timestamp),
        **counts,
        "CloudWatchMetrics": [_directive([(n, COUNT) for n in counts], [list(CLUSTER_DIMENSIONS)])],
    }


def instance_event(
    instance: ContainerInstanceInfo, host: HostUsage | None, timestamp: float
) -> dict[str, Any]:
    """The container instance's event: its ``instance_*`` figures."""
    values = instance_values(instance, host)
    per_instance = [(n, UNITS[n]) for n in values if n in PER_INSTANCE]
    return {
        "Version": "0",
        "Type": "Instance",
        "ClusterName": instance.cluster,
        "ContainerInstanceId": instance.instance_id,
        "InstanceId": instance.ec2_instance_id,
        "Timestamp": ms(timestamp),
        **{name: _number(value) for name, value in values.items()},
        "CloudWatchMetrics": [
            _directive(per_instance, [list(INSTANCE_DIMENSIONS)]),
            _directive([(n, UNITS[n]) for n in values], [list(CLUSTER_DIMENSIONS)]),
        ],
    }


def performance_events(
    snapshot: MonitoringSnapshot,
    measured: Mapping[str, TaskUsage],
    timestamp: float,
    host: HostUsage | None = None,
) -> LogEvents:
    """Every performance event of one period, by (partition, log group, log stream), for the
    clusters that have Container Insights enabled."""
    events: LogEvents = defaultdict(list)
    enabled = {(c.partition, c.name): c for c in snapshot.clusters if c.insights_enabled}
    instances = {(i.partition, i.cluster): i for i in snapshot.instances if i.counts}
    at = ms(timestamp)

    def add(partition: Partition, cluster: str, stream: str, document: dict[str, Any]) -> None:
        events[(partition, log_group(cluster), stream)].append(
            (at, json.dumps(document, separators=(",", ":")))
        )

    for used in measured.values():
        task = used.task
        if (task.partition, task.cluster) not in enabled:
            continue
        instance = instances.get((task.partition, task.cluster))
        stream = task_stream(task, instance)
        add(task.partition, task.cluster, stream, task_event(used, timestamp, instance))
        for container in task.containers:
            if container.name in used.containers:
                document = container_event(
                    task, container, used.containers[container.name], timestamp, instance
                )
                add(task.partition, task.cluster, stream, document)
    for service in snapshot.services:
        if (service.partition, service.cluster) in enabled:
            add(
                service.partition,
                service.cluster,
                cluster_stream(service.cluster),
                service_event(service, timestamp),
            )
    for key, cluster in enabled.items():
        instance = instances.get(key)
        running_tasks = instance is not None and instance.running_tasks > 0
        document = cluster_event(cluster, 1 if running_tasks else 0, timestamp)
        add(cluster.partition, cluster.name, cluster_stream(cluster.name), document)
        if instance is not None and running_tasks:
            add(
                cluster.partition,
                cluster.name,
                instance_stream(instance),
                instance_event(instance, host, timestamp),
            )
    return dict(events)
