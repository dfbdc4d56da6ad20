"""ARNs of parameters and secrets, and the ``valueFrom`` of an ECS ``secrets[]`` entry (pure).

>>> parameter_arn("us-east-1", "000000000000", "/app/db/password")
'arn:aws:ssm:us-east-1:000000000000:parameter/app/db/password'
>>> parse_value_from("arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:password::",
...                  "000000000000", "eu-west-1").json_key
'password'
"""

from __future__ import annotations

from dataclasses import dataclass

from ecsbox.core.ids import parse_arn
from ecsbox.secrets.names import parameter_key


def parameter_arn_prefix(region: str, account_id: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:parameter/"


def parameter_arn(region: str, account_id: str, name: str) -> str:
    return parameter_arn_prefix(region, account_id) + parameter_key(name)


def secret_arn(region: str, account_id: str, name: str, suffix: str) -> str:
    """``arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>``."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}"


@dataclass(frozen=True)
class ParameterArn:
    account_id: str
    region: str
    key: str  # the name without its leading slash, plus any ``:selector``


def parse_parameter_arn(text: str) -> ParameterArn | None:
    """The parts of ``arn:aws:ssm:<region>:<account>:parameter/<name>[:selector]``, or None."""
    parts = parse_arn(text)
    if parts is None or parts["service"] != "ssm" or not parts["resource"].startswith("parameter/"):
        return None
    key = parts["resource"][len("parameter/") :]
    if not key:
        return None
    return ParameterArn(parts["account"], parts["region"], key)


@dataclass(frozen=True)
class SecretArn:
    account_id: str
    region: str
    secret_id: str  # the secret part after ``secret:``: a name, with or without the 6-character suffix


def parse_secret_arn(text: str) -> SecretArn | None:
    """The parts of ``arn:aws:secretsmanager:<region>:<account>:secret:<name>[-XXXXXX]``, or None
    (also for an ARN that carries ECS's ``:json-key:stage:version`` suffix)."""
    parts = parse_arn(text)
    if parts is None or parts["service"] != "secretsmanager" or not parts["resource"].startswith("secret:"):
        return None
    secret_id = parts["resource"][len("secret:") :]
    if not secret_id or ":" in secret_id:
        return None
    return SecretArn(parts["account"], parts["region"], secret_id)


# ---- ECS secrets[].valueFrom -----------------------------------------------------------------


class InvalidReference(ValueError):
    """A ``valueFrom`` that names neither a parameter nor a secret."""


@dataclass(frozen=True)
class ParameterReference:
    account_id: str
    region: str
    name: str  # as given: a name (``/app/db/password``, ``app-param``) or the key from an ARN


@dataclass(frozen=True)
class SecretReference:
    account_id: str
    region: str
    secret_id: str  # the secret's ARN (full or partial), without ECS's suffix
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


def parse_value_from(value_from: str, account_id: str, region: str) -> ParameterReference | SecretReference:
    """What an ECS ``secrets[].valueFrom`` names, in the partition it names.

    A Secrets Manager ARN may end in ``:json-key:version-stage:version-id`` (each part may be
    empty). An SSM ARN picks its own account and region; a bare name is a parameter of the task's
    own partition (``account_id``, ``region``), as ECS resolves it.
    """
    text = value_from.strip()
    if not text:
        raise InvalidReference("valueFrom is empty")
    if not text.startswith("arn:"):
        return ParameterReference(account_id, region, text)
    parts = text.split(":")
    if len(parts) >= 7 and parts[2] == "secretsmanager" and parts[5] == "secret":
        extra = parts[7:]
        if not parts[6] or len(extra) > 3:
            raise InvalidReference(f"invalid Secrets Manager reference: {text}")
        json_key, version_stage, version_id = [*extra, "", "", ""][:3]
        return SecretReference(
            parts[4],
            parts[3],
            ":".join(parts[:7]),
            json_key or None,
            version_stage or None,
            version_id or None,
        )
    parameter = parse_parameter_arn(text)
    if parameter is None:
        raise InvalidReference(f"valueFrom is neither an SSM parameter nor a Secrets Manager secret: {text}")
    return ParameterReference(parameter.account_id, parameter.region, parameter.key)
