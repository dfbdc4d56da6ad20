"""Between ASGI and the wire layer's plain values: what both of ecsbox's listeners (the operator
API and the container-facing one) do the same way — headers, a bounded body, the response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsbox.aws.http import HttpRequest, HttpResponse

MAX_BODY_BYTES = 16 * 1024 * 1024


def request_headers(scope: dict[str, Any]) -> dict[str, str]:
    """Lower-case header names; a repeated header's values joined with ``,``."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def read_body(receive: Callable[..., Any], max_bytes: int = MAX_BODY_BYTES) -> tuple[bytes, bool]:
    """The request body and whether it was over ``max_bytes`` (then it is read to the end but not
    kept, so a large upload cannot fill memory)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= max_bytes and chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    too_large = size > max_bytes
    return (b"" if too_large else b"".join(chunks)), too_large


def http_request(scope: dict[str, Any], headers: dict[str, str], body: bytes) -> HttpRequest:
    """The request as the wire layer takes it: the path as sent (percent-encoded), no query."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return HttpRequest(
        method=scope["method"],
        path=path.split("?", 1)[0],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


async def send_response(send: Callable[..., Any], response: HttpResponse) -> None:
    """One response with its length (one write: no chunked encoding)."""
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    raw_headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def answer_lifespan(receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Acknowledge start-up and shut-down: ecsbox starts its work itself, not from ASGI events."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
