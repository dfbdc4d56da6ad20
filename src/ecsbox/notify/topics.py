"""Topics: CreateTopic, DeleteTopic, ListTopics, GetTopicAttributes, SetTopicAttributes and the
tag operations (TagResource, UntagResource, ListTagsForResource).

ecsbox serves standard topics; a FIFO topic (``.fifo``, FifoTopic=true) is refused with the
reason (they deliver only to SQS queues). KmsMasterKeyId, TracingConfig and the delivery status
logging attributes are kept and returned; ecsbox encrypts nothing at rest, sends no X-Ray segments
and writes no delivery status logs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.paging import decode_token, encode_token
from ecsbox.notify import delivery_repo, subscription_repo, topic_repo
from ecsbox.notify.handling import Deps, aws_errors, own_topic
from ecsbox.notify.model import (
    LIST_PAGE,
    MAX_TAGS,
    RESOURCE_NOT_FOUND,
    TAG_QUOTA,
    NotifyRuleError,
    TopicRef,
    invalid_parameter,
    is_valid_topic_name,
    topic_arn,
)
from ecsbox.notify.topic_attributes import (
    check_create_attributes,
    check_fifo_request,
    differs,
    set_attribute,
    topic_view,
)

_RESERVED_TAG_PREFIX = "aws:"


def check_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """A Tags list → key → value; duplicated keys and AWS's reserved prefix are refused."""
    keys = [tag["Key"] for tag in tags]
    if len(set(keys)) != len(keys):
        raise invalid_parameter("Duplicated keys are not allowed.")
    if any(key.lower().startswith(_RESERVED_TAG_PREFIX) for key in keys):
        raise invalid_parameter(f"Tag keys must not start with '{_RESERVED_TAG_PREFIX}'")
    if len(keys) > MAX_TAGS:
        raise NotifyRuleError("TagLimitExceeded", TAG_QUOTA)
    return {tag["Key"]: tag["Value"] for tag in tags}


def _resource_not_found() -> NotifyRuleError:
    return NotifyRuleError("ResourceNotFound", RESOURCE_NOT_FOUND)


class Topics:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        requested = {
            str(k): str(v) if v is not None else "" for k, v in (params.get("Attributes") or {}).items()
        }
        fifo = check_fifo_request(name, requested)
        if fifo is not None:
            raise fifo
        if not is_valid_topic_name(name):
            raise invalid_parameter("Topic Name")
        if params.get("DataProtectionPolicy"):
            raise invalid_parameter(
                "DataProtectionPolicy Reason: message data protection is no longer offered by SNS, nor by ecsbox"
            )
        attributes = check_create_attributes(requested)
        tags = check_tags(params.get("Tags") or [])
        ref = TopicRef(ctx.partition, name)
        now = self.deps.clock.now()

        def write(conn: Connection) -> dict[str, Any]:
            existing = topic_repo.find_topic(conn, ref)
            if existing is not None:
                if differs(existing.attributes, attributes):
                    raise invalid_parameter(
                        "Attributes Reason: Topic already exists with different attributes"
                    )
                present = topic_repo.get_tags(conn, ref.arn)
                if any(present.get(key) != value for key, value in tags.items()):
                    raise invalid_parameter("Tags Reason: Topic already exists with different tags")
                return {"TopicArn": ref.arn}
            topic_repo.insert_topic(conn, ref, attributes, now)
            topic_repo.put_tags(conn, ref.arn, tags)
            return {"TopicArn": ref.arn}

        return await self.store.write(write)

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Idempotent, as AWS documents: deleting a topic that does not exist is no error."""
        ref = own_topic(ctx, params["TopicArn"], "DeleteTopic")

        def write(conn: Connection) -> dict[str, Any]:
            if topic_repo.delete_topic(conn, ref):
                gone = subscription_repo.delete_of_topic(conn, ref.arn)
                delivery_repo.drop_for(conn, gone)
                topic_repo.clear_tags(conn, ref.arn)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = f"ListTopics:{ctx.account_id}:{ctx.region}"
        after: str | None = None
        if params.get("NextToken"):
            last = decode_token(params["NextToken"], scope)
            if last is None or len(last) != 1 or not isinstance(last[0], str):
                raise invalid_parameter("NextToken")
            after = last[0]
        names = await self.store.read(
            lambda c: topic_repo.topic_names(c, ctx.partition, after, LIST_PAGE + 1)
        )
        result: dict[str, Any] = {
            "Topics": [{"TopicArn": topic_arn(ctx.partition, n)} for n in names[:LIST_PAGE]]
        }
        if len(names) > LIST_PAGE:
            result["NextToken"] = encode_token(scope, [names[LIST_PAGE - 1]])
        return result

    @aws_errors
    async def get_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["TopicArn"], "GetTopicAttributes")

        def read(conn: Connection) -> dict[str, Any]:
            topic = topic_repo.require_topic(conn, ref)
            counts = subscription_repo.counts(conn, ref.arn)
            return {"Attributes": topic_view(ref.partition, ref.name, topic.attributes, counts)}

        return await self.store.read(read)

    @aws_errors
    async def set_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["TopicArn"], "SetTopicAttributes")
        name, value = params["AttributeName"], params.get("AttributeValue")

        def write(conn: Connection) -> dict[str, Any]:
            topic = topic_repo.require_topic(conn, ref)
            topic_repo.set_attributes(conn, ref, set_attribute(topic.attributes, name, value))
            return {}

        return await self.store.write(write)

    # -- tags --

    @aws_errors
    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["ResourceArn"], "TagResource", "ResourceArn")
        new_tags = check_tags(params["Tags"])

        def write(conn: Connection) -> dict[str, Any]:
            if topic_repo.find_topic(conn, ref) is None:
                raise _resource_not_found()
            present = topic_repo.get_tags(conn, ref.arn)
            if len(present | new_tags) > MAX_TAGS:
                raise NotifyRuleError("TagLimitExceeded", TAG_QUOTA)
            topic_repo.put_tags(conn, ref.arn, new_tags)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["ResourceArn"], "UntagResource", "ResourceArn")
        keys = list(params["TagKeys"])

        def write(conn: Connection) -> dict[str, Any]:
            if topic_repo.find_topic(conn, ref) is None:
                raise _resource_not_found()
            topic_repo.remove_tags(conn, ref.arn, keys)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["ResourceArn"], "ListTagsForResource", "ResourceArn")

        def read(conn: Connection) -> dict[str, Any]:
            if topic_repo.find_topic(conn, ref) is None:
                raise _resource_not_found()
            tags = topic_repo.get_tags(conn, ref.arn)
            return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

        return await self.store.read(read)
