"""What the metrics collector needs to know of ECS, at one instant: the tasks to measure, the
services and clusters to count, the container instances whose resources the cluster metrics divide
by. The ECS capability fills a :class:`MonitoringSnapshot` from its tables; the metrics capability
reads it. Shared by the two, which do not import each other; pure (frozen data only).

>>> app = ContainerInfo("app", "nginx", "c0ffee", "RUNNING", cpu=256, memory=512, memory_reservation=128)
>>> app.memory_reserved
128
>>> task = TaskInfo(("000000000000", "us-east-1"), "web", "arn:aws:ecs:us-east-1:000000000000:task/web/abc",
...                 "abc", "api", "api", 3, "EC2", None, None, "bridge", "RUNNING", containers=(app,))
>>> (task.cpu_reserved, task.memory_reserved, task.group)
(256, 128, 'service:api')
"""

from __future__ import annotations

from dataclasses import dataclass

Partition = tuple[str, str]  # (account id, region)


@dataclass(frozen=True)
class ContainerInfo:
    """One container of a task, as DescribeTasks shows it, with its runtime (Docker) id."""

    name: str
    image: str
    runtime_id: str | None  # None until the agent created it
    known_status: str  # the container's lastStatus
    cpu: int | None = None  # CPU units the container definition reserves
    memory: int | None = None  # hard limit, MiB
    memory_reservation: int | None = None  # soft limit, MiB

    @property
    def memory_reserved(self) -> int | None:
        """What the container reserves: ``memoryReservation`` where set, else ``memory``."""
        return self.memory_reservation if self.memory_reservation else self.memory


@dataclass(frozen=True)
class TaskInfo:
    """One task that is not STOPPED."""

    partition: Partition
    cluster: str
    task_arn: str
    task_id: str
    service_name: str | None  # the service it belongs to (group "service:<name>"), None for RunTask
    family: str
    revision: int
    launch_type: str  # EC2 | FARGATE | EXTERNAL
    cpu: int | None  # the task size's CPU units (a hard limit), None when the task has none
    memory: int | None  # the task size's MiB, None when the task has none
    network_mode: str  # awsvpc | bridge | host | none
    known_status: str  # lastStatus
    desired_status: str = "RUNNING"
    created_at: float | None = None  # epoch seconds, ecsbox clock
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    availability_zone: str | None = None
    containers: tuple[ContainerInfo, ...] = ()
    pause_runtime_id: str | None = None  # awsvpc: the container holding the task's network namespace
    container_instance_arn: str | None = None  # EC2: the instance it runs on
    ephemeral_storage_gib: int | None = None  # Fargate: the task's ephemeral storage

    @property
    def group(self) -> str:
        return f"service:{self.service_name}" if self.service_name else f"family:{self.family}"

    @property
    def cpu_reserved(self) -> int:
        """CPU units the task reserves: the task size, else the sum of its containers' ``cpu``."""
        if self.cpu:
            return self.cpu
        return sum(c.cpu or 0 for c in self.containers)

    @property
    def memory_reserved(self) -> int:
        """MiB the task reserves: the task size, else the sum over its containers of
        ``memoryReservation`` where set, else ``memory``."""
        if self.memory:
            return self.memory
        return sum(c.memory_reserved or 0 for c in self.containers)


@dataclass(frozen=True)
class ServiceInfo:
    partition: Partition
    cluster: str
    service_name: str
    service_arn: str
    status: str  # ACTIVE | DRAINING
    desired_count: int
    running_count: int
    pending_count: int
    deployment_count: int
    task_set_count: int


@dataclass(frozen=True)
class ContainerInstanceInfo:
    """A container instance registered to a cluster, as DescribeContainerInstances shows it."""

    partition: Partition
    cluster: str
    arn: str
    instance_id: str  # the id at the end of the ARN
    ec2_instance_id: str
    status: str  # ACTIVE | DRAINING | ...
    registered_cpu: int
    registered_memory: int  # MiB
    remaining_cpu: int
    remaining_memory: int
    running_tasks: int
    pending_tasks: int

    @property
    def counts(self) -> bool:
        """Whether its resources count in the cluster's metrics (ACTIVE and DRAINING ones do)."""
        return self.status in ("ACTIVE", "DRAINING")


@dataclass(frozen=True)
class ClusterInfo:
    partition: Partition
    name: str
    arn: str
    container_insights: str  # disabled | enabled | enhanced (the account default when unset)
    service_count: int  # ACTIVE services
    running_task_count: int
    pending_task_count: int
    container_instance_count: int  # registered (ACTIVE and DRAINING)
    registered_cpu: int  # summed over ACTIVE and DRAINING instances
    registered_memory: int  # MiB

    @property
    def insights_enabled(self) -> bool:
        return self.container_insights in ("enabled", "enhanced")


@dataclass(frozen=True)
class MonitoringSnapshot:
    """Every ACTIVE cluster, live service, unfinished task and container instance, of every
    partition."""

    clusters: tuple[ClusterInfo, ...] = ()
    services: tuple[ServiceInfo, ...] = ()
    tasks: tuple[TaskInfo, ...] = ()
    instances: tuple[ContainerInstanceInfo, ...] = ()

    def running_tasks(self) -> tuple[TaskInfo, ...]:
        return tuple(t for t in self.tasks if t.known_status == "RUNNING")
