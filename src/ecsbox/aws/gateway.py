"""The gateway: one HTTP request in, one AWS-shaped HTTP response out.

Steps: find the service and protocol → authenticate → resolve the operation → parse → validate →
call the registered handler → serialise the result. Every failure on the way is answered in the
protocol the request came in with the service's own error code; only a bug answers 500.

>>> import asyncio
>>> from ecsbox.aws.registry import ServiceRegistry
>>> class Anyone:
...     def authenticate(self, request):
...         from ecsbox.aws.sigv4 import Principal
...         return Principal("000000000000", "us-east-1", "AKID", "arn:aws:iam::000000000000:root")
>>> registry = ServiceRegistry()
>>> registry.register("ecs", "ListClusters", lambda context, params: {"clusterArns": ["arn:c"]})
>>> request = HttpRequest("POST", "/", "", {"x-amz-target": "AmazonEC2ContainerServiceV20141113.ListClusters",
...                       "content-type": "application/x-amz-json-1.1"}, b"{}")
>>> asyncio.run(Gateway(registry, Anyone()).handle(request)).body
b'{"clusterArns":["arn:c"]}'
"""

from __future__ import annotations

import dataclasses
import gzip  # noqa: F401  (used by the doctest)
import inspect
import logging
import uuid
import zlib
from typing import Any
from typing import Protocol as TypingProtocol

from ecsbox.aws import sigv4
from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError, NotImplementedOperation, TypeMismatch, ValidationError
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols import PROTOCOLS, Protocol
from ecsbox.aws.protocols.cbor import split_path
from ecsbox.aws.protocols.query import is_query_request, query_action
from ecsbox.aws.registry import ServiceRegistry, ServiceSpec
from ecsbox.aws.sigv4 import credential_scope
from ecsbox.aws.validate import validate

log = logging.getLogger("ecsbox.aws")


class Caller(TypingProtocol):
    @property
    def account_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def access_key_id(self) -> str: ...
    @property
    def principal_arn(self) -> str: ...


class Authenticator(TypingProtocol):
    def authenticate(self, request: HttpRequest) -> Caller: ...


ANONYMOUS = sigv4.Principal("", "", "", "")


class _Unroutable(Exception):
    pass


MAX_DECODED_BYTES = 16 * 1024 * 1024  # as the largest body ecsbox reads


def decoded(request: HttpRequest) -> HttpRequest:
    """The request with its body un-gzipped when ``Content-Encoding`` says gzip (SDKs compress
    CloudWatch's PutMetricData bodies over 10 KB), at most 16 MiB of it; other requests as they are.
    The signature covers the body as sent, so authentication keeps the original request.

    >>> plain = HttpRequest("POST", "/", "", {"content-encoding": "gzip"}, gzip.compress(b"Action=X"))
    >>> decoded(plain).body, decoded(plain).headers
    (b'Action=X', {})
    """
    encodings = [
        e.strip().lower() for e in request.headers.get("content-encoding", "").split(",") if e.strip()
    ]
    if "gzip" not in encodings:
        return request
    try:
        inflater = zlib.decompressobj(wbits=31)
        body = inflater.decompress(request.body, MAX_DECODED_BYTES + 1)
        if len(body) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
            raise AwsError("RequestEntityTooLarge", "The decompressed request body is too large.", 413)
        if not inflater.eof:
            raise zlib.error("truncated")
    except zlib.error:
        raise AwsError("SerializationException", "The request body is not valid gzip.", 400) from None
    headers = {name: value for name, value in request.headers.items() if name != "content-encoding"}
    rest = [e for e in encodings if e != "gzip"]
    if rest:
        headers["content-encoding"] = ",".join(rest)
    return dataclasses.replace(request, body=body, headers=headers)


class Gateway:
    """Routes wire requests to the handlers registered in a :class:`ServiceRegistry`."""

    def __init__(self, registry: ServiceRegistry, authenticator: Authenticator) -> None:
        self.registry = registry
        self.authenticator = authenticator
        self._json = PROTOCOLS["json"]

    def route(self, request: HttpRequest) -> tuple[ServiceSpec, Protocol]:
        """The service a request goes to and the protocol it speaks; raises _Unroutable."""
        headers = request.headers
        if headers.get("smithy-protocol") == "rpc-v2-cbor":
            parts = split_path(request.path)
            service = self.registry.by_target_prefix(parts[0]) if parts else None
            if service is None:
                raise _Unroutable(f"No service is named by the path {request.path}")
            return service, PROTOCOLS["smithy-rpc-v2-cbor"]
        target = headers.get("x-amz-target")
        if target:
            service = self.registry.by_target_prefix(target.rpartition(".")[0])
            if service is None:
                raise _Unroutable(f"No service has the target {target}")
            return service, self._json
        is_query = is_query_request(request)
        scope = sigv4.credential_scope(request)
        if scope is not None:
            service = self.registry.by_signing_name(scope.service)
            if service is None:
                raise _Unroutable(f"ecsbox does not serve {scope.service!r}")
            if is_query and "query" in service.protocols:
                return service, PROTOCOLS["query"]
            rest = service.rest_protocol
            if rest is not None:
                return service, PROTOCOLS[rest]
            if "query" in service.protocols:
                return service, PROTOCOLS["query"]
            return service, PROTOCOLS[service.protocols[0]]
        if is_query:
            action = query_action(request)
            service = self.registry.by_query_action(action) if action else None
            if service is not None:
                return service, PROTOCOLS["query"]
            raise _Unroutable("An unsigned query request must name an action only one service has")
        raise _Unroutable("The request names no service: no X-Amz-Target, no SigV4 credential scope")

    async def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        signed = request  # the body as sent: what a signature covers
        try:
            request = decoded(request)
        except AwsError as error:
            return self._json.serialize_error(error, request, None, request_id)
        try:
            service, protocol = self.route(request)
        except _Unroutable as exc:
            unknown = AwsError("UnknownServiceException", str(exc), 400)
            return self._json.serialize_error(unknown, request, None, request_id)
        try:
            return await self._serve(request, service, protocol, request_id, signed)
        except AwsError as error:
            return self._error(protocol, error, request, service, request_id)
        except Exception:
            log.exception(
                "event=unhandled_error service=%s method=%s path=%s request_id=%s",
                service.name,
                request.method,
                request.path,
                request_id,
            )
            failure = AwsError(
                "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.",
                500,
                sender_fault=False,
            )
            return self._error(protocol, failure, request, service, request_id)

    async def _serve(
        self,
        request: HttpRequest,
        service: ServiceSpec,
        protocol: Protocol,
        request_id: str,
        signed: HttpRequest | None = None,
    ) -> HttpResponse:
        scope = credential_scope(request)
        caller = self._caller(signed or request, service, protocol, scope)
        if scope is not None and scope.service not in service.signing_names:
            # A signature for one service must not open another (the route comes from headers the
            # signature may not cover).
            expected = next(iter(sorted(service.signing_names)))
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{expected}'.",
                403,
            )
        name = protocol.operation_name(request, service)
        operation = service.operation(name) if name else None
        if operation is None:
            raise protocol.unknown_operation(name, service)
        params = protocol.parse(request, service, operation)
        try:
            validate(operation.input_shape, params)
        except TypeMismatch as exc:
            code = service.validation_code if protocol.name == "query" else "SerializationException"
            raise AwsError(code, exc.message, 400) from None
        except ValidationError as exc:
            code = service.missing_code if exc.missing else service.validation_code
            raise AwsError(code, exc.message, 400) from None
        handler = service.handlers.get(operation.name)
        if handler is None:
            raise NotImplementedOperation(service.name, operation.name)
        context = RequestContext(
            account_id=caller.account_id,
            region=caller.region,
            service=service.name,
            operation=operation.name,
            request_id=request_id,
            access_key_id=caller.access_key_id,
            principal_arn=caller.principal_arn,
        )
        result: Any = handler(context, params)
        if inspect.isawaitable(result):
            result = await result
        return protocol.serialize(result or {}, request, service, operation, request_id)

    def _caller(
        self,
        request: HttpRequest,
        service: ServiceSpec,
        protocol: Protocol,
        scope: sigv4.CredentialScope | None,
    ) -> Caller:
        """Who calls: the authenticated principal, or nobody for an unsigned request to an
        operation that allows that (SNS's ConfirmSubscription and Unsubscribe links)."""
        unsigned = scope is None and bool(service.unsigned_operations)
        if unsigned and protocol.operation_name(request, service) in service.unsigned_operations:
            return ANONYMOUS
        return self.authenticator.authenticate(request)

    def _error(
        self, protocol: Protocol, error: AwsError, request: HttpRequest, service: ServiceSpec, request_id: str
    ) -> HttpResponse:
        if isinstance(error, TypeMismatch | ValidationError) and error.code == "ValidationException":
            error = AwsError(
                service.missing_code if error.missing else service.validation_code, error.message, 400
            )
        return protocol.serialize_error(error, request, service, request_id)
