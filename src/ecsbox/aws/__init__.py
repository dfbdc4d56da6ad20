"""The wire: botocore service models → request parsing, validation, routing and response
serialisation for the json, query, rest-json, rpc-v2-cbor (and rest-xml errors) protocols.

Capabilities register handlers on a :class:`ServiceRegistry`; the server hands every AWS request to
:meth:`Gateway.handle`. This package knows nothing of ECS.
"""

from __future__ import annotations

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.aws.gateway import Gateway
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.models import SERVICES
from ecsbox.aws.registry import Handler, ServiceRegistry

__all__ = [
    "SERVICES",
    "AwsError",
    "Gateway",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "RequestContext",
    "ServiceRegistry",
]
