"""Helpers for the ECS end-to-end tests: clients pointed at a live ecsbox, the containers it runs on
the engine (found by the labels ecsbox puts on them), waiting, and cleaning up."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import docker
import docker.errors
import pytest
from botocore.config import Config

REGION = "ap-northeast-1"
LABEL_SERVER = "ecsbox.server"
LABEL_TASK_ARN = "ecsbox.task-arn"
LABEL_CONTAINER = "ecsbox.container-name"
LABEL_ROLE = "ecsbox.role"

# A container that keeps running and exits at once on SIGTERM (so stopTimeout never bites).
KEEP_RUNNING = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
# ECS minimums: interval 5 s, timeout 2 s.
FAST_HEALTH_CHECK = {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}

T = TypeVar("T")


def aws_environment(endpoint: str) -> dict[str, str]:
    """Environment for the AWS CLI pointed at ``endpoint``."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def ecs_client(endpoint: str) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=30),
    )


def aws_cli(env: dict[str, str], *args: str) -> Any:
    """Run ``aws <args>`` (the real CLI) and return its JSON output (None when it prints nothing)."""
    completed = subprocess.run(
        ["aws", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, f"aws {' '.join(args)} failed:\n{completed.stderr}"
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def server_id(data_dir: Path) -> str:
    """The id a data directory's ecsbox labels its containers with (``ecsbox.server``)."""
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'ecsbox.db'}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM ecsbox_meta WHERE key = 'server_id'").fetchone()
    assert row, f"no server id in {data_dir}"
    return str(row[0])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 0.25) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except AssertionError as error:  # a probe may assert; keep trying until the deadline
            last = error
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


@dataclass(frozen=True)
class Box:
    """One ecsbox as the tests see it: its endpoint, a boto3 ECS client and its container label."""

    endpoint: str
    server_id: str
    ecs: Any
    docker: docker.APIClient

    def containers(
        self,
        cluster: str | None = None,
        *,
        include_stopped: bool = False,
        role: str | None = "container",
    ) -> list[dict[str, Any]]:
        """This server's containers (``docker ps`` by label), of one cluster's tasks if given."""
        found = self.docker.containers(
            all=include_stopped, filters={"label": f"{LABEL_SERVER}={self.server_id}"}
        )
        result = []
        for container in found:
            labels = container.get("Labels") or {}
            if role is not None and labels.get(LABEL_ROLE) != role:
                continue
            if cluster is not None and f":task/{cluster}/" not in labels.get(LABEL_TASK_ARN, ""):
                continue
            result.append(container)
        return result

    def task_containers(self, task_arn: str, *, include_stopped: bool = True) -> dict[str, dict[str, Any]]:
        """A task's containers by ECS container name (the pause container as ``~internal~ecs~pause``)."""
        found = self.docker.containers(
            all=include_stopped,
            filters={"label": [f"{LABEL_SERVER}={self.server_id}", f"{LABEL_TASK_ARN}={task_arn}"]},
        )
        return {c["Labels"][LABEL_CONTAINER]: c for c in found}

    def describe_task(self, cluster: str, task_arn: str) -> dict[str, Any]:
        tasks = self.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        assert len(tasks) == 1, tasks
        return tasks[0]

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        services = self.ecs.describe_services(cluster=cluster, services=[service])["services"]
        assert len(services) == 1, services
        return services[0]

    def list_tasks(self, cluster: str, **filters: Any) -> list[str]:
        arns: list[str] = []
        for page in self.ecs.get_paginator("list_tasks").paginate(cluster=cluster, **filters):
            arns.extend(page["taskArns"])
        return arns

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(arns), 100):
            tasks.extend(self.ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"])
        return tasks

    def wait_task(self, cluster: str, task_arn: str, status: str, timeout: float = 60) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            task = self.describe_task(cluster, task_arn)
            return task if task["lastStatus"] == status else None

        return wait_for(f"task {task_arn} {status}", probe, timeout)

    def wait_deployment_completed(self, cluster: str, service: str, timeout: float = 90) -> dict[str, Any]:
        """The service once its only deployment is the PRIMARY one and COMPLETED."""

        def probe() -> dict[str, Any] | None:
            described = self.describe_service(cluster, service)
            deployments = described["deployments"]
            done = (
                len(deployments) == 1
                and deployments[0]["rolloutState"] == "COMPLETED"
                and described["runningCount"] == described["desiredCount"]
            )
            return described if done else None

        return wait_for(f"service {service} deployment COMPLETED", probe, timeout, 0.5)

    def cleanup(self, cluster: str) -> None:
        """Delete the cluster's services (force) and stop its tasks; best effort."""
        with contextlib.suppress(Exception):
            for arn in self.ecs.list_services(cluster=cluster, maxResults=100).get("serviceArns", []):
                with contextlib.suppress(Exception):
                    self.ecs.delete_service(cluster=cluster, service=arn, force=True)
            for arn in self.list_tasks(cluster):
                with contextlib.suppress(Exception):
                    self.ecs.stop_task(cluster=cluster, task=arn, reason="test cleanup")
        # Once ecsbox has stopped them, remove the task containers it keeps for stopped tasks, so
        # nothing of the test outlives the session (a server's reset only runs before a test).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if not self.containers(cluster, role=None):
                    break
            time.sleep(0.25)
        for container in self.containers(cluster, include_stopped=True, role=None):
            with contextlib.suppress(docker.errors.APIError):
                self.docker.remove_container(container["Id"], force=True, v=True)


def remove_server_containers(client: docker.APIClient, server: str) -> None:
    """Remove every container and the network of one ecsbox server (a server the test started)."""
    for container in client.containers(all=True, filters={"label": f"{LABEL_SERVER}={server}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.remove_container(container["Id"], force=True, v=True)
    for network in client.networks(filters={"label": f"{LABEL_SERVER}={server}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.remove_network(network["Id"])


def container_definition(name: str, image: str, **extra: Any) -> dict[str, Any]:
    """A busybox container that keeps running, stops at once on SIGTERM (stopTimeout 2)."""
    return {
        "name": name,
        "image": image,
        "essential": True,
        "command": KEEP_RUNNING,
        "stopTimeout": 2,
        "memoryReservation": 16,
        **extra,
    }


def docker_healthy(container: dict[str, Any]) -> bool:
    return container.get("State") == "running" and "(healthy)" in (container.get("Status") or "")


@contextlib.contextmanager
def image_tag(client: docker.APIClient, source: str, target: str) -> Iterator[str]:
    """``docker tag source target`` for the test; untagged afterwards if the test made it."""
    repository, _, tag = target.rpartition(":")
    existed = True
    try:
        client.inspect_image(target)
    except docker.errors.NotFound:
        existed = False
        client.tag(source, repository, tag)
    try:
        yield target
    finally:
        if not existed:
            with contextlib.suppress(docker.errors.APIError):
                client.remove_image(target, noprune=True)


def require_seed(seed_dir: Path) -> Path:
    if not seed_dir.is_dir():
        pytest.skip(f"no seed documents in {seed_dir}")
    return seed_dir


def register(box: Box, family: str, containers: list[dict[str, Any]], **extra: Any) -> str:
    """Register a task definition on the box's server; its ARN."""
    response = box.ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)
    return str(response["taskDefinition"]["taskDefinitionArn"])
