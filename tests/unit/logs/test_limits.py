"""PutLogEvents' rules: batch size, chronological order, rejectedLogEventsInfo, the 24-hour span."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.logs.limits import (
    batch_bytes,
    check_chronological,
    check_size,
    check_span,
    classify,
    clean_message,
    message_bytes,
)
from ecsbox.logs.model import (
    MAX_BATCH_BYTES,
    MS_PER_DAY,
    MS_PER_HOUR,
    NOT_CHRONOLOGICAL,
    SPAN_TOO_LONG,
    TOO_NEW_MS,
    TOO_OLD_MS,
    LogsRuleError,
)

NOW = 1_700_000_000_000


def test_a_batch_counts_utf8_bytes_plus_26_per_event() -> None:
    assert batch_bytes(["abc", "é", "日本"]) == (3 + 26) + (2 + 26) + (6 + 26)
    assert message_bytes("😀") == 4


def test_a_batch_of_exactly_the_limit_is_accepted_one_byte_more_is_not() -> None:
    # Two events: 2 * 26 bytes of overhead, the rest message bytes.
    first = "a" * 1000
    second = "b" * (MAX_BATCH_BYTES - 2 * 26 - 1000)
    assert check_size([first, second]) == MAX_BATCH_BYTES
    with pytest.raises(LogsRuleError) as caught:
        check_size([first, second + "c"])
    assert caught.value.code == "InvalidParameterException"
    assert caught.value.message == f"Upload too large: {MAX_BATCH_BYTES + 1} bytes exceeds limit of 1048576"


def test_one_event_over_the_limit_is_named_as_too_large() -> None:
    with pytest.raises(LogsRuleError) as caught:
        check_size(["x" * MAX_BATCH_BYTES])
    assert (
        caught.value.message == f"Log event too large: {MAX_BATCH_BYTES + 26} bytes exceeds limit of 1048576"
    )


@pytest.mark.parametrize(
    ("timestamps", "in_order"),
    [
        ([], True),
        ([5], True),
        ([1, 1, 2, 2, 3], True),  # equal timestamps are in order
        ([1, 3, 2], False),
        ([2, 1], False),
    ],
)
def test_chronological_order(timestamps: list[int], in_order: bool) -> None:
    if in_order:
        check_chronological(timestamps)
    else:
        with pytest.raises(LogsRuleError, match="chronological") as caught:
            check_chronological(timestamps)
        assert caught.value.message == NOT_CHRONOLOGICAL


DAY, HOUR = MS_PER_DAY, MS_PER_HOUR


@pytest.mark.parametrize(
    ("offsets", "retention", "accepted", "rejected"),
    [
        # everything fresh
        ([-HOUR, 0, HOUR], None, (0, 3), {}),
        # exactly 14 days old is kept; a millisecond older is too old
        ([-TOO_OLD_MS, 0], None, (0, 2), {}),
        ([-TOO_OLD_MS - 1, 0], None, (1, 2), {"tooOldLogEventEndIndex": 1}),
        # exactly 2 hours ahead is kept; a millisecond more is too new
        ([0, TOO_NEW_MS], None, (0, 2), {}),
        ([0, TOO_NEW_MS + 1], None, (0, 1), {"tooNewLogEventStartIndex": 1}),
        # expired by a 1-day retention but not too old
        ([-2 * DAY, -DAY - 1, -HOUR], 1, (2, 3), {"expiredLogEventEndIndex": 2}),
        # too old and expired at once, too new at the end
        (
            [-20 * DAY, -10 * DAY, -HOUR, 3 * HOUR],
            1,
            (2, 3),
            {"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3},
        ),
        # everything rejected: nothing accepted
        ([-15 * DAY, 3 * HOUR], None, (1, 1), {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 1}),
        ([3 * HOUR, 4 * HOUR], None, (0, 0), {"tooNewLogEventStartIndex": 0}),
        # a retention longer than 14 days never rejects more than "too old" does
        ([-20 * DAY, -HOUR], 30, (1, 2), {"tooOldLogEventEndIndex": 1}),
    ],
)
def test_classify(
    offsets: list[int], retention: int | None, accepted: tuple[int, int], rejected: dict
) -> None:
    verdict = classify([NOW + o for o in offsets], NOW, retention)
    assert (verdict.accepted.start, verdict.accepted.stop) == accepted
    assert verdict.rejected == rejected


@given(
    st.lists(st.integers(min_value=-30 * DAY, max_value=30 * DAY), max_size=40),
    st.sampled_from([None, 1, 3, 7, 14, 30]),
)
def test_classify_splits_a_batch_into_rejected_ends_and_an_accepted_middle(
    offsets: list[int], retention: int | None
) -> None:
    timestamps = sorted(NOW + o for o in offsets)
    verdict = classify(timestamps, NOW, retention)
    oldest_kept = max(NOW - TOO_OLD_MS, NOW - retention * DAY if retention else NOW - TOO_OLD_MS)
    for index, ts in enumerate(timestamps):
        kept = oldest_kept <= ts <= NOW + TOO_NEW_MS
        assert (index in verdict.accepted) == kept
    info = verdict.rejected
    assert info.get("tooOldLogEventEndIndex", 0) == sum(ts < NOW - TOO_OLD_MS for ts in timestamps)
    assert info.get("tooNewLogEventStartIndex", len(timestamps)) == sum(
        ts <= NOW + TOO_NEW_MS for ts in timestamps
    )
    assert all(value > 0 for key, value in info.items() if key != "tooNewLogEventStartIndex")


def test_the_span_counts_only_accepted_events() -> None:
    day_and_a_bit = [0, 24 * HOUR + 1]
    with pytest.raises(LogsRuleError) as caught:
        check_span(day_and_a_bit, range(0, 2))
    assert caught.value.message == SPAN_TOO_LONG
    check_span([0, 24 * HOUR], range(0, 2))  # exactly 24 hours is allowed
    check_span(day_and_a_bit, range(1, 2))  # the first one was rejected: no span
    check_span([], range(0, 0))


def test_lone_surrogates_are_replaced_and_valid_text_kept() -> None:
    assert clean_message("a\ud800b") == "a\ufffdb"
    assert clean_message("plain") == "plain"
    assert clean_message("日本😀") == "日本😀"
