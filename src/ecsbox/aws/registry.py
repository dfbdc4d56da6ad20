"""Which services ecsbox serves, their operations, and the handlers capabilities register.

>>> registry = ServiceRegistry()
>>> registry.register("ecs", "ListClusters", lambda context, params: {"clusterArns": []})
>>> registry.registered("ecs")
{'ListClusters'}
>>> registry.service("cloudwatch").validation_code, registry.service("cloudwatch").missing_code
('InvalidParameterValue', 'MissingParameter')
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from ecsbox.aws.context import RequestContext
from ecsbox.aws.models import SERVICES, load_model, protocols_of

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]

# The code each service answers for input that breaks its model. Most are error shapes of the model
# (a test checks that); sts, elbv2 and events answer codes their models do not declare, as AWS does,
# and S3's InvalidArgument is not modelled either.
VALIDATION_CODES: dict[str, str] = {
    "ecs": "InvalidParameterException",
    "ecr": "InvalidParameterException",
    "cloudwatch": "InvalidParameterValue",
    "logs": "InvalidParameterException",
    "sns": "InvalidParameter",
    "ssm": "ValidationException",
    "secretsmanager": "InvalidParameterException",
    "sts": "ValidationError",
    "application-autoscaling": "ValidationException",
    "xray": "InvalidRequestException",
    "elbv2": "ValidationError",
    "events": "ValidationException",
    "firehose": "InvalidArgumentException",
    "s3": "InvalidArgument",
    "codepipeline": "ValidationException",
    "codebuild": "InvalidInputException",
    "codedeploy": "InvalidInputException",
}
UNMODELLED_VALIDATION_CODES = frozenset({"sts", "elbv2", "events", "s3"})
# The code for a missing required member, where the model has one of its own.
MISSING_CODE = "MissingParameter"


@dataclass(frozen=True)
class ErrorInfo:
    """How one error code goes on the wire: ``shape_name`` for json ``__type``, ``code`` for query
    XML and ``x-amzn-query-error``, the model's HTTP status (None when silent)."""

    shape_name: str
    code: str
    status: int | None
    sender_fault: bool
    modelled: bool


@dataclass
class OperationSpec:
    """One operation and whatever the protocols compile for it (filled lazily, kept forever)."""

    name: str
    model: OperationModel
    input_shape: Shape | None
    output_shape: Shape | None
    compiled: dict[str, Any] = field(default_factory=dict)


class ServiceSpec:
    """One service: its model, routing names, error codes and registered handlers."""

    def __init__(self, name: str, model: ServiceModel) -> None:
        metadata = model.metadata
        self.name = name
        self.model = model
        self.protocols = protocols_of(model)
        self.target_prefix: str | None = metadata.get("targetPrefix")
        self.signing_names = {metadata.get("signingName"), metadata.get("endpointPrefix"), name} - {None}
        self.api_version: str = metadata["apiVersion"]
        self.query_compatible = "awsQueryCompatible" in metadata
        self.validation_code = VALIDATION_CODES.get(name, "ValidationException")
        self.missing_code = MISSING_CODE if MISSING_CODE in self.errors else self.validation_code
        self.handlers: dict[str, Handler] = {}
        # Operations that answer requests with no signature at all (SNS's SubscribeURL and
        # UnsubscribeURL are plain GETs); such a request's caller is anonymous.
        self.unsigned_operations: set[str] = set()
        self._operations: dict[str, OperationSpec] = {}
        self.compiled: dict[str, Any] = {}  # per-protocol caches (e.g. the rest route table)

    @functools.cached_property
    def operation_names(self) -> frozenset[str]:
        return frozenset(self.model.operation_names)

    @functools.cached_property
    def errors(self) -> dict[str, ErrorInfo]:
        """Every error the model declares, by shape name and by its query code."""
        table: dict[str, ErrorInfo] = {}
        for shape in self.model.error_shapes:
            error = shape.metadata.get("error", {})
            info = ErrorInfo(
                shape_name=shape.name,
                code=error.get("code", shape.name),
                status=error.get("httpStatusCode"),
                sender_fault=error.get("senderFault", True),
                modelled=True,
            )
            table.setdefault(shape.name, info)
            table.setdefault(info.code, info)
        return table

    def error(self, code: str, status: int | None, sender_fault: bool) -> ErrorInfo:
        """How ``code`` goes on the wire for this service; codes the model lacks pass through."""
        info = self.errors.get(code)
        if info is None:
            return ErrorInfo(code, code, status, sender_fault, modelled=False)
        return info

    def operation(self, name: str) -> OperationSpec | None:
        spec = self._operations.get(name)
        if spec is None:
            if name not in self.operation_names:
                return None
            model = self.model.operation_model(name)
            spec = OperationSpec(name, model, model.input_shape, model.output_shape)
            self._operations[name] = spec
        return spec

    @property
    def rest_protocol(self) -> str | None:
        for protocol in self.protocols:
            if protocol in ("rest-json", "rest-xml"):
                return protocol
        return None


class ServiceRegistry:
    """Every service ecsbox serves, indexed the ways a request can name it."""

    def __init__(self) -> None:
        self._services: dict[str, ServiceSpec] = {
            name: ServiceSpec(name, load_model(name)) for name in SERVICES
        }
        self._by_target: dict[str, ServiceSpec] = {}
        self._by_signing_name: dict[str, ServiceSpec] = {}
        for spec in self._services.values():
            if spec.target_prefix:
                self._by_target[spec.target_prefix] = spec
            for signing_name in spec.signing_names:
                self._by_signing_name.setdefault(signing_name, spec)
        self._query_actions: dict[str, list[ServiceSpec]] = {}
        for spec in self._services.values():
            if "query" in spec.protocols:
                for operation in spec.operation_names:
                    self._query_actions.setdefault(operation, []).append(spec)

    def register(self, service: str, operation: str, handler: Handler) -> None:
        """Serve ``operation`` of ``service`` with ``handler``; ValueError when the model lacks it."""
        spec = self.service(service)
        if operation not in spec.operation_names:
            raise ValueError(f"{service} has no operation {operation!r} in its model")
        spec.handlers[operation] = handler

    def allow_unsigned(self, service: str, operation: str) -> None:
        """Let ``operation`` answer requests that carry no signature (even when signatures are
        checked strictly); its handler sees an anonymous caller (empty account, region and principal)."""
        spec = self.service(service)
        if operation not in spec.operation_names:
            raise ValueError(f"{service} has no operation {operation!r} in its model")
        spec.unsigned_operations.add(operation)

    def registered(self, service: str) -> set[str]:
        return set(self.service(service).handlers)

    def service(self, name: str) -> ServiceSpec:
        try:
            return self._services[name]
        except KeyError:
            raise ValueError(f"ecsbox does not serve {name!r}") from None

    def services(self) -> list[ServiceSpec]:
        return list(self._services.values())

    def by_target_prefix(self, prefix: str) -> ServiceSpec | None:
        return self._by_target.get(prefix)

    def by_signing_name(self, name: str) -> ServiceSpec | None:
        return self._by_signing_name.get(name)

    def by_query_action(self, action: str) -> ServiceSpec | None:
        """The one query service with this action (for unsigned calls such as
        AssumeRoleWithWebIdentity); None when none or several have it."""
        candidates = self._query_actions.get(action, [])
        return candidates[0] if len(candidates) == 1 else None
