"""How a container definition's logConfiguration becomes Docker's log driver settings."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbox.core.log_routes import decode_route
from ecsbox.ecs.taskspec import TaskIdentity, plan_task

IDENTITY = TaskIdentity(
    task_arn="arn:aws:ecs:ap-northeast-1:000000000000:task/c/0123456789abcdef0123456789abcdef",
    task_id="0123456789abcdef0123456789abcdef",
    cluster_name="c",
    cluster_arn="arn:aws:ecs:ap-northeast-1:000000000000:cluster/c",
    account_id="000000000000",
    region="ap-northeast-1",
    server_id="s" * 32,
    launch_type="EC2",
    network="ecsbox-net",
)
FORWARD = "127.0.0.1:24224"


def _log_config(log: dict[str, Any] | None, forward: str | None = FORWARD) -> Any:
    container: dict[str, Any] = {"name": "web", "image": "busybox", "memory": 64}
    if log is not None:
        container["logConfiguration"] = log
    definition = {"family": "f", "revision": 1, "networkMode": "bridge", "containerDefinitions": [container]}
    return plan_task(IDENTITY, definition, {}, "", {}, None, forward).containers[0].spec.log_config


AWSLOGS = {"awslogs-group": "/ecs/app", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}


@pytest.mark.parametrize(
    ("options", "region", "stream"),
    [
        (AWSLOGS, "eu-west-1", "ecs/web/0123456789abcdef0123456789abcdef"),
        ({"awslogs-group": "/ecs/app"}, "ap-northeast-1", ""),  # no prefix: the container id, later
    ],
)
def test_awslogs_goes_to_the_forward_receiver_with_its_destination_in_the_tag(
    options: dict[str, str], region: str, stream: str
) -> None:
    config = _log_config({"logDriver": "awslogs", "options": options})
    assert config.driver == "fluentd"
    assert config.options["fluentd-address"] == FORWARD
    assert config.options["fluentd-request-ack"] == "true"
    route = decode_route(config.options["tag"])
    assert route is not None
    assert (route.kind, route.account_id, route.region, route.group, route.stream, route.container) == (
        "awslogs",
        "000000000000",
        region,
        "/ecs/app",
        stream,
        "web",
    )


@pytest.mark.parametrize(
    ("options", "buffer"),
    [
        ({}, "10m"),  # ECS's defaults: non-blocking, 10m
        ({"mode": "non-blocking", "max-buffer-size": "25m"}, "25m"),
        # Docker's blocking fluentd driver stalls containers writing to both streams: a big ring.
        ({"mode": "blocking"}, "256m"),
        ({"mode": "blocking", "max-buffer-size": "1m"}, "256m"),
    ],
)
def test_delivery_goes_through_dockers_ring_buffer(options: dict[str, str], buffer: str) -> None:
    config = _log_config({"logDriver": "awslogs", "options": {"awslogs-group": "g", **options}})
    assert config.options["mode"] == "non-blocking"
    assert config.options["max-buffer-size"] == buffer
    assert "fluentd-async" not in config.options


def test_route_options_ride_along() -> None:
    options = {"awslogs-group": "g", "awslogs-create-group": "true", "awslogs-multiline-pattern": "^INFO"}
    route = decode_route(_log_config({"logDriver": "awslogs", "options": options}).options["tag"])
    assert route is not None
    assert route.options == {"awslogs-create-group": "true", "awslogs-multiline-pattern": "^INFO"}


@pytest.mark.parametrize(
    ("log", "forward", "driver"),
    [
        (None, FORWARD, None),  # the engine's default
        ({"logDriver": "awslogs", "options": AWSLOGS}, None, None),  # no receiver: json-file
        ({"logDriver": "syslog", "options": {"tag": "x"}}, FORWARD, "syslog"),  # Docker's own, as given
        ({"logDriver": "splunk", "options": {}}, FORWARD, "splunk"),
    ],
)
def test_other_drivers(log: dict[str, Any] | None, forward: str | None, driver: str | None) -> None:
    config = _log_config(log, forward)
    assert (config.driver if config else None) == driver
