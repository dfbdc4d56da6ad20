"""Publish, the Notifier and the delivery worker on a real store with a FakeClock and a fake HTTP
port: fan-out, filter policies, per-protocol messages, retries on the policy's schedule, giving up,
mailboxes, throttles, and the worker's own loop."""

from __future__ import annotations

import asyncio
import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.notify.support import ACCOUNT, HOOK, PARTITION, REGION, Sns, open_sns, text_of

from ecsbox.notify import NotifyRuleError
from ecsbox.notify.http_client import HttpAnswer

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"
OTHER_HOOK = "http://127.0.0.1:9998/other"


@pytest.fixture()
def sns(tmp_path: Path) -> Iterator[Sns]:
    yield from open_sns(tmp_path)


def notifications(sns: Sns, url: str = HOOK) -> list[dict[str, object]]:
    return [p.document for p in sns.poster.of_type("Notification") if p.url == url]


def test_publish_reaches_every_confirmed_subscription_and_no_pending_one(sns: Sns) -> None:
    sns.topic()
    first = sns.confirmed_http(TOPIC)
    second = sns.confirmed_http(TOPIC, OTHER_HOOK)
    sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint="http://127.0.0.1:9997/pending")
    message_id = sns("Publish", TopicArn=TOPIC, Message="hello", Subject="Greeting")["MessageId"]
    sns.deliver()
    delivered = sns.poster.of_type("Notification")
    assert sorted(p.headers["x-amz-sns-subscription-arn"] for p in delivered) == sorted([first, second])
    assert {p.document["MessageId"] for p in delivered} == {message_id}
    assert {p.document["Subject"] for p in delivered} == {"Greeting"}


def test_filter_policies_choose_who_hears(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC, FilterPolicy='{"severity": ["critical"]}')
    sns.confirmed_http(
        TOPIC, OTHER_HOOK, FilterPolicy='{"NewStateValue": ["ALARM"]}', FilterPolicyScope="MessageBody"
    )
    critical = {"severity": {"DataType": "String", "StringValue": "critical"}}
    sns("Publish", TopicArn=TOPIC, Message='{"NewStateValue": "OK"}', MessageAttributes=critical)
    sns("Publish", TopicArn=TOPIC, Message='{"NewStateValue": "ALARM"}')
    sns.deliver()
    assert [n["Message"] for n in notifications(sns)] == ['{"NewStateValue": "OK"}']
    assert [n["Message"] for n in notifications(sns, OTHER_HOOK)] == ['{"NewStateValue": "ALARM"}']
    assert notifications(sns)[0]["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}


def test_message_structure_json_gives_each_protocol_its_own_message(sns: Sns, tmp_path: Path) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    sns("Subscribe", TopicArn=TOPIC, Protocol="email", Endpoint="ops@example.com")
    sns.deliver()
    (confirmation,) = mailbox.mbox(tmp_path / "mailboxes" / "ops@example.com.mbox")
    token = text_of(confirmation).split("&Token=")[1].split()[0]
    sns("ConfirmSubscription", TopicArn=TOPIC, Token=token, signed=False)
    message = json.dumps({"default": "CPU high", "email": "CPU on web is above 80%"})
    sns("Publish", TopicArn=TOPIC, Message=message, MessageStructure="json")
    sns.deliver()
    assert notifications(sns)[0]["Message"] == "CPU high"
    _, mail = mailbox.mbox(tmp_path / "mailboxes" / "ops@example.com.mbox")
    assert text_of(mail).startswith("CPU on web is above 80%\n")
    assert mail["Subject"] == "AWS Notification Message"


def test_raw_message_delivery(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC, RawMessageDelivery="true")
    sns("Publish", TopicArn=TOPIC, Message="just this")
    sns.deliver()
    posted = sns.poster.of_type("Notification")[0]
    assert posted.body == "just this" and posted.headers["x-amz-sns-rawdelivery"] == "true"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"PhoneNumber": "+15555550100"}, "InvalidParameter",
         "Invalid parameter: PhoneNumber Reason: ecsbox sends no SMS messages"),
        ({"TopicArn": TOPIC, "TargetArn": TOPIC}, "InvalidParameter",
         "Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn can be specified"),
        ({}, "InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"),
        ({"TargetArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/1"}, "InvalidParameter",
         "Invalid parameter: TargetArn Reason: ecsbox publishes to topics only; mobile push endpoints are not served"),
        ({"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"}, "NotFound", "Topic does not exist"),
        ({"TopicArn": TOPIC, "MessageDeduplicationId": "d"}, "InvalidParameter",
         "Invalid parameter: The request includes MessageDeduplicationId parameter that is not valid for this "
         "topic type"),
        ({"TopicArn": TOPIC, "MessageGroupId": "g" * 129}, "InvalidParameter",
         "Invalid parameter: MessageGroupId Reason: up to 128 letters, digits and punctuation"),
    ],
)  # fmt: skip
def test_publish_refusals(sns: Sns, params: dict[str, object], code: str, message: str) -> None:
    sns.topic()
    assert (
        sns.fails("Publish", Message="m", **params).code,
        sns.fails("Publish", Message="m", **params).message,
    ) == (
        code,
        message,
    )


def test_publish_to_a_target_arn_and_the_topic_s_size_limit(sns: Sns) -> None:
    sns.topic(Attributes={"MaximumMessageSize": "1024"})
    assert sns("Publish", TargetArn=TOPIC, Message="x" * 1024)["MessageId"]
    caught = sns.fails("Publish", TopicArn=TOPIC, Message="x" * 1025)
    assert (caught.code, caught.message) == ("InvalidParameter", "Invalid parameter: Message too long")


def test_the_notifier_publishes_for_other_capabilities(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    message_id = sns.run(
        sns.notifier.publish(PARTITION, TOPIC, 'ALARM: "cpu" in EU (Ireland)', '{"AlarmName":"cpu"}')
    )
    sns.deliver()
    (notification,) = notifications(sns)
    assert (
        notification["MessageId"] == message_id and notification["Subject"] == 'ALARM: "cpu" in EU (Ireland)'
    )
    sns("DeleteTopic", TopicArn=TOPIC)
    with pytest.raises(NotifyRuleError) as caught:
        sns.run(sns.notifier.publish(PARTITION, TOPIC, None, "gone"))
    assert (caught.value.code, caught.value.message) == ("NotFound", "Topic does not exist")
    with pytest.raises(NotifyRuleError) as caught:
        sns.run(sns.notifier.publish(("999999999999", REGION), TOPIC, None, "not mine"))
    assert caught.value.code == "AuthorizationError"


# ---- the worker ------------------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_on_the_default_schedule_then_delivered(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    sns.poster.answers = [HttpAnswer(500), HttpAnswer(None, "refused")]
    sns("Publish", TopicArn=TOPIC, Message="persistent")
    assert sns.deliver() == 1  # 500
    assert sns.deliver() == 0  # the next attempt is 20 s away
    sns.clock.advance(19.9)
    assert sns.deliver() == 0
    sns.clock.advance(0.1)
    assert sns.deliver() == 1  # no answer
    sns.clock.advance(20)
    assert sns.deliver() == 1  # 200
    sns.clock.advance(3600)
    assert sns.deliver() == 0
    assert [n["Message"] for n in notifications(sns)] == ["persistent"] * 3
    assert len({n["MessageId"] for n in notifications(sns)}) == 1  # a retry keeps the message's id


def test_a_delivery_is_given_up_after_its_retries(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    sns.poster.answers = [HttpAnswer(503)] * 10
    sns("Publish", TopicArn=TOPIC, Message="doomed")
    for _ in range(4):  # the first attempt and 3 retries
        assert sns.deliver() == 1
        sns.clock.advance(20)
    assert sns.deliver() == 0
    assert len(notifications(sns)) == 4


def test_client_errors_are_not_retried(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    sns.poster.answers = [HttpAnswer(404)]
    sns("Publish", TopicArn=TOPIC, Message="nobody home")
    assert sns.deliver() == 1
    sns.clock.advance(3600)
    assert sns.deliver() == 0


def test_a_subscription_s_delivery_policy_sets_its_schedule(sns: Sns) -> None:
    sns.topic()
    retry = {"numRetries": 2, "numNoDelayRetries": 1, "minDelayTarget": 5, "maxDelayTarget": 5}
    policy = json.dumps({"healthyRetryPolicy": retry})
    sns.confirmed_http(TOPIC, DeliveryPolicy=policy)
    sns.poster.answers = [HttpAnswer(500)] * 3
    sns("Publish", TopicArn=TOPIC, Message="m")
    assert sns.deliver() == 1
    assert sns.deliver() == 1  # the immediate retry
    assert sns.deliver() == 0
    sns.clock.advance(5)
    assert sns.deliver() == 1
    sns.clock.advance(3600)
    assert sns.deliver() == 0


def test_a_throttled_subscription_gets_one_delivery_per_interval(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC, DeliveryPolicy='{"throttlePolicy": {"maxReceivesPerSecond": 2}}')
    sns.clock.advance(1)  # the confirmation request counted too
    for i in range(3):
        sns("Publish", TopicArn=TOPIC, Message=f"m{i}")
    sns.deliver()
    assert len(notifications(sns)) == 1
    sns.clock.advance(0.5)
    sns.deliver()
    sns.clock.advance(0.5)
    sns.deliver()
    assert [n["Message"] for n in notifications(sns)] == ["m0", "m1", "m2"]


def test_an_unwritable_mailbox_is_retried(sns: Sns, tmp_path: Path) -> None:
    (tmp_path / "mailboxes").write_text("a file where the mailbox directory belongs")
    sns.topic()
    sns("Subscribe", TopicArn=TOPIC, Protocol="email-json", Endpoint="ops@example.com")
    assert sns.deliver() == 1
    (tmp_path / "mailboxes").unlink()
    sns.clock.advance(10)
    assert sns.deliver() == 1
    (confirmation,) = mailbox.mbox(tmp_path / "mailboxes" / "ops@example.com.mbox")
    assert json.loads(text_of(confirmation))["Type"] == "SubscriptionConfirmation"


def test_the_worker_loop_delivers_as_soon_as_it_is_woken(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)

    async def scenario() -> None:
        worker = asyncio.create_task(sns.deliveries.run())
        try:
            handler = sns.handlers["Publish"]
            from ecsbox.aws.context import RequestContext

            ctx = RequestContext(
                ACCOUNT, REGION, "sns", "Publish", "r", "AKID", f"arn:aws:iam::{ACCOUNT}:root"
            )
            await handler(ctx, {"TopicArn": TOPIC, "Message": "now"})
            async with asyncio.timeout(0.8):  # sooner than the worker's one-second poll
                while not notifications(sns):
                    await asyncio.sleep(0.01)
        finally:
            worker.cancel()

    sns.run(scenario())
    assert notifications(sns)[0]["Message"] == "now"


def test_many_subscriptions_are_all_reached(sns: Sns) -> None:
    sns.topic()
    hooks = [f"http://127.0.0.1:{9000 + i}/" for i in range(7)]  # more than are signed on the loop
    for hook in hooks:
        sns.confirmed_http(TOPIC, hook)
    sns("Publish", TopicArn=TOPIC, Message="everyone")
    sns.deliver()
    assert sorted(p.url for p in sns.poster.of_type("Notification")) == sorted(hooks)


def test_a_client_that_breaks_is_retried_on_the_schedule(sns: Sns) -> None:
    sns.topic()
    sns.confirmed_http(TOPIC)
    calls: list[str] = []

    async def broken(url: str, headers: object, body: bytes, timeout_s: float) -> HttpAnswer:
        calls.append(url)
        raise RuntimeError("a bug")

    sns.deliveries.poster = broken
    sns("Publish", TopicArn=TOPIC, Message="m")
    assert sns.deliver() == 1
    assert sns.deliver() == 0  # not again at once
    sns.clock.advance(20)
    assert sns.deliver() == 1 and len(calls) == 2
