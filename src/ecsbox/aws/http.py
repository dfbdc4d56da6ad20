"""Plain HTTP request and response values passed between the server and the wire layer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HttpRequest:
    method: str
    path: str  # the raw (percent-encoded) path, without the query string
    query: str  # the raw query string, without "?"
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: bytes = b""


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None
