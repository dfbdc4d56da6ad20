"""What rest-json and rest-xml share: routing a method and path to an operation by the model's
``requestUri`` templates, and binding URI labels, query strings and headers to members.

>>> from ecsbox.aws.models import load_model
>>> from ecsbox.aws.registry import ServiceSpec
>>> routes = RestRoutes(ServiceSpec("s3", load_model("s3")))
>>> routes.match("GET", "/my-bucket/photos/2024/cat.jpg", "")[0]
'GetObject'
>>> routes.match("GET", "/my-bucket", "acl")[0]
'GetBucketAcl'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import Shape

from ecsbox.aws.errors import TypeMismatch
from ecsbox.aws.http import HttpRequest
from ecsbox.aws.registry import OperationSpec, ServiceSpec
from ecsbox.aws.values import b64decode, b64encode, to_datetime, to_epoch, to_iso8601, to_rfc822

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group → label name
    query: tuple[tuple[str, str | None], ...]  # literal query keys the template requires
    weight: tuple[int, int, int]


def _compile_route(operation: str, method: str, uri: str, required_query: tuple[str, ...] = ()) -> Route:
    """``required_query``: query keys of required members (S3's ListParts needs ``uploadId``)."""
    path, _, literal_query = uri.partition("?")
    labels: dict[str, str] = {}
    regex = ""
    position = 0
    for index, found in enumerate(_LABEL.finditer(path)):
        regex += re.escape(path[position : found.start()])
        label = found.group(1)
        group = f"g{index}"
        if label.endswith("+"):
            labels[group] = label[:-1]
            regex += f"(?P<{group}>.+)"
        else:
            labels[group] = label
            regex += f"(?P<{group}>[^/]+)"
        position = found.end()
    regex += re.escape(path[position:])
    if regex.endswith("/") and len(path) > 1:
        regex = regex[:-1] + "/?"
    query = tuple(
        (key, value if value else None)
        for key, value in (part.partition("=")[::2] for part in literal_query.split("&") if part)
    )
    query += tuple((key, None) for key in required_query)
    literal = len(_LABEL.sub("", path))
    greedy = sum(1 for label in labels.values() if label and path.count("{" + label + "+}"))
    return Route(operation, method, re.compile(regex), labels, query, (len(query), literal, -greedy))


class RestRoutes:
    """Every operation's route, most specific first."""

    def __init__(self, service: ServiceSpec) -> None:
        routes = []
        for name in service.operation_names:
            model = service.model.operation_model(name)
            http, shape = model.http, model.input_shape
            required = tuple(
                shape.members[member].serialization.get("name", member)
                for member in (shape.required_members if shape is not None else ())
                if shape.members[member].serialization.get("location") == "querystring"
            )
            routes.append(
                _compile_route(name, http.get("method", "POST"), http.get("requestUri", "/"), required)
            )
        self.routes = sorted(routes, key=lambda route: route.weight, reverse=True)

    def match(self, method: str, path: str, query: str) -> tuple[str, dict[str, str]] | None:
        """(operation, label values) of the first route that fits, or None."""
        keys: dict[str, str] | None = None
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.query:
                if keys is None:
                    keys = dict(parse_qsl(query, keep_blank_values=True))
                if not all(
                    key in keys and (value is None or keys[key] == value) for key, value in route.query
                ):
                    continue
            return route.operation, {
                route.labels[group]: unquote(value) for group, value in found.groupdict().items()
            }
        return None


def routes_for(service: ServiceSpec) -> RestRoutes:
    routes = service.compiled.get("rest-routes")
    if routes is None:
        routes = service.compiled["rest-routes"] = RestRoutes(service)
    return routes


def _mismatch(value: Any, path: str, expected: str) -> TypeMismatch:
    return TypeMismatch(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: "
        f"Member must be of type {expected}"
    )


def text_to_value(shape: Shape, text: str, path: str, where: str) -> Any:
    """A URI label, query value or header as the member's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return to_datetime(text)
        if kind == "blob":
            return b64decode(text)
        if kind == "string" and shape.serialization.get("jsonvalue") and where == "header":
            return json.loads(b64decode(text))
    except (ValueError, OverflowError):
        raise _mismatch(text, path, kind) from None
    return text


def value_to_text(shape: Shape, value: Any, where: str) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        form = shape.serialization.get("timestampFormat", "rfc822" if where == "header" else "iso8601")
        return {"rfc822": to_rfc822, "iso8601": to_iso8601}.get(form, lambda v: str(to_epoch(v)))(value)
    if kind == "blob":
        return b64encode(value)
    if kind == "string" and shape.serialization.get("jsonvalue") and where == "header":
        return b64encode(json.dumps(value, separators=(",", ":")))
    return str(value)


def bind_request(
    request: HttpRequest, operation: OperationSpec, labels: dict[str, str], params: dict[str, Any]
) -> None:
    """Add the members bound to the URI, query string and headers to ``params``."""
    shape = operation.input_shape
    if shape is None:
        return
    query: list[tuple[str, str]] | None = None
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None:
            continue
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = text_to_value(member, labels[wire], name, "uri")
        elif location == "querystring":
            if query is None:
                query = parse_qsl(request.query, keep_blank_values=True)
            _bind_query(member, name, wire, query, params)
        elif location == "header":
            text = request.headers.get(wire.lower())
            if text is not None:
                if member.type_name == "list":
                    params[name] = [
                        text_to_value(member.member, part.strip(), name, "header")
                        for part in text.split(",")
                        if part.strip()
                    ]
                else:
                    params[name] = text_to_value(member, text, name, "header")
        elif location == "headers":
            prefix = wire.lower()
            found = {
                key[len(prefix) :]: value for key, value in request.headers.items() if key.startswith(prefix)
            }
            if found:
                params[name] = found


def _bind_query(
    member: Shape, name: str, wire: str, query: list[tuple[str, str]], params: dict[str, Any]
) -> None:
    if member.type_name == "map":
        taken = {key: value for key, value in query}
        if taken:
            params[name] = taken
    elif member.type_name == "list":
        values = [
            text_to_value(member.member, value, name, "querystring") for key, value in query if key == wire
        ]
        if values:
            params[name] = values
    else:
        for key, value in query:
            if key == wire:
                params[name] = text_to_value(member, value, name, "querystring")
                break


def response_status_and_headers(
    operation: OperationSpec, result: dict[str, Any]
) -> tuple[int, list[tuple[str, str]], dict[str, Any]]:
    """The status code, headers and the members left for the body."""
    status = int(operation.model.http.get("responseCode", 200))
    shape = operation.output_shape
    if shape is None:
        return status, [], {}
    headers: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for key, value in result.items():
        if value is None:
            continue
        member = shape.members.get(key)
        location = member.serialization.get("location") if member is not None else None
        if member is None or location is None:
            body[key] = value
        elif location == "statusCode":
            status = int(value)
        elif location == "header":
            wire = member.serialization.get("name", key)
            if member.type_name == "list":
                headers.append(
                    (wire, ",".join(value_to_text(member.member, item, "header") for item in value))
                )
            else:
                headers.append((wire, value_to_text(member, value, "header")))
        elif location == "headers":
            prefix = member.serialization.get("name", key)
            headers.extend((prefix + sub, str(item)) for sub, item in value.items())
    return status, headers, body
