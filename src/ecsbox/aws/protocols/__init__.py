"""One module per AWS wire protocol, keyed by botocore's protocol names."""

from __future__ import annotations

from ecsbox.aws.protocols.base import Protocol
from ecsbox.aws.protocols.cbor import CborProtocol
from ecsbox.aws.protocols.json import JsonProtocol
from ecsbox.aws.protocols.query import QueryProtocol
from ecsbox.aws.protocols.restjson import RestJsonProtocol
from ecsbox.aws.protocols.restxml import RestXmlProtocol

PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (JsonProtocol(), QueryProtocol(), RestJsonProtocol(), CborProtocol(), RestXmlProtocol())
}

__all__ = ["PROTOCOLS", "Protocol"]
