"""The ``query`` protocol: form-encoded ``Action=…&Version=…`` requests, XML responses.

Lists arrive flattened by index (``Names.member.1=a&Names.member.2=b``), maps as entries
(``MessageAttributes.entry.1.Name=k&MessageAttributes.entry.1.Value.DataType=String``); the model
says which, and the decoder rebuilds the params botocore was given:

>>> from ecsbox.aws.models import load_model
>>> shape = load_model("elbv2").operation_model("DescribeLoadBalancers").input_shape
>>> decoder = compile_decoder(shape, {})
>>> decoder(form_tree([("Names.member.1", "a"), ("Names.member.2", "b"), ("PageSize", "5")]), "")
{'Names': ['a', 'b'], 'PageSize': 5}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import Shape

from ecsbox.aws.errors import AwsError, TypeMismatch
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols.base import Protocol, error_info
from ecsbox.aws.protocols.xml import Emit, compile_emitter, escape
from ecsbox.aws.registry import OperationSpec, ServiceSpec
from ecsbox.aws.validate import shape_key
from ecsbox.aws.values import b64decode, to_datetime

Tree = dict[str, Any]
Decode = Callable[[Any, str], Any]
FORM = "application/x-www-form-urlencoded"


def is_query_request(request: HttpRequest) -> bool:
    query = request.query
    return (
        request.headers.get("content-type", "").startswith(FORM)
        or query.startswith("Action=")
        or "&Action=" in query
    )


def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """The query string's and (when form-encoded) the body's pairs; raises on undecodable text."""
    try:
        pairs = parse_qsl(request.query, keep_blank_values=True, errors="strict")
        if request.body and request.headers.get("content-type", "").startswith(FORM):
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise AwsError("MalformedQueryString", f"The query string is malformed: {exc}", 400) from None
    return pairs


def query_action(request: HttpRequest) -> str | None:
    """The Action a query request names, read leniently: a request whose other values are not UTF-8
    (a mangled SubscribeURL) still reaches its service, which answers MalformedQueryString in its
    own format.

    >>> query_action(HttpRequest("GET", "/", "Action=Unsubscribe&SubscriptionArn=%ff", {}, b""))
    'Unsubscribe'
    """
    texts = [request.query]
    if request.body and request.headers.get("content-type", "").startswith(FORM):
        texts.append(request.body.decode("utf-8", "replace"))
    for text in texts:
        for key, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
            if key == "Action":
                return value
    return None


def form_tree(pairs: list[tuple[str, str]]) -> Tree:
    """``[("A.member.1", "x")]`` → ``{"A": {"member": {"1": "x"}}}``."""
    tree: Tree = {}
    for key, value in pairs:
        *parents, last = key.split(".")
        node = tree
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(last), dict):
            node[last] = value
    return tree


def _mismatch(value: Any, path: str, expected: str) -> TypeMismatch:
    shown = value if isinstance(value, str) else "…"
    return TypeMismatch(
        f"1 validation error detected: Value '{shown}' at '{path or 'input'}' failed to satisfy "
        f"constraint: Member must be of type {expected}"
    )


def _indexed(node: Any, path: str) -> list[Any]:
    """The values of ``{"1": a, "2": b}`` in index order."""
    if node == "":
        return []
    if not isinstance(node, dict):
        raise _mismatch(node, path, "list")
    try:
        ordered = sorted(node.items(), key=lambda item: int(item[0]))
    except ValueError:
        raise _mismatch(node, path, "list") from None
    return [value for _, value in ordered]


def _scalar(kind: str) -> Decode:
    def decode(text: Any, path: str) -> Any:
        if not isinstance(text, str):
            raise _mismatch(text, path, kind)
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind in ("float", "double"):
                return float(text)
            if kind == "boolean":
                lowered = text.lower()
                if lowered not in ("true", "false"):
                    raise ValueError(text)
                return lowered == "true"
            if kind == "timestamp":
                return to_datetime(text)
            if kind == "blob":
                return b64decode(text)
        except (ValueError, OverflowError):
            raise _mismatch(text, path, kind) from None
        return text

    return decode


def compile_decoder(shape: Shape, memo: dict[tuple[str, str], Decode]) -> Decode:
    """The decoder from a form tree node to the params of ``shape``."""
    kind = shape.type_name
    if kind not in ("structure", "list", "map"):
        return _scalar(kind)
    key = shape_key(shape)
    if key in memo:
        return memo[key]
    slot: list[Decode] = []
    memo[key] = lambda node, path: slot[0](node, path)
    built = {"structure": _structure, "list": _list, "map": _map}[kind](shape, memo)
    slot.append(built)
    memo[key] = built
    return built


def _structure(shape: Shape, memo: dict[tuple[str, str], Decode]) -> Decode:
    entries: list[tuple[str, str, Decode]] = []
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            wire = member.member.serialization.get("name", wire)
        entries.append((wire, name, compile_decoder(member, memo)))

    def decode(node: Any, path: str) -> Any:
        if not isinstance(node, dict):
            raise _mismatch(node, path, "structure")
        params: dict[str, Any] = {}
        for wire, name, decode_member in entries:
            sub = node.get(wire)
            if sub is not None:
                params[name] = decode_member(sub, f"{path}.{name}" if path else name)
        return params

    return decode


def _list(shape: Shape, memo: dict[tuple[str, str], Decode]) -> Decode:
    decode_item = compile_decoder(shape.member, memo)
    flattened = bool(shape.serialization.get("flattened"))
    item_name = shape.member.serialization.get("name", "member")

    def decode(node: Any, path: str) -> Any:
        if not flattened and isinstance(node, dict):
            node = node.get(item_name, "")
        items = _indexed(node, path)
        return [decode_item(item, f"{path}.{index}.member") for index, item in enumerate(items, 1)]

    return decode


def _map(shape: Shape, memo: dict[tuple[str, str], Decode]) -> Decode:
    decode_key = compile_decoder(shape.key, memo)
    decode_value = compile_decoder(shape.value, memo)
    flattened = bool(shape.serialization.get("flattened"))
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")

    def decode(node: Any, path: str) -> Any:
        if not flattened and isinstance(node, dict):
            node = node.get("entry", "")
        result: dict[str, Any] = {}
        for entry in _indexed(node, path):
            if not isinstance(entry, dict) or key_name not in entry:
                raise _mismatch(entry, path, "map")
            key = decode_key(entry[key_name], path)
            value = entry.get(value_name)
            result[key] = decode_value(value, f"{path}.{key}") if value is not None else None
        return result

    return decode


def namespace(service: ServiceSpec) -> str:
    metadata = service.model.metadata
    return metadata.get("xmlNamespace") or (
        f"https://{metadata.get('endpointPrefix', service.name)}.amazonaws.com/doc/{service.api_version}/"
    )


class QueryProtocol(Protocol):
    name = "query"

    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        for key, value in form_pairs(request):  # raises MalformedQueryString
            if key == "Action":
                return value
        return None

    def unknown_operation(self, name: str | None, service: ServiceSpec) -> AwsError:
        if not name:
            return AwsError("MissingAction", "The request must contain the parameter Action.", 400)
        return AwsError("InvalidAction", f"The action {name} is not valid for this web service.", 400)

    def _codecs(self, operation: OperationSpec) -> tuple[Decode | None, Emit | None]:
        codecs = operation.compiled.get(self.name)
        if codecs is None:
            input_shape, output_shape = operation.input_shape, operation.output_shape
            codecs = (
                compile_decoder(input_shape, {}) if input_shape is not None else None,
                compile_emitter(output_shape, {}) if output_shape is not None else None,
            )
            operation.compiled[self.name] = codecs
        return codecs

    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        decode = self._codecs(operation)[0]
        if decode is None:
            return {}
        tree = form_tree(form_pairs(request))
        tree.pop("Action", None)
        tree.pop("Version", None)
        params: dict[str, Any] = decode(tree, "")
        return params

    def serialize(
        self,
        result: dict[str, Any],
        request: HttpRequest,
        service: ServiceSpec,
        operation: OperationSpec,
        request_id: str,
    ) -> HttpResponse:
        emit = self._codecs(operation)[1]
        name = operation.name
        out = [f'<{name}Response xmlns="{namespace(service)}">']
        if emit is not None and operation.output_shape is not None:
            wrapper = operation.output_shape.serialization.get("resultWrapper", f"{name}Result")
            emit(result, wrapper, out)
        out.append(
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
        )
        return HttpResponse(200, _headers(request_id), "".join(out).encode())

    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        info, status = error_info(error, service)
        fault = "Sender" if (info.sender_fault if info.modelled else error.sender_fault) else "Receiver"
        ns = f' xmlns="{namespace(service)}"' if service is not None else ""
        body = (
            f"<ErrorResponse{ns}><Error><Type>{fault}</Type><Code>{escape(info.code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return HttpResponse(status, _headers(request_id), body.encode())


def _headers(request_id: str) -> list[tuple[str, str]]:
    return [("content-type", "text/xml"), ("x-amzn-RequestId", request_id)]
