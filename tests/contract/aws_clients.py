"""What contract tests share: a boto3 client pointed at a live ecsbox, and the AWS error a call got."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


def aws_client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def error_of(call: Any, **params: Any) -> tuple[str, int, str]:
    """(code, HTTP status, message) of the ClientError the call raises."""
    with pytest.raises(ClientError) as info:
        call(**params)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )
