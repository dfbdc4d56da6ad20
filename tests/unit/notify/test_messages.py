"""What SNS sends: the JSON documents and their signatures, Publish's checks, the HTTP requests and
the mails, field by field."""

from __future__ import annotations

import base64
import json
import mailbox
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.unit.notify.support import signer, text_of

from ecsbox.notify.envelopes import Target, confirmation_delivery, notification_delivery
from ecsbox.notify.mail import MailHeaders, mailbox_file_name, mbox_entry
from ecsbox.notify.messages import (
    SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION,
    Urls,
    aws_json,
    canonical_string,
    confirmation_document,
    notification_document,
    subscribe_message,
    timestamp,
)
from ecsbox.notify.model import NotifyRuleError
from ecsbox.notify.publish_rules import (
    Attributes,
    OutgoingMessage,
    check_attribute,
    check_publish,
    check_size,
    message_size,
)

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
SUB = TOPIC + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"
URLS = Urls("http://localhost:4566")
NOW = 1_700_000_000.123


def verify(document: dict[str, str]) -> None:
    """Check a document's Signature the way SNS's own SDK validators do."""
    key = x509.load_pem_x509_certificate(signer().certificate_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    algorithm = hashes.SHA256() if document["SignatureVersion"] == "2" else hashes.SHA1()
    signature = base64.b64decode(document["Signature"])
    key.verify(signature, canonical_string(document).encode(), padding.PKCS1v15(), algorithm)


def test_timestamps_are_iso_8601_with_milliseconds() -> None:
    assert timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert timestamp(NOW) == "2023-11-14T22:13:20.123Z"


def test_a_notification_document_in_aws_s_order_and_layout() -> None:
    document = notification_document(
        "m-1", TOPIC, "CPU", "line 1\nline \"2\"", NOW, SUB, {"k": ("Number", "1")},
        version="1", sign=signer().sign, urls=URLS,
    )  # fmt: skip
    assert list(document) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
        "SigningCertURL", "UnsubscribeURL", "MessageAttributes",
    ]  # fmt: skip
    assert document["SigningCertURL"] == "http://localhost:4566/_ecsbox/sns/SimpleNotificationService.pem"
    assert document["UnsubscribeURL"] == f"http://localhost:4566/?Action=Unsubscribe&SubscriptionArn={SUB}"
    verify(document)
    text = aws_json(document)
    assert json.loads(text) == document
    assert text.startswith('{\n  "Type" : "Notification",\n  "MessageId" : "m-1",\n')
    assert '"Message" : "line 1\\nline \\"2\\""' in text
    assert text.endswith('  "MessageAttributes" : {\n    "k" : {"Type":"Number","Value":"1"}\n  }\n}')


def test_a_notification_without_subject_or_attributes_leaves_them_out_and_signs_without_subject() -> None:
    document = notification_document(
        "m-2", TOPIC, None, "hi", NOW, SUB, {}, version="2", sign=signer().sign, urls=URLS
    )
    assert "Subject" not in document and "MessageAttributes" not in document
    assert canonical_string(document) == (
        f"Message\nhi\nMessageId\nm-2\nTimestamp\n{timestamp(NOW)}\nTopicArn\n{TOPIC}\nType\nNotification\n"
    )
    verify(document)  # SignatureVersion 2: SHA256withRSA


@pytest.mark.parametrize("kind", [SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION])
def test_confirmation_documents(kind: str) -> None:
    document = confirmation_document(
        kind, "m-3", "tok", TOPIC, subscribe_message(TOPIC), NOW, version="1", sign=signer().sign, urls=URLS
    )
    assert list(document) == [
        "Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertURL",
    ]  # fmt: skip
    assert document["Message"] == (
        f"You have chosen to subscribe to the topic {TOPIC}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    assert (
        document["SubscribeURL"]
        == f"http://localhost:4566/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok"
    )
    assert canonical_string(document) == "".join(
        f"{name}\n{document[name]}\n"
        for name in ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    )
    verify(document)


def test_a_tampered_document_does_not_verify() -> None:
    document = notification_document(
        "m-4", TOPIC, None, "pay 10", NOW, SUB, {}, version="1", sign=signer().sign, urls=URLS
    )
    document["Message"] = "pay 1000"
    with pytest.raises(InvalidSignature):
        verify(document)


# ---- Publish's checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (lambda: check_publish("", None, None, None), "InvalidParameter", "Invalid parameter: Empty message"),
        (lambda: check_publish("m", "", None, None), "InvalidParameter", "Invalid parameter: Subject"),
        (lambda: check_publish("m", "x" * 101, None, None), "InvalidParameter", "Invalid parameter: Subject"),
        (lambda: check_publish("m", "a\nb", None, None), "InvalidParameter", "Invalid parameter: Subject"),
        (lambda: check_publish("m", None, "xml", None), "InvalidParameter",
         "Invalid parameter: MessageStructure Reason: the only valid value is json"),
        (lambda: check_publish("{", None, "json", None), "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (lambda: check_publish('{"default": "a", "default": "b"}', None, "json", None), "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (lambda: check_publish('{"email": "a"}', None, "json", None), "InvalidParameter",
         "Invalid parameter: Message Structure - No default entry in JSON message body"),
        (lambda: check_attribute("k", {"DataType": "Date", "StringValue": "x"}), "ParameterValueInvalid",
         "The message attribute 'k' has an invalid message attribute type, the set of supported type prefixes "
         "is Binary, Number, and String."),
        (lambda: check_attribute("k", {"DataType": "String", "StringValue": ""}), "ParameterValueInvalid",
         "The message attribute 'k' must contain non-empty message attribute value for message attribute "
         "type 'String'."),
        (lambda: check_attribute("k", {"DataType": "Binary", "StringValue": "x"}), "ParameterValueInvalid",
         "The message attribute 'k' with type 'Binary' must use field 'Binary'."),
        (lambda: check_attribute("k", {"DataType": "Number", "StringValue": "ten"}), "ParameterValueInvalid",
         "Could not cast message attribute 'k' value to number."),
        (lambda: check_attribute("a..b", {"DataType": "String", "StringValue": "x"}), "ParameterValueInvalid",
         "Invalid non-alphanumeric character 'a..b' was found in the message attribute name. Can only include "
         "alphanumeric characters, hyphens, underscores, or dots."),
        (lambda: check_attribute("AWS.x", {"DataType": "String", "StringValue": "x"}), "ParameterValueInvalid",
         "Invalid non-alphanumeric character 'AWS.x' was found in the message attribute name. Can only include "
         "alphanumeric characters, hyphens, underscores, or dots."),
    ],
)  # fmt: skip
def test_what_publish_refuses(call: object, code: str, message: str) -> None:
    with pytest.raises(NotifyRuleError) as caught:
        call()  # type: ignore[operator]
    assert (caught.value.code, caught.value.message) == (code, message)


def test_what_publish_accepts() -> None:
    outgoing = check_publish(
        '{"default": "d", "http": "h", "sqs": {"not": "a string"}}',
        "S" * 100,
        "json",
        {
            "n": {"DataType": "Number.float", "StringValue": "1.5"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x01"},
        },
    )
    assert outgoing.per_protocol == {"http": "h"}  # non-string values are ignored, as AWS ignores them
    assert outgoing.attributes == {"n": ("Number.float", "1.5"), "b": ("Binary", b"\x01")}
    assert check_publish("m", "Ünïcode subject", None, None).subject == "Ünïcode subject"


def test_the_size_limit_counts_the_message_and_its_attributes() -> None:
    attributes: Attributes = {"key": ("String", "value")}
    size = message_size("x" * 100, attributes)
    assert size == 100 + 3 + 6 + 5
    check_size("x" * 100, attributes, size)
    with pytest.raises(NotifyRuleError) as caught:
        check_size("x" * 101, attributes, size)
    assert caught.value.message == "Invalid parameter: Message too long"


# ---- HTTP requests and mails -----------------------------------------------------------------------


def target(protocol: str, endpoint: str, **attributes: str) -> Target:
    return Target(SUB, TOPIC, protocol, endpoint, attributes, {"DisplayName": "Ops Alerts"})


def test_an_http_notification_carries_aws_s_headers() -> None:
    delivery = notification_delivery(
        target("http", "http://127.0.0.1:1/"),
        "m-5",
        OutgoingMessage("hi", "S"),
        NOW,
        sign=signer().sign,
        urls=URLS,
    )
    assert dict(delivery.headers) == {
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": "m-5",
        "x-amz-sns-topic-arn": TOPIC,
        "x-amz-sns-subscription-arn": SUB,
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    verify(json.loads(delivery.payload))


def test_raw_message_delivery_posts_the_bare_message() -> None:
    outgoing = OutgoingMessage("default", per_protocol={"https": "for https"})
    delivery = notification_delivery(
        target("https", "https://h/", RawMessageDelivery="true"),
        "m-6",
        outgoing,
        NOW,
        sign=signer().sign,
        urls=URLS,
    )
    assert delivery.payload == "for https"
    assert dict(delivery.headers)["x-amz-sns-rawdelivery"] == "true"


def test_a_confirmation_has_no_subscription_header_and_an_unsubscribe_confirmation_has_one() -> None:
    subscribe = confirmation_delivery(
        target("http", "http://h/"),
        SUBSCRIPTION_CONFIRMATION,
        "m",
        "tok",
        "msg",
        NOW,
        sign=signer().sign,
        urls=URLS,
    )
    assert "x-amz-sns-subscription-arn" not in dict(subscribe.headers)
    farewell = confirmation_delivery(
        target("http", "http://h/"),
        UNSUBSCRIBE_CONFIRMATION,
        "m",
        "tok",
        "msg",
        NOW,
        sign=signer().sign,
        urls=URLS,
    )
    assert dict(farewell.headers)["x-amz-sns-subscription-arn"] == SUB


def read_mailbox(tmp_path: Path, *entries: str) -> list[mailbox.mboxMessage]:
    path = tmp_path / "box.mbox"
    path.write_text("".join(entries), encoding="utf-8")
    return list(mailbox.mbox(path))


def test_emails_are_mbox_entries_python_s_mailbox_reads(tmp_path: Path) -> None:
    plain = notification_delivery(
        target("email", "ops@example.com"), "m-7", OutgoingMessage("From the\nboard", "Ünïcode"), NOW,
        sign=signer().sign, urls=URLS,
    )  # fmt: skip
    as_json = notification_delivery(
        target("email-json", "ops@example.com"),
        "m-8",
        OutgoingMessage("hi"),
        NOW,
        sign=signer().sign,
        urls=URLS,
    )
    confirm = confirmation_delivery(
        target("email", "ops@example.com"), SUBSCRIPTION_CONFIRMATION, "m-9", "tok", "msg", NOW,
        sign=signer().sign, urls=URLS,
    )  # fmt: skip
    first, second, third = read_mailbox(tmp_path, plain.payload, as_json.payload, confirm.payload)
    assert first["From"] == "Ops Alerts <no-reply@sns.amazonaws.com>"  # the topic's DisplayName
    assert str(make_header(decode_header(first["Subject"]))) == "Ünïcode"
    body = text_of(first)
    # mbox quotes a body line that starts "From " (readers of mboxrd take the ">" off again)
    assert body.startswith(">From the\nboard\n\n--\nIf you wish to stop receiving notifications")
    assert f"http://localhost:4566/?Action=Unsubscribe&SubscriptionArn={SUB}" in body
    assert second["Subject"] == "AWS Notification Message"
    verify(json.loads(text_of(second)))
    assert third["From"] == "AWS Notifications <no-reply@sns.amazonaws.com>"
    assert third["Subject"] == "AWS Notification - Subscription Confirmation"
    assert f"TopicArn={TOPIC}&Token=tok" in text_of(third)


def test_lines_that_look_like_mbox_separators_are_quoted() -> None:
    entry = mbox_entry(MailHeaders("AWS Notifications", "a@b.c", "s", "id"), "From me\n>From you\nFrom", 0.0)
    assert entry.startswith("From no-reply@sns.amazonaws.com Thu Jan  1 00:00:00 1970\n")
    assert "\n>From me\n>>From you\nFrom\n\n" in entry  # "From" alone separates nothing


@pytest.mark.parametrize(
    ("address", "file_name"),
    [("ops@example.com", "ops@example.com.mbox"), ("A.B+c@Ex.com", "a.b+c@ex.com.mbox"),
     ("o'neil@x.io", "o_neil@x.io.mbox")],
)  # fmt: skip
def test_mailbox_file_names(address: str, file_name: str) -> None:
    assert mailbox_file_name(address) == file_name
