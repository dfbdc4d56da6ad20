"""Support for the store-backed logs tests (no tests here): the CloudWatch Logs handlers, LogIngest and
housekeeping on a Store in a temp SQLite file, with a FakeClock."""

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
from ecsbox.logs import LogIngest, LogsHousekeeping, logs_operations
from ecsbox.store import Store

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = (ACCOUNT, REGION)
START = 1_700_000_000.0


class Logs:
    def __init__(self, store: Store, clock: FakeClock, runner: asyncio.Runner) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.handlers = logs_operations(store, clock)
        self.ingest = LogIngest(store, clock)
        self.housekeeping = LogsHousekeeping(store, clock, batch=50)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "logs", operation, "req-1")
        return self.runner.run(self.handlers[operation](ctx, copy.deepcopy(params)))

    def fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self(operation, **params)
        return caught.value

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def put(
        self, group: str, stream: str, messages: list[str], offsets_ms: list[int] | None = None
    ) -> dict[str, Any]:
        now = self.now_ms()
        offsets = offsets_ms or [0] * len(messages)
        return self(
            "PutLogEvents",
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now + o, "message": m} for o, m in zip(offsets, messages, strict=True)],
        )


def open_logs(tmp_path: Path) -> Iterator[Logs]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        with asyncio.Runner() as runner:
            yield Logs(store, FakeClock(START), runner)
    finally:
        store.close()
