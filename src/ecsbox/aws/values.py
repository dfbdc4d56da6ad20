"""Scalar conversions shared by the protocols: timestamps and blobs on the wire.

>>> to_datetime(1700000000.5)
datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=datetime.timezone.utc)
>>> to_epoch(datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=datetime.timezone.utc))
1700000000.5
>>> to_iso8601(datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc))
'2023-11-14T22:13:20Z'
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
from typing import Any

UTC = datetime.UTC
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(value: Any) -> datetime.datetime:
    """A wire timestamp (epoch seconds, ISO 8601 or RFC 822 text, or a datetime) as an aware UTC
    datetime. Raises ValueError when the value is no timestamp."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return _EPOCH + datetime.timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _EPOCH + datetime.timedelta(seconds=float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"not a timestamp: {value!r}") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def to_epoch(value: Any) -> float | int:
    """Epoch seconds for a datetime (int when whole); numbers pass through."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1_000_000
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return to_epoch(to_datetime(value))


def to_iso8601(value: Any) -> str:
    """ISO 8601 in UTC with a Z, as query XML and query strings carry it."""
    moment = to_datetime(value)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_rfc822(value: Any) -> str:
    """RFC 822 date, as rest protocols put timestamps in headers."""
    return email.utils.format_datetime(to_datetime(value).replace(microsecond=0), usegmt=True)


def b64decode(text: Any) -> bytes:
    """Strict base64; raises ValueError on anything else."""
    if not isinstance(text, str | bytes):
        raise ValueError("blob must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("blob is not valid base64") from exc


def b64encode(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")
