"""SNS through real clients (boto3 and the AWS CLI) against a live ecsbox, with real endpoints on
127.0.0.1: an HTTP server that receives the confirmation request, confirms by GETting its
SubscribeURL, then receives notifications whose signatures verify against the certificate ecsbox
serves; raw delivery; unsubscribing; email-json and email into mailbox files; retries; every error
case; and a pending delivery that outlives a restart."""

from __future__ import annotations

import base64
import json
import mailbox
import os
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.conftest import LiveServer, start_server
from tests.contract.aws_clients import aws_client, error_of

REGION = "eu-west-1"
ACCOUNT = "000000000000"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
AWS_CLI = "/usr/bin/aws"
QUICK_RETRIES = json.dumps(
    {
        "healthyRetryPolicy": {
            "numRetries": 30,
            "minDelayTarget": 1,
            "maxDelayTarget": 1,
            "backoffFunction": "linear",
        }
    }
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document

    @property
    def type(self) -> str:
        return self.headers.get("x-amz-sns-message-type", "")


@dataclass
class Endpoint:
    """An HTTP endpoint on 127.0.0.1 that records what it is sent and answers from a script."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sns"

    def start(self) -> Endpoint:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append(Received(self.path, dict(self.headers), body.decode()))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def of_type(self, message_type: str) -> list[Received]:
        return [r for r in list(self.received) if r.type == message_type]


def wait_for(what: str, found: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout_s} s for {what}")


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    started = Endpoint().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture()
def sns(ecsbox_endpoint: str) -> Any:
    return aws_client("sns", ecsbox_endpoint, REGION)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def verify_signature(document: dict[str, Any]) -> None:
    """As SNS's SDK validators do: fetch SigningCertURL, check Signature over the canonical string."""
    _, pem = get(document["SigningCertURL"])
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    if document["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{n}\n{document[n]}\n" for n in names if n in document)
    algorithm = hashes.SHA256() if document["SignatureVersion"] == "2" else hashes.SHA1()
    key.verify(base64.b64decode(document["Signature"]), text.encode(), padding.PKCS1v15(), algorithm)


def subscribe_and_confirm(sns: Any, endpoint: Endpoint, topic_arn: str, **attributes: str) -> str:
    before = len(endpoint.of_type("SubscriptionConfirmation"))
    answer = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url, Attributes=attributes)
    assert answer["SubscriptionArn"] == "pending confirmation"
    confirmations = wait_for(
        "the confirmation request", lambda: endpoint.of_type("SubscriptionConfirmation")[before:] or None
    )
    status, xml = get(confirmations[-1].document["SubscribeURL"])
    assert status == 200 and b"<ConfirmSubscriptionResponse" in xml
    (arn,) = [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
              if s["Endpoint"] == endpoint.url]  # fmt: skip
    assert arn.startswith(topic_arn + ":")
    return str(arn)


# ---- HTTP endpoints --------------------------------------------------------------------------------


def test_an_http_endpoint_confirms_and_receives_signed_notifications(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="alarms")["TopicArn"]
    assert topic_arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url)
    (confirmation,) = wait_for("the confirmation", lambda: endpoint.of_type("SubscriptionConfirmation"))
    assert confirmation.path == "/sns"
    assert confirmation.headers["x-amz-sns-topic-arn"] == topic_arn
    assert "x-amz-sns-subscription-arn" not in confirmation.headers
    assert confirmation.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert confirmation.headers["User-Agent"] == "Amazon Simple Notification Service Agent"
    document = confirmation.document
    assert document["Message"] == (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    assert confirmation.headers["x-amz-sns-message-id"] == document["MessageId"]
    verify_signature(document)
    pending = sns.list_subscriptions()["Subscriptions"]
    assert [s["SubscriptionArn"] for s in pending] == ["PendingConfirmation"]

    status, xml = get(document["SubscribeURL"])  # a plain, unsigned GET, as an endpoint's code does it
    assert status == 200
    (subscription_arn,) = [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    assert f"<SubscriptionArn>{subscription_arn}</SubscriptionArn>".encode() in xml

    published = sns.publish(
        TopicArn=topic_arn,
        Subject="CPU alarm",
        Message="CPU above 80%\non web",
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "critical"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    (notification,) = wait_for("the notification", lambda: endpoint.of_type("Notification"))
    assert notification.headers["x-amz-sns-message-id"] == published["MessageId"]
    assert notification.headers["x-amz-sns-subscription-arn"] == subscription_arn
    body = notification.document
    assert list(body) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
        "SigningCertURL", "UnsubscribeURL", "MessageAttributes",
    ]  # fmt: skip
    assert (body["Subject"], body["Message"], body["SignatureVersion"]) == (
        "CPU alarm",
        "CPU above 80%\non web",
        "1",
    )
    assert body["MessageAttributes"] == {
        "severity": {"Type": "String", "Value": "critical"},
        "blob": {"Type": "Binary", "Value": "AP8="},
    }
    assert body["Timestamp"].endswith("Z") and len(body["Timestamp"]) == len("2024-01-01T00:00:00.000Z")
    verify_signature(body)

    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic_arn, Message="signed with SHA256")
    second = wait_for("the second notification", lambda: endpoint.of_type("Notification")[1:])[0].document
    assert second["SignatureVersion"] == "2" and "Subject" not in second
    verify_signature(second)


def test_raw_message_delivery_posts_the_message_alone(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="raw")["TopicArn"]
    arn = subscribe_and_confirm(sns, endpoint, topic_arn)
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true"
    )
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "true"
    sns.publish(TopicArn=topic_arn, Message='{"just": "this"}')
    (raw,) = wait_for("the raw notification", lambda: endpoint.of_type("Notification"))
    assert raw.body == '{"just": "this"}'
    assert raw.headers["x-amz-sns-rawdelivery"] == "true"


def test_unsubscribing_stops_delivery(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="leaving")["TopicArn"]
    leaving = subscribe_and_confirm(sns, endpoint, topic_arn)
    sentinel = Endpoint().start()
    try:
        subscribe_and_confirm(sns, sentinel, topic_arn)
        sns.unsubscribe(SubscriptionArn=leaving)
        sns.publish(TopicArn=topic_arn, Message="after")
        wait_for("the sentinel's notification", lambda: sentinel.of_type("Notification"))
        time.sleep(0.3)
        assert endpoint.of_type("Notification") == []
        assert endpoint.of_type("UnsubscribeConfirmation") == []  # the owner's own call: no farewell
    finally:
        sentinel.stop()


def test_the_unsubscribe_url_says_farewell_and_its_subscribe_url_restores(
    sns: Any, endpoint: Endpoint
) -> None:
    topic_arn = sns.create_topic(Name="restorable")["TopicArn"]
    arn = subscribe_and_confirm(sns, endpoint, topic_arn)
    sns.publish(TopicArn=topic_arn, Message="first")
    (first,) = wait_for("the first notification", lambda: endpoint.of_type("Notification"))
    status, xml = get(first.document["UnsubscribeURL"])
    assert status == 200 and b"<UnsubscribeResponse" in xml
    (farewell,) = wait_for("the farewell", lambda: endpoint.of_type("UnsubscribeConfirmation"))
    assert farewell.headers["x-amz-sns-subscription-arn"] == arn
    verify_signature(farewell.document)
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []
    get(farewell.document["SubscribeURL"])
    sns.publish(TopicArn=topic_arn, Message="restored")
    wait_for("the notification after restoring", lambda: endpoint.of_type("Notification")[1:])


def test_a_failed_delivery_is_retried(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="flaky")["TopicArn"]
    subscribe_and_confirm(sns, endpoint, topic_arn, DeliveryPolicy=QUICK_RETRIES)
    endpoint.statuses = [500]
    message_id = sns.publish(TopicArn=topic_arn, Message="again")["MessageId"]
    attempts = wait_for(
        "the retry", lambda: endpoint.of_type("Notification")[1:] and endpoint.of_type("Notification")
    )
    assert [a.document["MessageId"] for a in attempts] == [message_id, message_id]
    time.sleep(1.5)
    assert len(endpoint.of_type("Notification")) == 2  # answered 200 the second time: done


def test_filter_policies_choose_who_hears(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="filtered")["TopicArn"]
    subscribe_and_confirm(sns, endpoint, topic_arn, FilterPolicy='{"severity": ["critical"]}')
    sns.publish(
        TopicArn=topic_arn,
        Message="quiet",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "info"}},
    )
    sns.publish(
        TopicArn=topic_arn,
        Message="loud",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "critical"}},
    )
    (only,) = wait_for("the critical notification", lambda: endpoint.of_type("Notification"))
    time.sleep(0.3)
    assert only.document["Message"] == "loud" and len(endpoint.of_type("Notification")) == 1


# ---- email -----------------------------------------------------------------------------------------


def mails(server: LiveServer, address: str) -> list[mailbox.mboxMessage]:
    path = server.data_dir / "mailboxes" / f"{address}.mbox"
    return list(mailbox.mbox(path)) if path.exists() else []


def test_email_json_lands_in_the_mailbox(sns: Any, ecsbox_server: LiveServer) -> None:
    topic_arn = sns.create_topic(Name="mailed", Attributes={"DisplayName": "Ops Alerts"})["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email-json", Endpoint="ops@example.com")
    (request,) = wait_for("the confirmation mail", lambda: mails(ecsbox_server, "ops@example.com"))
    assert request["From"] == "AWS Notifications <no-reply@sns.amazonaws.com>"
    assert request["To"] == "ops@example.com"
    assert request["Subject"] == "AWS Notification - Subscription Confirmation"
    confirmation = json.loads(request.get_payload(decode=True))
    assert confirmation["Type"] == "SubscriptionConfirmation"
    get(confirmation["SubscribeURL"])
    sns.publish(TopicArn=topic_arn, Message="to the inbox", Subject="Inbox test")
    _, notification = wait_for("the notification mail", lambda: mails(ecsbox_server, "ops@example.com")[1:] and
                               mails(ecsbox_server, "ops@example.com"))  # fmt: skip
    assert notification["From"] == "Ops Alerts <no-reply@sns.amazonaws.com>"
    assert notification["Subject"] == "Inbox test"
    document = json.loads(notification.get_payload(decode=True))
    assert (document["Type"], document["Message"]) == ("Notification", "to the inbox")
    verify_signature(document)


def test_plain_email_carries_the_message_and_aws_s_footer(sns: Any, ecsbox_server: LiveServer) -> None:
    topic_arn = sns.create_topic(Name="plain")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="Dev@Example.com")
    (request,) = wait_for("the confirmation mail", lambda: mails(ecsbox_server, "dev@example.com"))
    text = request.get_payload(decode=True).decode()
    assert text.startswith(f"You have chosen to subscribe to the topic: \n{topic_arn}\n")
    subscribe_url = next(line for line in text.splitlines() if "Action=ConfirmSubscription" in line)
    get(subscribe_url)
    sns.publish(TopicArn=topic_arn, Message="plain words")
    _, mail = wait_for("the notification mail", lambda: mails(ecsbox_server, "dev@example.com")[1:] and
                       mails(ecsbox_server, "dev@example.com"))  # fmt: skip
    assert mail["Subject"] == "AWS Notification Message"
    body = mail.get_payload(decode=True).decode()
    assert body.startswith("plain words\n\n--\nIf you wish to stop receiving notifications from this topic")
    assert "Action=Unsubscribe&SubscriptionArn=" in body


# ---- errors ----------------------------------------------------------------------------------------


def test_every_error_case(sns: Any, ecsbox_endpoint: str) -> None:
    raw = boto3.client(
        "sns", endpoint_url=ecsbox_endpoint, region_name=REGION, config=NO_VALIDATION,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    topic_arn = sns.create_topic(Name="errors")["TopicArn"]
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:missing"
    cases: list[tuple[Any, dict[str, Any], tuple[str, int, str]]] = [
        (sns.create_topic, {"Name": "bad name"}, ("InvalidParameter", 400, "Invalid parameter: Topic Name")),
        (sns.create_topic, {"Name": "o.fifo", "Attributes": {"FifoTopic": "true"}},
         ("InvalidParameter", 400, "Invalid parameter: FifoTopic Reason: ecsbox serves standard topics only: "
          "FIFO topics deliver only to Amazon SQS queues, which ecsbox does not run")),
        (sns.create_topic, {"Name": "errors", "Attributes": {"DisplayName": "other"}},
         ("InvalidParameter", 400,
          "Invalid parameter: Attributes Reason: Topic already exists with different attributes")),
        (sns.get_topic_attributes, {"TopicArn": missing}, ("NotFound", 404, "Topic does not exist")),
        (sns.get_topic_attributes, {"TopicArn": "not-an-arn"},
         ("InvalidParameter", 400, "Invalid parameter: TopicArn")),
        (sns.get_topic_attributes, {"TopicArn": topic_arn.replace(ACCOUNT, "111111111111")},
         ("AuthorizationError", 403, f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
          f"SNS:GetTopicAttributes on resource: {topic_arn.replace(ACCOUNT, '111111111111')}")),
        (sns.set_topic_attributes, {"TopicArn": topic_arn, "AttributeName": "Colour", "AttributeValue": "red"},
         ("InvalidParameter", 400, "Invalid parameter: AttributeName")),
        (sns.subscribe, {"TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"},
         ("InvalidParameter", 400, "Invalid parameter: Protocol Reason: ecsbox delivers to http, https, email and "
          "email-json endpoints; sqs delivers to Amazon SQS queues, which ecsbox does not run")),
        (sns.subscribe, {"TopicArn": topic_arn, "Protocol": "gopher", "Endpoint": "x"},
         ("InvalidParameter", 400, "Invalid parameter: Amazon SNS does not support this protocol string: gopher")),
        (sns.subscribe, {"TopicArn": topic_arn, "Protocol": "https", "Endpoint": "http://127.0.0.1/"},
         ("InvalidParameter", 400, "Invalid parameter: Endpoint must match the specified protocol")),
        (sns.subscribe, {"TopicArn": topic_arn, "Protocol": "email", "Endpoint": "nobody"},
         ("InvalidParameter", 400, "Invalid parameter: Email address")),
        (sns.subscribe, {"TopicArn": missing, "Protocol": "email", "Endpoint": "a@example.com"},
         ("NotFound", 404, "Topic does not exist")),
        (sns.confirm_subscription, {"TopicArn": topic_arn, "Token": "0" * 256},
         ("InvalidParameter", 400, "Invalid parameter: Token")),
        (sns.unsubscribe, {"SubscriptionArn": "pending confirmation"},
         ("InvalidParameter", 400, "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 "
          "elements, not 1")),
        (sns.get_subscription_attributes, {"SubscriptionArn": topic_arn + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"},
         ("NotFound", 404, "Subscription does not exist")),
        (sns.publish, {"TopicArn": missing, "Message": "m"}, ("NotFound", 404, "Topic does not exist")),
        (sns.publish, {"TopicArn": topic_arn, "Message": "m", "Subject": "two\nlines"},
         ("InvalidParameter", 400, "Invalid parameter: Subject")),
        (sns.publish, {"TopicArn": topic_arn, "Message": "x" * 262_145},
         ("InvalidParameter", 400, "Invalid parameter: Message too long")),
        (sns.publish, {"TopicArn": topic_arn, "Message": '{"email": "e"}', "MessageStructure": "json"},
         ("InvalidParameter", 400, "Invalid parameter: Message Structure - No default entry in JSON message body")),
        (sns.publish, {"TopicArn": topic_arn, "Message": "m",
                       "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "ten"}}},
         ("ParameterValueInvalid", 400, "Could not cast message attribute 'n' value to number.")),
        (sns.publish, {"PhoneNumber": "+15555550100", "Message": "m"},
         ("InvalidParameter", 400, "Invalid parameter: PhoneNumber Reason: ecsbox sends no SMS messages")),
        (raw.publish, {"TopicArn": topic_arn, "Message": ""},
         ("InvalidParameter", 400, "Invalid parameter: Empty message")),
        (sns.list_topics, {"NextToken": "garbage"}, ("InvalidParameter", 400, "Invalid parameter: NextToken")),
        (sns.tag_resource, {"ResourceArn": missing, "Tags": [{"Key": "a", "Value": "b"}]},
         ("ResourceNotFound", 404, "Resource does not exist")),
        (sns.tag_resource, {"ResourceArn": topic_arn, "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
         ("TagLimitExceeded", 400, "Could not complete request: tag quota of per resource exceeded")),
    ]  # fmt: skip
    failures = []
    for call, params, expected in cases:
        got = error_of(call, **params)
        if got != expected:
            failures.append((call.__name__, params, got))
    assert failures == []


def test_idempotent_operations(sns: Any) -> None:
    topic_arn = sns.create_topic(Name="twice", Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
    assert sns.create_topic(Name="twice", Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"] == topic_arn
    first = sns.subscribe(
        TopicArn=topic_arn, Protocol="email", Endpoint="a@example.com", ReturnSubscriptionArn=True
    )
    again = sns.subscribe(
        TopicArn=topic_arn, Protocol="email", Endpoint="a@example.com", ReturnSubscriptionArn=True
    )
    assert first["SubscriptionArn"] == again["SubscriptionArn"]
    assert (
        sns.get_subscription_attributes(SubscriptionArn=first["SubscriptionArn"])["Attributes"][
            "PendingConfirmation"
        ]
        == "true"
    )
    sns.delete_topic(TopicArn=topic_arn)
    sns.delete_topic(TopicArn=topic_arn)  # deleting what is gone is no error
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []
    assert error_of(sns.list_tags_for_resource, ResourceArn=topic_arn)[0] == "ResourceNotFound"


def test_topic_attributes_and_tags(sns: Any) -> None:
    topic_arn = sns.create_topic(Name="attrs", Attributes={"DisplayName": "Ops"})["TopicArn"]
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["DisplayName"] == "Ops" and attributes["Owner"] == ACCOUNT
    assert (
        json.loads(attributes["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"]
        == 3
    )
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == topic_arn
    sns.tag_resource(ResourceArn=topic_arn, Tags=[{"Key": "team", "Value": "ops"}])
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    sns.untag_resource(ResourceArn=topic_arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == []
    for i in range(150):
        sns.create_topic(Name=f"many-{i:03d}")
    first = sns.list_topics()
    second = sns.list_topics(NextToken=first["NextToken"])
    assert len(first["Topics"]) == 100 and len(second["Topics"]) == 51 and "NextToken" not in second


# ---- the AWS CLI -----------------------------------------------------------------------------------


def test_the_aws_cli(aws_env: dict[str, str], endpoint: Endpoint) -> None:
    if not os.path.exists(AWS_CLI):
        pytest.skip(f"no AWS CLI at {AWS_CLI}")
    env = {**aws_env, "AWS_DEFAULT_REGION": REGION}

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [AWS_CLI, "--endpoint-url", aws_env["AWS_ENDPOINT_URL"], "--output", "json", "sns", *args],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    topic_arn = aws("create-topic", "--name", "cli")["TopicArn"]
    assert aws(
        "subscribe", "--topic-arn", topic_arn, "--protocol", "http", "--notification-endpoint", endpoint.url
    ) == {"SubscriptionArn": "pending confirmation"}
    (confirmation,) = wait_for("the confirmation", lambda: endpoint.of_type("SubscriptionConfirmation"))
    token = confirmation.document["Token"]
    confirmed = aws("confirm-subscription", "--topic-arn", topic_arn, "--token", token)
    assert confirmed["SubscriptionArn"].startswith(topic_arn + ":")
    listed = aws("list-subscriptions-by-topic", "--topic-arn", topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [confirmed["SubscriptionArn"]]
    message_id = aws("publish", "--topic-arn", topic_arn, "--message", "from the CLI", "--subject", "CLI")[
        "MessageId"
    ]
    (notification,) = wait_for("the notification", lambda: endpoint.of_type("Notification"))
    assert (notification.document["MessageId"], notification.document["Message"]) == (
        message_id,
        "from the CLI",
    )
    assert (
        aws("get-topic-attributes", "--topic-arn", topic_arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    )
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", aws_env["AWS_ENDPOINT_URL"], "sns", "get-topic-attributes", "--topic-arn",
         topic_arn.replace("cli", "nope")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and "(NotFound)" in done.stderr and "Topic does not exist" in done.stderr


# ---- durability ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pending_delivery_survives_a_restart() -> None:
    """Publish while the endpoint is down, stop ecsbox, bring the endpoint back, start ecsbox again:
    the message arrives."""
    with tempfile.TemporaryDirectory(prefix="ecsbox-sns-") as tmp:
        data_dir = Path(tmp) / "data"
        env = {"ECSBOX_RUNTIME": "none"}
        target = Endpoint().start()
        server = start_server(data_dir, env=env)
        try:
            sns = aws_client("sns", server.endpoint, REGION)
            topic_arn = sns.create_topic(Name="durable")["TopicArn"]
            subscribe_and_confirm(sns, target, topic_arn, DeliveryPolicy=QUICK_RETRIES)
            target.stop()  # the endpoint is down: connections are refused
            message_id = sns.publish(TopicArn=topic_arn, Message="kept")["MessageId"]
            time.sleep(1.5)  # a failed attempt or two, then a retry is pending
        finally:
            assert server.stop() == 0
        target.start()  # the same port again
        restarted = start_server(data_dir, env=env)
        try:
            (arrived,) = wait_for("the kept message", lambda: target.of_type("Notification"), 20)
            assert (arrived.document["MessageId"], arrived.document["Message"]) == (message_id, "kept")
        finally:
            restarted.stop()
            target.stop()


def test_the_signing_certificate_is_served(ecsbox_endpoint: str) -> None:
    status, pem = get(f"{ecsbox_endpoint}/_ecsbox/sns/SimpleNotificationService.pem")
    assert status == 200 and pem.startswith(b"-----BEGIN CERTIFICATE-----")
    certificate = x509.load_pem_x509_certificate(pem)
    assert certificate.public_key().key_size >= 2048  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_links_work_where_signatures_are_checked_strictly(endpoint: Endpoint) -> None:
    """With access keys configured every call must be signed, but the SubscribeURL and the
    UnsubscribeURL are plain GETs, as on AWS, and still work."""
    with tempfile.TemporaryDirectory(prefix="ecsbox-sns-") as tmp:
        env = {"ECSBOX_RUNTIME": "none", "ECSBOX_ACCESS_KEYS": "AKIDSTRICT:s3cret"}
        server = start_server(Path(tmp) / "data", env=env)
        try:
            sns = boto3.client(
                "sns", endpoint_url=server.endpoint, region_name=REGION,
                aws_access_key_id="AKIDSTRICT", aws_secret_access_key="s3cret",
            )  # fmt: skip
            stranger = aws_client("sns", server.endpoint, REGION)  # a key ecsbox does not know
            assert error_of(stranger.list_topics)[:2] == ("UnrecognizedClientException", 403)
            topic_arn = sns.create_topic(Name="strict")["TopicArn"]
            arn = subscribe_and_confirm(sns, endpoint, topic_arn)  # GETs the SubscribeURL, unsigned
            sns.publish(TopicArn=topic_arn, Message="hi")
            (notification,) = wait_for("the notification", lambda: endpoint.of_type("Notification"))
            status, _ = get(notification.document["UnsubscribeURL"])
            assert status == 200
            wait_for("the farewell", lambda: endpoint.of_type("UnsubscribeConfirmation"))
            assert error_of(sns.get_subscription_attributes, SubscriptionArn=arn)[:2] == ("NotFound", 404)
        finally:
            server.stop()
