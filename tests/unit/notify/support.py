"""Support for the store-backed SNS tests (no tests here): the SNS handlers and the delivery worker
on a Store in a temp SQLite file, with a FakeClock, a fake HTTP poster and a temp mailbox dir."""

from __future__ import annotations

import asyncio
import copy
import json
import mailbox
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.notify import Deliveries, Notifier, notify_operations
from ecsbox.notify.handling import Deps
from ecsbox.notify.http_client import HttpAnswer
from ecsbox.notify.signing import Signer, make_key_material
from ecsbox.store import Store

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = (ACCOUNT, REGION)
START = 1_700_000_000.0
ENDPOINT_URL = "http://localhost:4566"
HOOK = "http://127.0.0.1:9999/hook"

_KEY_MATERIAL: list[tuple[bytes, bytes]] = []


def signer() -> Signer:
    """One key for the whole test session (making one takes a tenth of a second)."""
    if not _KEY_MATERIAL:
        _KEY_MATERIAL.append(make_key_material(START))
    return Signer(*_KEY_MATERIAL[0])


@dataclass
class Posted:
    url: str
    headers: dict[str, str]
    body: str

    @property
    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class FakePoster:
    """The HTTP port: records every POST and answers from a script (200 when it runs out)."""

    answers: list[HttpAnswer] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)

    async def __call__(
        self, url: str, headers: Sequence[tuple[str, str]], body: bytes, timeout_s: float
    ) -> HttpAnswer:
        self.posted.append(Posted(url, dict(headers), body.decode()))
        return self.answers.pop(0) if self.answers else HttpAnswer(200)

    def of_type(self, message_type: str) -> list[Posted]:
        return [p for p in self.posted if p.headers.get("x-amz-sns-message-type") == message_type]


class Sns:
    def __init__(self, store: Store, clock: FakeClock, runner: asyncio.Runner, mailboxes: Path) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.poster = FakePoster()
        self.deliveries = Deliveries(store, clock, mailboxes, poster=self.poster)
        self.signer = signer()
        deps = Deps(store, clock, lambda: ENDPOINT_URL, self.signer, self.deliveries.wake)
        self.handlers = notify_operations(deps)
        self.notifier = Notifier(store, clock, ENDPOINT_URL, signer=self.signer, wake=self.deliveries.wake)

    def __call__(
        self, operation: str, *, signed: bool = True, account: str = ACCOUNT, **params: Any
    ) -> dict[str, Any]:
        if signed:
            ctx = RequestContext(
                account, REGION, "sns", operation, "req-1", "AKID", f"arn:aws:iam::{account}:root"
            )
        else:
            ctx = RequestContext("", "", "sns", operation, "req-1")
        handler = self.handlers[operation]

        async def call() -> dict[str, Any]:
            return await handler(ctx, copy.deepcopy(params))

        return self.runner.run(call())

    def fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self(operation, **params)
        return caught.value

    def deliver(self) -> int:
        attempted: int = self.runner.run(self.deliveries.deliver_once())
        return attempted

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def topic(self, name: str = "alarms", **params: Any) -> str:
        arn: str = self("CreateTopic", Name=name, **params)["TopicArn"]
        return arn

    def confirmed_http(self, topic_arn: str, endpoint: str = HOOK, **attributes: str) -> str:
        """Subscribe an HTTP endpoint and confirm it with the token its confirmation carried."""
        self("Subscribe", TopicArn=topic_arn, Protocol="http", Endpoint=endpoint, Attributes=attributes)
        self.deliver()
        confirmation = self.poster.of_type("SubscriptionConfirmation")[-1].document
        arn: str = self("ConfirmSubscription", TopicArn=topic_arn, Token=confirmation["Token"])[
            "SubscriptionArn"
        ]
        return arn


def text_of(mail: mailbox.mboxMessage) -> str:
    """A mail's body as text."""
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def open_sns(tmp_path: Path) -> Iterator[Sns]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        with asyncio.Runner() as runner:
            yield Sns(store, FakeClock(START), runner, tmp_path / "mailboxes")
    finally:
        store.close()
