"""What every part of the filter pattern parser shares (pure): limits, AWS's messages, :class:`PatternError`
and the types a compiled pattern is made of. The public entry is :mod:`ecsbox.logs.patterns`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias, TypeVar

MAX_PATTERN_LENGTH: Final = 1024  # FilterPattern in the service model: max 1024
MAX_REGEXES: Final = 2  # "a limit of 2 regex for each filter pattern" (JSON and space-delimited)
MAX_WILDCARD_SELECTORS: Final = 3  # "up to three wildcard selectors in a filter pattern"
INVALID_PATTERN: Final = "Invalid filter pattern"
TOO_LONG: Final = (
    "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: "
    f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
)

FieldValue: TypeAlias = str | float | int | bool | None
Fields: TypeAlias = dict[str, FieldValue]
Matcher: TypeAlias = Callable[[str], bool]
Extractor: TypeAlias = Callable[[str], "Fields | None"]
T = TypeVar("T")
Predicate: TypeAlias = Callable[[T], bool]


class PatternError(ValueError):
    """Invalid filter pattern; ``str(e)`` is the message AWS answers with.

    AWS answers ``InvalidParameterException`` with a short message: "Invalid filter pattern" for
    most mistakes (aws-toolkit-jetbrains#3219, mapbox/ecs-watchbot#350), "Invalid character(s) in
    term '('" for an unquoted term with characters other than letters, digits and underscores,
    "If a filter pattern starts with '{' it must end with '}'" (jorgebastida/awslogs#210). A pattern
    longer than 1024 characters fails the service model's constraint instead (``ValidationException``).
    ``reason`` says what exactly is wrong, for logs (AWS does not say); ``code`` is the AWS error code.
    """

    def __init__(
        self, message: str = INVALID_PATTERN, *, reason: str = "", code: str = "InvalidParameterException"
    ) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.code = code


def everything(message: str) -> bool:
    """The matcher of a pattern that matches every log event."""
    return True
