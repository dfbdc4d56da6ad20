import pytest

from ecsbox.ecs.cluster_stats import cluster_counts


@pytest.mark.parametrize(
    ("tasks", "services", "counts", "nonzero"),
    [
        ([], [], (0, 0, 0), {}),
        (
            [("RUNNING", "FARGATE"), ("PENDING", "FARGATE")],
            [("ACTIVE", "FARGATE")],
            (1, 1, 1),
            {
                "runningFargateTasksCount": "1",
                "pendingFargateTasksCount": "1",
                "activeFargateServiceCount": "1",
            },
        ),
        (
            [("RUNNING", "EC2"), ("PROVISIONING", "EC2"), ("STOPPED", "EC2")],
            [("DRAINING", "EC2")],
            (1, 1, 0),
            {"runningEC2TasksCount": "1", "pendingEC2TasksCount": "1", "drainingEC2ServiceCount": "1"},
        ),
    ],
)
def test_cluster_counts(tasks, services, counts, nonzero) -> None:
    members, statistics = cluster_counts(tasks, services)
    assert (
        members["runningTasksCount"],
        members["pendingTasksCount"],
        members["activeServicesCount"],
    ) == counts
    assert {s["name"]: s["value"] for s in statistics if s["value"] != "0"} == nonzero
    assert len(statistics) == 12
