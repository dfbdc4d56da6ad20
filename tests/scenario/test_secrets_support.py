"""Support for the secrets scenarios (no tests here): calls Parameter Store and Secrets Manager
handlers directly, as one caller, on a Store in a temp SQLite file with a FakeClock."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.secrets import secretsmanager_operations, ssm_operations
from ecsbox.store import Store

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/alice"


class Caller:
    def __init__(
        self,
        store: Store,
        clock: FakeClock,
        runner: asyncio.Runner,
        account: str = ACCOUNT,
        region: str = REGION,
    ) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.account, self.region = account, region
        self.handlers = {
            "ssm": ssm_operations(store, clock),
            "secretsmanager": secretsmanager_operations(store, clock),
        }

    def as_(self, account: str | None = None, region: str | None = None) -> Caller:
        return Caller(self.store, self.clock, self.runner, account or self.account, region or self.region)

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        ctx = RequestContext(self.account, self.region, service, operation, "req-1", "test", PRINCIPAL)
        return self.runner.run(self.handlers[service][operation](ctx, copy.deepcopy(params)))

    def ssm(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.call("ssm", operation, params)

    def sm(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.call("secretsmanager", operation, params)

    def ssm_fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self.ssm(operation, **params)
        return caught.value

    def sm_fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self.sm(operation, **params)
        return caught.value

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)


def open_caller(path: Path) -> Iterator[Caller]:
    store = Store(f"sqlite:///{path / 'ecsbox.db'}")
    store.open()
    with asyncio.Runner() as runner:
        yield Caller(store, FakeClock(), runner)
    store.close()
