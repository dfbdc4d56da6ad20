"""The ASGI root: who may call, then which part answers.

Every request passes two checks first: its ``Host`` must be on the allow-list (loopback names only,
unless configured) so no DNS-rebinding page can reach the operator API, and a browser's ``Origin``,
when sent, must be one of ours, so no other site's page can post to it. Then ``/_ecsbox/…`` goes to
the operator endpoints and everything else to the AWS gateway.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from ecsbox.aws import HttpRequest, HttpResponse
from ecsbox.aws.asgi_io import (
    MAX_BODY_BYTES,
    answer_lifespan,
    http_request,
    read_body,
    request_headers,
    send_response,
)

log = logging.getLogger("ecsbox.http")

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

Responder = Callable[[HttpRequest], Awaitable[HttpResponse]]
# The registry streams its bodies itself: (scope, receive, send, headers).
Streamer = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any], dict[str, str]], Awaitable[None]]


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """Is the request's ``Host`` one of ours? Ports are ignored; ``*.localhost`` names resolve only
    to loopback (RFC 6761), so they are ours too.

    ``localhost:4566`` → True; ``[::1]:4566`` → True; ``evil.example:4566`` → False.
    """
    host = host_header.strip().lower()
    if not host:
        return False
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name in LOOPBACK_HOSTS or name in allowed:
        return True
    return name.endswith(".localhost") or _is_ipv4_loopback(name)


def _is_ipv4_loopback(name: str) -> bool:
    """127.0.0.0/8: every address there is this machine (the registries of other partitions)."""
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str, allowed: frozenset[str], port: int | None = None) -> bool:
    """A browser's Origin must be ecsbox's own: one of our hosts and, once the server knows it,
    our port (a page of another local server, or of a task's published app, is not ours);
    ``null`` (sandboxed pages) is refused.

    ``http://localhost:4566`` with port 4566 → True; ``http://localhost:3000`` → False.
    """
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if port is not None:
        try:
            origin_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if origin_port != port:
            return False
    return host_allowed(parts.netloc, allowed)


def _plain(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"__type": code, "message": message}).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


class EcsboxAsgi:
    def __init__(
        self,
        gateway: Responder,
        operator: Responder,
        allowed_hosts: Iterable[str] = (),
        registry: Streamer | None = None,
    ) -> None:
        self.gateway = gateway
        self.operator = operator
        self.registry = registry
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self.port: int | None = None  # set once the server has bound its port

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = request_headers(scope)
        if self.registry is not None and _is_registry_path(scope["path"]):
            refused = self._refused(headers)
            if refused is None:
                await self.registry(scope, receive, send, headers)
                return
            await send_response(send, refused)
            return
        response = await self._respond(scope, receive, headers)
        await send_response(send, response)

    def _refused(self, headers: dict[str, str]) -> HttpResponse | None:
        if not host_allowed(headers.get("host", ""), self.allowed):
            return _plain(
                403, "AccessDeniedException", "Host not allowed; ecsbox answers loopback names only"
            )
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(origin, self.allowed, self.port):
            return _plain(403, "AccessDeniedException", "Cross-origin requests are not allowed")
        return None

    async def _respond(
        self, scope: dict[str, Any], receive: Callable[..., Any], headers: dict[str, str]
    ) -> HttpResponse:
        refused = self._refused(headers)
        if refused is not None:
            return refused
        body, too_large = await read_body(receive)
        if too_large:
            return _plain(413, "RequestEntityTooLargeException", f"Request body over {MAX_BODY_BYTES} bytes")
        request = http_request(scope, headers, body)
        try:
            if request.path.startswith("/_ecsbox"):
                return await self.operator(request)
            return await self.gateway(request)
        except Exception:  # the last line of defence: a bug answers 500, never kills the server
            log.exception("event=unhandled_error path=%s", request.path)
            return _plain(500, "InternalFailure", "ecsbox failed to handle the request")


def _is_registry_path(path: str) -> bool:
    """The OCI distribution API: ``/v2`` and everything under ``/v2/``."""
    return path == "/v2" or path.startswith("/v2/")
