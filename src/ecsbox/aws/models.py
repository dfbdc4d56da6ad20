"""The botocore service models that define ecsbox's wire.

The pinned botocore's models are the contract: operation names, member names, required members,
enumerations and error codes all come from here, never typed by hand.

>>> load_model("ecs").metadata["targetPrefix"]
'AmazonEC2ContainerServiceV20141113'
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.model

SERVICES: tuple[str, ...] = (
    "ecs",
    "ecr",
    "cloudwatch",
    "logs",
    "sns",
    "ssm",
    "secretsmanager",
    "sts",
    "application-autoscaling",
    "xray",
    "elbv2",
    "events",
    "firehose",
    "s3",
    "codepipeline",
    "codebuild",
    "codedeploy",
)


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def load_model(name: str) -> botocore.model.ServiceModel:
    """The botocore ``ServiceModel`` of one service (any botocore name, cached for the process)."""
    data = _loader().load_service_model(name, "service-2")
    return botocore.model.ServiceModel(data, service_name=name)


def protocols_of(model: botocore.model.ServiceModel) -> tuple[str, ...]:
    """The wire protocols a service speaks, most preferred first.

    >>> protocols_of(load_model("cloudwatch"))
    ('smithy-rpc-v2-cbor', 'json', 'query')
    """
    listed = model.metadata.get("protocols")
    if listed:
        return tuple(listed)
    return (model.metadata["protocol"],)
