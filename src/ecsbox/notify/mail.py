"""Email deliveries as local mailbox files: the mails SNS sends (confirmation requests and
notifications, for ``email`` and ``email-json`` subscriptions) written as mbox entries, one mailbox
file per address. Pure: the delivery worker appends what this module formats.

>>> mailbox_file_name("Ops.Team+alerts@Example.com")
'ops.team+alerts@example.com.mbox'
>>> print(mbox_entry(MailHeaders("AWS Notifications", "ops@example.com", "AWS Notification Message",
...                              "m-1"), "From now on\\nall is well", 1_700_000_000.0), end="")
From no-reply@sns.amazonaws.com Tue Nov 14 22:13:20 2023
From: AWS Notifications <no-reply@sns.amazonaws.com>
To: ops@example.com
Subject: AWS Notification Message
Date: Tue, 14 Nov 2023 22:13:20 +0000
Message-ID: <m-1@sns.amazonaws.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit
<BLANKLINE>
>From now on
all is well
<BLANKLINE>
"""

from __future__ import annotations

import datetime
import email.utils
import re
from dataclasses import dataclass
from email.header import Header

SENDER_ADDRESS = "no-reply@sns.amazonaws.com"
SENDER_NAME = "AWS Notifications"
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"
DEFAULT_SUBJECT = "AWS Notification Message"

_UNSAFE = re.compile(r"[^a-z0-9@._+-]")
_FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)


@dataclass(frozen=True)
class MailHeaders:
    sender_name: str
    to: str
    subject: str
    message_id: str


def mailbox_file_name(address: str) -> str:
    """The mailbox file of an address (lower-cased; anything unusual becomes ``_``)."""
    return _UNSAFE.sub("_", address.lower()) + ".mbox"


def confirmation_text(topic_arn: str, subscribe_url: str) -> str:
    """The body of the confirmation request an ``email`` endpoint receives."""
    return (
        "You have chosen to subscribe to the topic: \n"
        f"{topic_arn}\n\n"
        "To confirm this subscription, click or visit the link below (If this was in error no action is necessary): \n"
        f"{subscribe_url}\n\n"
        "Please do not reply directly to this email. If you wish to remove yourself from receiving all future "
        "SNS subscription confirmation requests please send an email to sns-opt-out\n"
    )


def notification_text(message: str, unsubscribe_url: str) -> str:
    """The body of a notification to an ``email`` endpoint: the message and AWS's footer."""
    return (
        f"{message}\n\n"
        "--\n"
        "If you wish to stop receiving notifications from this topic, please click or visit the link below "
        "to unsubscribe:\n"
        f"{unsubscribe_url}\n\n"
        "Please do not reply directly to this email. If you have any questions or comments regarding this "
        "email, please contact us at https://aws.amazon.com/support\n"
    )


def _header_text(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _from_line_date(moment: datetime.datetime) -> str:
    return f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Y}"


def mbox_entry(headers: MailHeaders, body: str, now: float) -> str:
    """One mail as an mbox entry: the ``From`` separator line, headers, the body with lines that
    start with ``From `` quoted (``>From ``), and the blank line that ends it."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    sender = email.utils.formataddr((headers.sender_name, SENDER_ADDRESS), charset="utf-8")
    lines = [
        f"From {SENDER_ADDRESS} {_from_line_date(moment)}",
        f"From: {sender}",
        f"To: {headers.to}",
        f"Subject: {_header_text(headers.subject)}",
        f"Date: {email.utils.format_datetime(moment)}",
        f"Message-ID: <{headers.message_id}@sns.amazonaws.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "",
    ]
    text = body.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return "\n".join(lines) + "\n" + _FROM_LINE.sub(r">\1", text) + "\n"
