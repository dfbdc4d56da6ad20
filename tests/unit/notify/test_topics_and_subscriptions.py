"""Topics and subscriptions on a real store with a FakeClock: every operation, AWS's answers and
errors, the confirmation flow, unsubscribing and restoring, paging, tags, housekeeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.notify.support import ACCOUNT, HOOK, REGION, Sns, open_sns

from ecsbox.notify.model import PENDING_CONFIRMATION_ARN

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"


@pytest.fixture()
def sns(tmp_path: Path) -> Iterator[Sns]:
    yield from open_sns(tmp_path)


def error(sns: Sns, operation: str, **params: object) -> tuple[str, str]:
    caught = sns.fails(operation, **params)
    return caught.code, caught.message


# ---- topics ----------------------------------------------------------------------------------------


def test_create_topic_is_idempotent_for_the_same_name_attributes_and_tags(sns: Sns) -> None:
    tags = [{"Key": "team", "Value": "ops"}]
    assert sns.topic(Attributes={"DisplayName": "Ops"}, Tags=tags) == TOPIC
    assert sns.topic(Attributes={"DisplayName": "Ops"}, Tags=tags) == TOPIC
    assert sns.topic() == TOPIC  # no attributes asked for: the existing topic
    assert error(sns, "CreateTopic", Name="alarms", Attributes={"DisplayName": "Dev"}) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )
    assert error(sns, "CreateTopic", Name="alarms", Tags=[{"Key": "team", "Value": "dev"}]) == (
        "InvalidParameter",
        "Invalid parameter: Tags Reason: Topic already exists with different tags",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Name": "has space"}, "Invalid parameter: Topic Name"),
        ({"Name": "x" * 257}, "Invalid parameter: Topic Name"),
        ({"Name": "orders.fifo"}, "Invalid parameter: Topic Name"),
        ({"Name": "orders", "Attributes": {"FifoTopic": "true"}},
         "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and "
         "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."),
        ({"Name": "orders.fifo", "Attributes": {"FifoTopic": "true"}},
         "Invalid parameter: FifoTopic Reason: ecsbox serves standard topics only: FIFO topics deliver only to "
         "Amazon SQS queues, which ecsbox does not run"),
        ({"Name": "t", "Attributes": {"Colour": "red"}}, "Invalid parameter: AttributeName"),
        ({"Name": "t", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]},
         "Invalid parameter: Duplicated keys are not allowed."),
        ({"Name": "t", "Tags": [{"Key": "aws:x", "Value": "1"}]},
         "Invalid parameter: Tag keys must not start with 'aws:'"),
    ],
)  # fmt: skip
def test_create_topic_refusals(sns: Sns, params: dict[str, object], message: str) -> None:
    assert error(sns, "CreateTopic", **params) == ("InvalidParameter", message)


def test_list_topics_pages_by_a_hundred(sns: Sns) -> None:
    names = [f"t{i:03d}" for i in range(205)]
    for name in names:
        sns.topic(name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = sns("ListTopics", **({"NextToken": token} if token else {}))
        seen += [t["TopicArn"].rpartition(":")[2] for t in page["Topics"]]
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert (seen, pages) == (names, 3)
    assert error(sns, "ListTopics", NextToken="garbage") == (
        "InvalidParameter",
        "Invalid parameter: NextToken",
    )
    assert sns("ListTopics", account="999999999999")["Topics"] == []  # accounts are partitions


def test_topic_attributes(sns: Sns) -> None:
    sns.topic()
    sns("SetTopicAttributes", TopicArn=TOPIC, AttributeName="DisplayName", AttributeValue="Ops")
    sns("SetTopicAttributes", TopicArn=TOPIC, AttributeName="SignatureVersion", AttributeValue="2")
    attributes = sns("GetTopicAttributes", TopicArn=TOPIC)["Attributes"]
    assert (attributes["DisplayName"], attributes["SignatureVersion"], attributes["Owner"]) == (
        "Ops",
        "2",
        ACCOUNT,
    )
    assert attributes["TopicArn"] == TOPIC and attributes["SubscriptionsConfirmed"] == "0"
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    assert error(sns, "GetTopicAttributes", TopicArn=missing) == ("NotFound", "Topic does not exist")
    assert error(
        sns, "SetTopicAttributes", TopicArn=missing, AttributeName="DisplayName", AttributeValue="x"
    ) == (
        "NotFound",
        "Topic does not exist",
    )
    assert error(sns, "GetTopicAttributes", TopicArn="alarms") == (
        "InvalidParameter",
        "Invalid parameter: TopicArn",
    )
    other_region = TOPIC.replace(REGION, "us-east-1")
    assert error(sns, "GetTopicAttributes", TopicArn=other_region) == (
        "InvalidParameter",
        "Invalid parameter: TopicArn",
    )
    other_account = TOPIC.replace(ACCOUNT, "999999999999")
    assert error(sns, "GetTopicAttributes", TopicArn=other_account) == (
        "AuthorizationError",
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: SNS:GetTopicAttributes on resource: "
        f"{other_account}",
    )


def test_delete_topic_is_idempotent_and_takes_subscriptions_deliveries_and_tags(sns: Sns) -> None:
    sns.topic(Tags=[{"Key": "team", "Value": "ops"}])
    sns.confirmed_http(TOPIC)
    sns("Publish", TopicArn=TOPIC, Message="never delivered")
    sns("DeleteTopic", TopicArn=TOPIC)
    sns("DeleteTopic", TopicArn=TOPIC)
    assert sns("ListSubscriptions")["Subscriptions"] == []
    assert sns.deliver() == 0
    sns.topic()  # the same name again: a new topic, no tags, no subscriptions
    assert sns("ListTagsForResource", ResourceArn=TOPIC)["Tags"] == []
    assert sns("ListSubscriptionsByTopic", TopicArn=TOPIC)["Subscriptions"] == []


def test_tags(sns: Sns) -> None:
    sns.topic(Tags=[{"Key": "b", "Value": "2"}])
    sns("TagResource", ResourceArn=TOPIC, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "3"}])
    assert sns("ListTagsForResource", ResourceArn=TOPIC)["Tags"] == [
        {"Key": "b", "Value": "3"},
        {"Key": "a", "Value": "1"},
    ]
    sns("UntagResource", ResourceArn=TOPIC, TagKeys=["b", "never-there"])
    assert sns("ListTagsForResource", ResourceArn=TOPIC)["Tags"] == [{"Key": "a", "Value": "1"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert error(sns, "TagResource", ResourceArn=TOPIC, Tags=many) == (
        "TagLimitExceeded",
        "Could not complete request: tag quota of per resource exceeded",
    )
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    for operation, extra in (
        ("TagResource", {"Tags": [{"Key": "a", "Value": "1"}]}),
        ("UntagResource", {"TagKeys": ["a"]}),
        ("ListTagsForResource", {}),
    ):
        assert error(sns, operation, ResourceArn=missing, **extra) == (
            "ResourceNotFound",
            "Resource does not exist",
        )


# ---- subscribing and confirming --------------------------------------------------------------------


def test_the_confirmation_flow(sns: Sns) -> None:
    sns.topic()
    answer = sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK)
    assert answer == {"SubscriptionArn": PENDING_CONFIRMATION_ARN}
    (pending,) = sns("ListSubscriptionsByTopic", TopicArn=TOPIC)["Subscriptions"]
    assert pending == {
        "SubscriptionArn": "PendingConfirmation",
        "Owner": ACCOUNT,
        "Protocol": "http",
        "Endpoint": HOOK,
        "TopicArn": TOPIC,
    }
    assert sns("GetTopicAttributes", TopicArn=TOPIC)["Attributes"]["SubscriptionsPending"] == "1"
    assert sns.deliver() == 1
    (posted,) = sns.poster.posted
    confirmation = posted.document
    assert posted.url == HOOK and confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["SubscribeURL"] == (
        f"http://localhost:4566/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={confirmation['Token']}"
    )
    arn = sns("ConfirmSubscription", TopicArn=TOPIC, Token=confirmation["Token"], signed=False)[
        "SubscriptionArn"
    ]
    assert arn.startswith(TOPIC + ":")
    assert sns("ConfirmSubscription", TopicArn=TOPIC, Token=confirmation["Token"])["SubscriptionArn"] == arn
    attributes = sns("GetSubscriptionAttributes", SubscriptionArn=arn)["Attributes"]
    assert (attributes["PendingConfirmation"], attributes["ConfirmationWasAuthenticated"]) == (
        "false",
        "false",
    )
    counts = sns("GetTopicAttributes", TopicArn=TOPIC)["Attributes"]
    assert (counts["SubscriptionsConfirmed"], counts["SubscriptionsPending"]) == ("1", "0")
    assert sns("ListSubscriptions")["Subscriptions"][0]["SubscriptionArn"] == arn


def test_subscribe_again(sns: Sns) -> None:
    sns.topic()
    first = sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK, ReturnSubscriptionArn=True)
    again = sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK, ReturnSubscriptionArn=True)
    assert first == again and first["SubscriptionArn"].startswith(TOPIC + ":")
    sns.deliver()
    tokens = {p.document["Token"] for p in sns.poster.of_type("SubscriptionConfirmation")}
    assert len(sns.poster.posted) == 2 and len(tokens) == 1  # the request is sent again, same token
    sns("ConfirmSubscription", TopicArn=TOPIC, Token=tokens.pop())
    assert sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK) == first  # confirmed: its ARN
    assert sns.deliver() == 0
    assert error(sns, "Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK,
                 Attributes={"RawMessageDelivery": "true"}) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:eu-west-1:123456789012:q"}, "InvalidParameter",
         "Invalid parameter: Protocol Reason: ecsbox delivers to http, https, email and email-json endpoints; "
         "sqs delivers to Amazon SQS queues, which ecsbox does not run"),
        ({"Protocol": "http", "Endpoint": "ftp://x/"}, "InvalidParameter",
         "Invalid parameter: Endpoint must match the specified protocol"),
        ({"Protocol": "email", "Endpoint": "nobody"}, "InvalidParameter", "Invalid parameter: Email address"),
        ({"Protocol": "email", "Endpoint": "a@b.co", "Attributes": {"RawMessageDelivery": "true"}},
         "InvalidParameter", "Invalid parameter: Delivery protocol [email] does not support raw message delivery."),
        ({"Protocol": "http", "Endpoint": HOOK, "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"}, "NotFound",
         "Topic does not exist"),
    ],
)  # fmt: skip
def test_subscribe_refusals(sns: Sns, params: dict[str, object], code: str, message: str) -> None:
    sns.topic()
    assert error(sns, "Subscribe", **{"TopicArn": TOPIC, **params}) == (code, message)


def test_confirm_refusals(sns: Sns) -> None:
    sns.topic()
    sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK)
    sns.deliver()
    token = sns.poster.posted[0].document["Token"]
    assert error(sns, "ConfirmSubscription", TopicArn=TOPIC, Token="0" * 256) == (
        "InvalidParameter",
        "Invalid parameter: Token",
    )
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    assert error(sns, "ConfirmSubscription", TopicArn=missing, Token=token) == (
        "NotFound",
        "Topic does not exist",
    )
    sns.clock.advance(2 * 86_400 + 1)  # tokens are valid for two days
    assert error(sns, "ConfirmSubscription", TopicArn=TOPIC, Token=token) == (
        "InvalidParameter",
        "Invalid parameter: Token",
    )


def test_pending_subscriptions_go_after_48_hours(sns: Sns) -> None:
    sns.topic()
    sns("Subscribe", TopicArn=TOPIC, Protocol="email", Endpoint="ops@example.com")
    sns.clock.advance(47 * 3600)
    assert sns.run(sns.deliveries.housekeep()) == 0
    sns.clock.advance(2 * 3600)
    assert sns.run(sns.deliveries.housekeep()) == 1
    assert sns("ListSubscriptions")["Subscriptions"] == []


# ---- unsubscribing ---------------------------------------------------------------------------------


def test_the_owner_unsubscribes_quietly_and_for_good(sns: Sns) -> None:
    sns.topic()
    arn = sns.confirmed_http(TOPIC)
    sns("Publish", TopicArn=TOPIC, Message="queued")
    sns("Unsubscribe", SubscriptionArn=arn)
    sns("Unsubscribe", SubscriptionArn=arn)  # idempotent
    assert sns.deliver() == 0  # the queued notification went with it, and no farewell is sent
    assert sns("ListSubscriptions")["Subscriptions"] == []
    assert error(sns, "GetSubscriptionAttributes", SubscriptionArn=arn) == (
        "NotFound",
        "Subscription does not exist",
    )


def test_the_unsubscribe_link_sends_a_farewell_that_can_restore_the_subscription(sns: Sns) -> None:
    sns.topic()
    arn = sns.confirmed_http(TOPIC)
    sns("Unsubscribe", SubscriptionArn=arn, signed=False)  # a GET of the UnsubscribeURL
    assert sns("GetTopicAttributes", TopicArn=TOPIC)["Attributes"]["SubscriptionsDeleted"] == "1"
    sns.deliver()
    (farewell,) = sns.poster.of_type("UnsubscribeConfirmation")
    assert farewell.headers["x-amz-sns-subscription-arn"] == arn
    assert farewell.document["Message"] == (
        f"You have chosen to deactivate subscription {arn}.\n"
        "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
    )
    sns("Publish", TopicArn=TOPIC, Message="not for the unsubscribed")
    assert sns.deliver() == 0
    assert sns("ConfirmSubscription", TopicArn=TOPIC, Token=farewell.document["Token"], signed=False) == {
        "SubscriptionArn": arn
    }
    sns("Publish", TopicArn=TOPIC, Message="for the restored")
    sns.deliver()
    assert sns.poster.posted[-1].document["Message"] == "for the restored"


def test_authenticate_on_unsubscribe(sns: Sns) -> None:
    sns.topic()
    sns("Subscribe", TopicArn=TOPIC, Protocol="http", Endpoint=HOOK)
    sns.deliver()
    token = sns.poster.posted[0].document["Token"]
    arn = sns("ConfirmSubscription", TopicArn=TOPIC, Token=token, AuthenticateOnUnsubscribe="true")[
        "SubscriptionArn"
    ]
    assert sns("GetSubscriptionAttributes", SubscriptionArn=arn)["Attributes"][
        "ConfirmationWasAuthenticated"
    ] == ("true")
    assert error(sns, "Unsubscribe", SubscriptionArn=arn, signed=False) == (
        "AuthorizationError",
        f"User: anonymous is not authorized to perform: SNS:Unsubscribe on resource: {arn}",
    )
    assert error(sns, "Unsubscribe", SubscriptionArn=arn, account="999999999999")[0] == "AuthorizationError"
    sns("Unsubscribe", SubscriptionArn=arn)
    assert sns("ListSubscriptions")["Subscriptions"] == []


def test_unsubscribe_refusals(sns: Sns) -> None:
    assert error(sns, "Unsubscribe", SubscriptionArn="pending confirmation") == (
        "InvalidParameter",
        "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1",
    )
    assert error(sns, "Unsubscribe", SubscriptionArn=TOPIC) == (
        "InvalidParameter",
        "Invalid parameter: SubscriptionId",
    )
    sns(
        "Unsubscribe", SubscriptionArn=TOPIC + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"
    )  # never there: no error


# ---- subscription attributes and listings ----------------------------------------------------------


def test_subscription_attributes(sns: Sns) -> None:
    sns.topic()
    arn = sns.confirmed_http(TOPIC)
    sns(
        "SetSubscriptionAttributes",
        SubscriptionArn=arn,
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )
    policy = '{"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 1}}'
    sns(
        "SetSubscriptionAttributes",
        SubscriptionArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=policy,
    )
    attributes = sns("GetSubscriptionAttributes", SubscriptionArn=arn)["Attributes"]
    assert attributes["RawMessageDelivery"] == "true" and attributes["DeliveryPolicy"] == policy
    assert json.loads(attributes["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 5
    assert error(
        sns, "SetSubscriptionAttributes", SubscriptionArn=arn, AttributeName="Colour", AttributeValue="x"
    ) == (
        "InvalidParameter",
        "Invalid parameter: AttributeName",
    )
    gone = TOPIC + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"
    assert error(sns, "SetSubscriptionAttributes", SubscriptionArn=gone, AttributeName="RawMessageDelivery",
                 AttributeValue="true") == ("NotFound", "Subscription does not exist")  # fmt: skip


def test_list_subscriptions_pages_by_a_hundred(sns: Sns) -> None:
    sns.topic()
    for i in range(130):
        sns("Subscribe", TopicArn=TOPIC, Protocol="email", Endpoint=f"user{i}@example.com")
    first = sns("ListSubscriptions")
    second = sns("ListSubscriptions", NextToken=first["NextToken"])
    assert (len(first["Subscriptions"]), len(second["Subscriptions"]), "NextToken" in second) == (
        100,
        30,
        False,
    )
    by_topic = sns("ListSubscriptionsByTopic", TopicArn=TOPIC)
    assert len(by_topic["Subscriptions"]) == 100 and "NextToken" in by_topic
    assert error(sns, "ListSubscriptionsByTopic", TopicArn=TOPIC, NextToken=first["NextToken"]) == (
        "InvalidParameter",
        "Invalid parameter: NextToken",
    )  # a token of another listing
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    assert error(sns, "ListSubscriptionsByTopic", TopicArn=missing) == ("NotFound", "Topic does not exist")
