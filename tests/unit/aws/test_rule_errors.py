import asyncio
from typing import Any

import pytest

from ecsbox.aws.errors import AwsError, rule_errors_as_aws


class ShopRuleError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def refuse_empty(params: dict[str, Any]) -> None:
    if not params.get("Name"):
        raise ShopRuleError("InvalidParameterValue", "Name must not be empty.")


async def handler(ctx: object, params: dict[str, Any]) -> dict[str, Any]:
    if params["Name"] == "gone":
        raise ShopRuleError("ResourceNotFoundException", "No such thing: gone.")
    if params["Name"] == "bug":
        raise KeyError("bug")
    return {"Name": params["Name"]}


def test_a_rule_error_becomes_the_aws_error_with_its_code_and_message() -> None:
    wrapped = rule_errors_as_aws(ShopRuleError)(handler)
    assert asyncio.run(wrapped(None, {"Name": "a"})) == {"Name": "a"}
    with pytest.raises(AwsError) as caught:
        asyncio.run(wrapped(None, {"Name": "gone"}))
    assert (caught.value.code, caught.value.message) == ("ResourceNotFoundException", "No such thing: gone.")
    assert isinstance(caught.value.__cause__, ShopRuleError)
    with pytest.raises(KeyError):  # anything else is not the boundary's to translate
        asyncio.run(wrapped(None, {"Name": "bug"}))
    assert wrapped.__name__ == "handler"


def test_the_request_check_runs_first_and_is_translated_too() -> None:
    wrapped = rule_errors_as_aws(ShopRuleError, refuse_empty)(handler)
    with pytest.raises(AwsError) as caught:
        asyncio.run(wrapped(None, {"Name": ""}))
    assert (caught.value.code, caught.value.message) == ("InvalidParameterValue", "Name must not be empty.")
    assert asyncio.run(wrapped(None, {"Name": "a"})) == {"Name": "a"}
