"""Resolving an ECS ``secrets[].valueFrom`` to the value a container gets in its environment, as the
ECS agent does when it starts a task (with the task execution role's GetParameters /
GetSecretValue). Failures carry the text ECS puts in the stopped task's ``stoppedReason``.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection

from ecsbox.core.errors import EcsboxError
from ecsbox.secrets import secret_repo
from ecsbox.secrets.arns import InvalidReference, ParameterReference, SecretReference, parse_value_from
from ecsbox.secrets.model import SecretsRuleError, marked_for_deletion
from ecsbox.secrets.parameters import find_parameter
from ecsbox.secrets.secret_lookup import find_secret, select_version
from ecsbox.store import Store

PULL_FAILED = "ResourceInitializationError: unable to pull secrets or registry auth: "
RETRIEVAL_FAILED = PULL_FAILED + "execution resource retrieval failed: "
FROM_SSM = RETRIEVAL_FAILED + "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
FROM_ASM = RETRIEVAL_FAILED + "unable to retrieve secret from asm: service call has been retried 1 time(s): "


class SecretNotFound(EcsboxError):
    """A ``valueFrom`` that cannot be resolved. ``message`` is what ECS reports, e.g.
    ``ResourceInitializationError: unable to pull secrets or registry auth: execution resource
    retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1
    time(s): invalid ssm parameters: /app/db/password``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _json_key(secret_string: str, json_key: str) -> str:
    """The value of ``json_key`` in a JSON object secret: strings as they are, anything else as
    JSON text."""
    missing = SecretNotFound(
        FROM_ASM + f"retrieved secret from Secrets Manager did not contain json key {json_key}"
    )
    try:
        document = json.loads(secret_string)
    except ValueError:
        raise missing from None
    if not isinstance(document, dict) or json_key not in document:
        raise missing
    value = document[json_key]
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _parameter_value(conn: Connection, ref: ParameterReference, value_from: str) -> str:
    try:
        _row, version, _selector = find_parameter(conn, (ref.account_id, ref.region), ref.name)
    except SecretsRuleError:
        raise SecretNotFound(FROM_SSM + f"invalid ssm parameters: {ref.name}") from None
    del value_from
    return version.value


def _secret_value(conn: Connection, ref: SecretReference, now: float) -> str:
    try:
        row = find_secret(conn, (ref.account_id, ref.region), ref.secret_id, now)
        if row.deletion_date is not None:
            raise marked_for_deletion()
        version = select_version(secret_repo.get_versions(conn, row.arn), ref.version_id, ref.version_stage)
    except SecretsRuleError as exc:
        raise SecretNotFound(
            FROM_ASM
            + f"failed to fetch secret {ref.secret_id} from secrets manager: {exc.code}: {exc.message}"
        ) from None
    if version.secret_string is None:
        raise SecretNotFound(
            FROM_ASM + f"secret {ref.secret_id} holds a SecretBinary; ECS passes only SecretString values"
        )
    if ref.json_key is None:
        return version.secret_string
    return _json_key(version.secret_string, ref.json_key)


async def resolve_secret_reference(
    store: Store, account_id: str, region: str, value_from: str, *, now: float | None = None
) -> str:
    """The value behind an ECS ``secrets[].valueFrom`` for a task in (``account_id``, ``region``).

    ``value_from`` is an SSM parameter name (``/app/db/password``, ``app-param``, optionally with
    ``:version``) or ARN, or a Secrets Manager ARN, full or partial, optionally followed by
    ``:json-key:version-stage:version-id`` (``arn:aws:secretsmanager:us-east-1:123456789012:secret:
    db-AbCdEf:password::``). An ARN's own account and region pick the partition. ``now`` (ecsbox's
    clock) makes secrets past their recovery window count as gone; without it they count as marked
    for deletion — unresolvable either way. Raises :class:`SecretNotFound`.
    """
    try:
        ref = parse_value_from(value_from, account_id, region)
    except InvalidReference as exc:
        raise SecretNotFound(RETRIEVAL_FAILED + str(exc)) from None
    moment = now if now is not None else float("-inf")

    def read(conn: Connection) -> str:
        if isinstance(ref, ParameterReference):
            return _parameter_value(conn, ref, value_from)
        return _secret_value(conn, ref, moment)

    return await store.read(read)
