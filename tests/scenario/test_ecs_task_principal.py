"""A task's own role (calls from inside a container) cannot register a way out to the host."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.ecs import operations
from ecsbox.store import Store

ESCAPE = {
    "family": "escape",
    "containerDefinitions": [{"name": "c", "image": "busybox", "memory": 32, "privileged": True}],
    "volumes": [{"name": "root", "host": {"sourcePath": "/"}}],
}


def _context(principal: str) -> RequestContext:
    return RequestContext("000000000000", "us-east-1", "ecs", "RegisterTaskDefinition", "r", "AK", principal)


def test_a_task_role_cannot_register_host_reach_but_the_operator_can(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()
    register = operations(store, FakeClock())["RegisterTaskDefinition"]

    async def scenario() -> None:
        task_role = _context("arn:aws:sts::000000000000:assumed-role/app-role/0123456789abcdef")
        with pytest.raises(AwsError) as info:
            await register(task_role, dict(ESCAPE))
        assert info.value.code == "ClientException"
        assert "privileged container" in info.value.message and "host volume" in info.value.message
        operator = _context("arn:aws:iam::000000000000:root")
        answer = await register(operator, dict(ESCAPE))
        assert answer["taskDefinition"]["revision"] == 1

    try:
        asyncio.run(scenario())
    finally:
        store.close()
