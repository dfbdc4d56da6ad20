"""awslogs' multiline handling: lines that do not start a new event join the one before.

Pure. ``awslogs-datetime-format`` (a strftime pattern, which takes precedence) or
``awslogs-multiline-pattern`` (a regular expression) says what a first line looks like, matched at
the start of the line, as Docker's awslogs driver does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Docker's awslogs driver: strftime directives → regular expressions (moby cloudwatchlogs.go).
_DIRECTIVES = {
    "%a": r"(?:Mon|Monday|Tue|Tuesday|Wed|Wednesday|Thu|Thursday|Fri|Friday|Sat|Saturday|Sun|Sunday)",
    "%A": r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    "%b": r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "%B": r"(?:January|February|March|April|May|June|July|August|September|October|November|December)",
    "%d": r"(?:0[1-9]|[1,2][0-9]|3[0,1])",
    "%f": r"(?:\d{1,6})",
    "%H": r"(?:2[0-3]|[0,1][0-9])",
    "%I": r"(?:0[0-9]|1[0-2])",
    "%j": r"(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])",
    "%L": r"(?:\.\d{3})",
    "%m": r"(?:1[0-2]|0[1-9])",
    "%M": r"(?:[0-5][0-9])",
    "%p": r"(?:[A,P]M)",
    "%S": r"(?:[0-5][0-9])",
    "%w": r"[0-6]",
    "%y": r"(?:\d{2})",
    "%Y": r"(?:\d{4})",
    "%z": r"(?:[+-][0-9]{4})",
    "%Z": r"(?:[A-Z]{1,4}T)",
}


def datetime_format_regex(strftime: str) -> str:
    """The regular expression Docker builds from ``awslogs-datetime-format``.

    ``datetime_format_regex("%Y-%m-%d")`` → ``^(?:\\d{4})-(?:1[0-2]|0[1-9])-(?:0[1-9]|[1,2][0-9]|3[0,1])``.
    """
    pattern = re.sub("|".join(re.escape(d) for d in _DIRECTIVES), lambda m: _DIRECTIVES[m.group(0)], strftime)
    return "^" + pattern


def first_line_test(options: dict[str, str]) -> Callable[[str], bool] | None:
    """What starts a new event, from the container's awslogs options; None: every line does."""
    if options.get("awslogs-datetime-format"):
        regex = re.compile(datetime_format_regex(options["awslogs-datetime-format"]))
    elif options.get("awslogs-multiline-pattern"):
        regex = re.compile(options["awslogs-multiline-pattern"])
    else:
        return None
    return lambda line: regex.match(line) is not None


def join_lines(
    lines: list[tuple[int, str]], starts: Callable[[str], bool], pending: tuple[int, str] | None
) -> tuple[list[tuple[int, str]], tuple[int, str] | None]:
    """Complete events from ``lines`` ((timestamp ms, text)), and the event still open at the end
    (it may get more lines). An event takes the timestamp of its first line.

    With ``starts = lambda l: l.startswith("INFO")``: lines ``INFO a``, ``  b``, ``INFO c`` → events
    ``["INFO a\\n  b"]``, still open ``INFO c``.
    """
    events: list[tuple[int, str]] = []
    for timestamp, text in lines:
        if pending is None or starts(text):
            if pending is not None:
                events.append(pending)
            pending = (timestamp, text)
        else:
            pending = (pending[0], f"{pending[1]}\n{text}")
    return events, pending
