"""``GET /_ecsbox/health`` and, only when the server was started with reset allowed,
``POST /_ecsbox/state/reset``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ecsbox.aws import HttpRequest, HttpResponse


def _json(status: int, document: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(document).encode())


def _is_json(request: HttpRequest) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


class OperatorEndpoints:
    def __init__(
        self,
        health: Callable[[], dict[str, Any]],
        reset: Callable[[], Awaitable[None]] | None,
        actions: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] | None = None,
    ) -> None:
        self._health = health
        self._reset = reset  # None: the endpoint does not exist
        # POST /_ecsbox/<name> with a JSON object (or nothing) → what it did; ValueError → 400
        self._actions = actions or {}

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/")
        if path == "/_ecsbox/health":
            if request.method not in ("GET", "HEAD"):
                return _json(405, {"error": "method not allowed"})
            return _json(200, self._health())
        if path == "/_ecsbox/state/reset" and self._reset is not None:
            if request.method != "POST":
                return _json(405, {"error": "method not allowed"})
            # A content type no HTML form or no-cors fetch can send (it forces a CORS preflight,
            # which ecsbox never answers), so no web page can post here.
            if not _is_json(request):
                return _json(415, {"error": "send Content-Type: application/json"})
            await self._reset()
            return _json(200, {"reset": True})
        action = self._actions.get(path.removeprefix("/_ecsbox/"))
        if action is not None:
            if request.method != "POST":
                return _json(405, {"error": "method not allowed"})
            if not _is_json(request):
                return _json(415, {"error": "send Content-Type: application/json"})
            try:
                body = json.loads(request.body) if request.body.strip() else {}
            except (ValueError, RecursionError):  # RecursionError: nested past what the parser takes
                return _json(400, {"error": "the body must be a JSON object"})
            if not isinstance(body, dict):
                return _json(400, {"error": "the body must be a JSON object"})
            try:
                return _json(200, await action(body))
            except ValueError as exc:
                return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no such ecsbox endpoint: {request.path}"})
