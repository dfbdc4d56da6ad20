"""The SNS operations: the table of operation name → handler that :func:`register` hands to the
wire layer's registry, and what the composition root gets back (the delivery worker to run, the
notifier for other capabilities, and the signing certificate's place under ``/_ecsbox``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.core.clock import Clock
from ecsbox.notify.deliveries import Deliveries
from ecsbox.notify.handling import Deps, Handler, MessageSigner
from ecsbox.notify.messages import CERTIFICATE_PATH
from ecsbox.notify.publishing import Notifier, Publishing
from ecsbox.notify.signing import load_signer
from ecsbox.notify.subscriptions import Subscriptions
from ecsbox.notify.topics import Topics
from ecsbox.store import Store

Responder = Callable[[HttpRequest], Awaitable[HttpResponse]]
# Operations the URLs in SNS's messages call with a plain GET, carrying no signature.
UNSIGNED_OPERATIONS = ("ConfirmSubscription", "Unsubscribe")


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...

    def allow_unsigned(self, service: str, operation: str) -> None: ...


def notify_operations(deps: Deps) -> dict[str, Handler]:
    """Every SNS operation ecsbox implements, bound to its dependencies."""
    topics = Topics(deps)
    subscriptions = Subscriptions(deps)
    publishing = Publishing(deps)
    return {
        "CreateTopic": topics.create,
        "DeleteTopic": topics.delete,
        "ListTopics": topics.list,
        "GetTopicAttributes": topics.get_attributes,
        "SetTopicAttributes": topics.set_attributes,
        "TagResource": topics.tag_resource,
        "UntagResource": topics.untag_resource,
        "ListTagsForResource": topics.list_tags,
        "Subscribe": subscriptions.subscribe,
        "ConfirmSubscription": subscriptions.confirm,
        "Unsubscribe": subscriptions.unsubscribe,
        "ListSubscriptions": subscriptions.list,
        "ListSubscriptionsByTopic": subscriptions.list_by_topic,
        "GetSubscriptionAttributes": subscriptions.get_attributes,
        "SetSubscriptionAttributes": subscriptions.set_attributes,
        "Publish": publishing.publish,
    }


def certificate_responder(signer: MessageSigner, fallback: Responder) -> Responder:
    """Answers ``GET /_ecsbox/sns/SimpleNotificationService.pem`` with the signing certificate (what
    a message's SigningCertURL names); hands every other request to ``fallback``."""

    async def respond(request: HttpRequest) -> HttpResponse:
        if request.path != CERTIFICATE_PATH or not signer.certificate_pem:
            return await fallback(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("content-type", "text/plain")], b"method not allowed")
        body = signer.certificate_pem if request.method == "GET" else b""
        return HttpResponse(200, [("content-type", "application/x-pem-file")], body)

    return respond


@dataclass
class Sns:
    """What :func:`register` gives the composition root."""

    deliveries: Deliveries  # run ``deliveries.run()`` beside the server
    notifier: Notifier  # publishing for other capabilities (alarm actions)
    signer: MessageSigner

    def serve_certificate(self, operator: Responder) -> Responder:
        """The operator endpoints, plus the signing certificate under ``/_ecsbox/sns/``."""
        return certificate_responder(self.signer, operator)


def register(
    registry: Registry,
    store: Store,
    clock: Clock,
    *,
    endpoint_url: str | Callable[[], str],
    mailbox_dir: Path,
) -> Sns:
    """Register every SNS operation with the wire layer's registry. ``endpoint_url`` is ecsbox's
    own address (a function when the port is known only once the server has bound it); email
    deliveries go to mailbox files in ``mailbox_dir``."""
    url = endpoint_url if callable(endpoint_url) else (lambda: str(endpoint_url))
    signer = load_signer(store, clock.wall())
    deliveries = Deliveries(store, clock, mailbox_dir)
    deps = Deps(store=store, clock=clock, endpoint_url=url, signer=signer, wake=deliveries.wake)
    for operation, handler in notify_operations(deps).items():
        registry.register("sns", operation, handler)
    for operation in UNSIGNED_OPERATIONS:
        registry.allow_unsigned("sns", operation)
    notifier = Notifier(store, clock, url, signer=signer, wake=deliveries.wake)
    return Sns(deliveries, notifier, signer)
