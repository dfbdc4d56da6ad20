"""The HTTP/S client deliveries are posted with: one POST per connection on asyncio streams, a
wall-clock timeout around the whole exchange, and only the status code as the answer. A URL's
user and password (``https://user:pass@host/``) become Basic authentication, as SNS sends them.

:class:`Poster` is the port; tests hand the delivery worker a fake.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

MAX_RESPONSE_BYTES = 1 << 20  # what is read of an answer before the connection is closed
MAX_HEADER_LINES = 200


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no answer (refused, reset, timed out, not HTTP)
    error: str | None = None


class Poster(Protocol):
    async def __call__(
        self, url: str, headers: Sequence[tuple[str, str]], body: bytes, timeout_s: float
    ) -> HttpAnswer: ...


def request_bytes(url: str, headers: Sequence[tuple[str, str]], body: bytes) -> tuple[str, int, bool, bytes]:
    """(host, port, tls, the request) for a POST of ``body`` to ``url``.

    >>> host, port, tls, raw = request_bytes("http://u:p%40ss@127.0.0.1:8080/hook?x=1", [("X-A", "1")], b"hi")
    >>> (host, port, tls), raw.split(b"\\r\\n")[:3]
    (('127.0.0.1', 8080, False), [b'POST /hook?x=1 HTTP/1.1', b'Host: 127.0.0.1:8080', b'X-A: 1'])
    >>> b"Authorization: Basic dTpwQHNz" in raw
    True
    """
    parts = urlsplit(url)
    tls = parts.scheme.lower() == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        lines.append(f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}")
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return host, port, tls, "\r\n".join(lines).encode() + body


def status_of(line: bytes) -> int | None:
    """``HTTP/1.1 204 No Content`` → 204; None when the line is not an HTTP status line."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])


async def _exchange(url: str, headers: Sequence[tuple[str, str]], body: bytes) -> HttpAnswer:
    host, port, tls, raw = request_bytes(url, headers, body)
    context = ssl.create_default_context() if tls else None
    reader, writer = await asyncio.open_connection(
        host, port, ssl=context, server_hostname=host if tls else None
    )
    try:
        writer.write(raw)
        await writer.drain()
        status = status_of(await reader.readline())
        if status is None:
            return HttpAnswer(None, "the endpoint did not answer in HTTP")
        for _ in range(MAX_HEADER_LINES):  # then the body, until the server closes (Connection: close)
            if (await reader.readline()).strip() == b"":
                break
        await reader.read(MAX_RESPONSE_BYTES)
        return HttpAnswer(status)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


async def post(url: str, headers: Sequence[tuple[str, str]], body: bytes, timeout_s: float) -> HttpAnswer:
    """POST ``body`` to ``url``; the answer's status, or why there was none."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _exchange(url, headers, body)
    except TimeoutError:
        return HttpAnswer(None, f"no answer within {timeout_s:g} s")
    except (OSError, ssl.SSLError, ValueError, UnicodeError, asyncio.IncompleteReadError) as exc:
        return HttpAnswer(None, f"{type(exc).__name__}: {exc}")
