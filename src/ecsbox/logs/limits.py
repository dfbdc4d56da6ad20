"""PutLogEvents' rules (pure): batch size, chronological order, which events are rejected as too
old, expired or too new, and the 24-hour span (SEMANTICS §7.2).

A batch is checked in this order, as AWS answers: its size (the whole call fails), its order (the
whole call fails), then each event's age against ``now`` and the group's retention (those events
are rejected, the rest accepted), then the span of what is accepted (the whole call fails).

>>> verdict = classify([1, 2, 3], now_ms=3 + TOO_OLD_MS, retention_days=None)
>>> verdict.accepted, verdict.rejected
(range(1, 3), {'tooOldLogEventEndIndex': 1})
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from ecsbox.logs.model import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_SPAN_MS,
    MS_PER_DAY,
    NOT_CHRONOLOGICAL,
    SPAN_TOO_LONG,
    TOO_NEW_MS,
    TOO_OLD_MS,
    invalid_parameter,
)


def message_bytes(message: str) -> int:
    """UTF-8 length of a message: ``message_bytes("é")`` → 2."""
    return len(message) if message.isascii() else len(message.encode("utf-8", "surrogatepass"))


def clean_message(message: str) -> str:
    """The message as it is stored: text that is not valid Unicode (a lone surrogate, which JSON can
    carry) has U+FFFD in place of the bad code points, as CloudWatch Logs stores invalid UTF-8.
    ``clean_message("a\\ud800b")`` → ``"a\\ufffdb"``."""
    if message.isascii():
        return message
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in message)
    return message


def is_valid_text(text: str) -> bool:
    """Text a name or pattern may hold: no lone surrogates. ``is_valid_text("a\\ud800")`` → False."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def batch_bytes(messages: Sequence[str]) -> int:
    """What a batch counts against the 1,048,576-byte limit: Σ (UTF-8 bytes + 26).
    ``batch_bytes(["abc", "é"])`` → (3 + 26) + (2 + 26) = 57."""
    return sum(message_bytes(m) for m in messages) + EVENT_OVERHEAD_BYTES * len(messages)


def check_size(messages: Sequence[str]) -> int:
    """The batch's size, or InvalidParameterException worded as AWS words it."""
    for message in messages:
        size = message_bytes(message) + EVENT_OVERHEAD_BYTES
        if size > MAX_BATCH_BYTES:
            raise invalid_parameter(f"Log event too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    total = batch_bytes(messages)
    if total > MAX_BATCH_BYTES:
        raise invalid_parameter(f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}")
    return total


def check_chronological(timestamps: Sequence[int]) -> None:
    """Equal timestamps are in order; an earlier one after a later one is not."""
    if any(later < earlier for earlier, later in pairwise(timestamps)):
        raise invalid_parameter(NOT_CHRONOLOGICAL)


@dataclass(frozen=True)
class Verdict:
    """Which events of a chronological batch are kept: ``accepted`` indexes them; ``rejected`` is
    the ``rejectedLogEventsInfo`` to answer with (empty when every event is kept)."""

    accepted: range
    rejected: dict[str, int] = field(default_factory=dict)


def classify(timestamps: Sequence[int], now_ms: int, retention_days: int | None) -> Verdict:
    """Sort a chronological batch into too old (more than 14 days before ``now``), expired (before
    the group's retention), too new (more than 2 hours after ``now``) and accepted.

    End indexes are exclusive, the start index inclusive, as the model documents:
    ``tooOldLogEventEndIndex = 2`` means events 0 and 1 were too old. Worked example, now = 20 days,
    retention 1 day, events at 1, 10 and 19.5 days and now + 3 h: events 0 and 1 are expired (0 is
    also too old), event 3 too new, event 2 accepted → ``accepted = range(2, 3)``,
    ``{tooOldLogEventEndIndex: 1, expiredLogEventEndIndex: 2, tooNewLogEventStartIndex: 3}``.
    """
    too_old_end = bisect_left(timestamps, now_ms - TOO_OLD_MS)
    expired_end = bisect_left(timestamps, now_ms - retention_days * MS_PER_DAY) if retention_days else 0
    too_new_start = bisect_right(timestamps, now_ms + TOO_NEW_MS)
    rejected: dict[str, int] = {}
    if too_new_start < len(timestamps):
        rejected["tooNewLogEventStartIndex"] = too_new_start
    if too_old_end:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end:
        rejected["expiredLogEventEndIndex"] = expired_end
    start = max(too_old_end, expired_end)
    return Verdict(range(start, max(start, too_new_start)), rejected)


def check_span(timestamps: Sequence[int], accepted: range) -> None:
    """The accepted events of a batch may span at most 24 hours (rejected ones do not count)."""
    if accepted and timestamps[accepted[-1]] - timestamps[accepted[0]] > MAX_BATCH_SPAN_MS:
        raise invalid_parameter(SPAN_TOO_LONG)


def retention_cutoff_ms(now_ms: int, retention_days: int) -> int:
    """Events with a timestamp before this have expired: ``retention_cutoff_ms(10 * MS_PER_DAY, 3)``
    → 7 days in milliseconds."""
    return now_ms - retention_days * MS_PER_DAY
