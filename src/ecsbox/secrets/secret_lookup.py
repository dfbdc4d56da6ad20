"""Finding a secret and one of its versions, writing a new version, and the views Secrets Manager
returns — shared by the Secrets Manager operations and by ECS secret resolution."""

from __future__ import annotations

import re
import secrets as random_source
import uuid

from sqlalchemy import Connection

from ecsbox.secrets import repo, secret_repo
from ecsbox.secrets.arns import parse_secret_arn
from ecsbox.secrets.model import (
    ARN_SUFFIX_ALPHABET,
    ARN_SUFFIX_LENGTH,
    AWSCURRENT,
    MAX_SECRET_VERSIONS,
    SECONDS_PER_DAY,
    Document,
    SecretsRuleError,
    invalid_parameter,
    invalid_request,
    no_value_for_stage,
    no_value_for_version,
    secret_not_found,
)
from ecsbox.secrets.stages import move_stages, versions_to_drop

_NAME = re.compile(r"^[A-Za-z0-9/_+=.@\-]+$")
INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
)
BOTH_VALUES = "You can't specify both a binary secret value and a string secret value in the same secret."
VERSION_EXISTS = "You can't modify an existing version, you can only create new versions."


def check_secret_name(name: str) -> str:
    if not _NAME.match(name):
        raise invalid_parameter(INVALID_NAME)
    return name


def random_suffix() -> str:
    """The six random characters AWS appends to a secret's ARN."""
    return "".join(random_source.choice(ARN_SUFFIX_ALPHABET) for _ in range(ARN_SUFFIX_LENGTH))


def version_id_for(token: str | None) -> str:
    """The new version's id: the client's request token (SDKs and the CLI always send one)."""
    return token or str(uuid.uuid4())


def day_of(moment: float) -> float:
    """LastAccessedDate is kept to the day (midnight UTC), as AWS does."""
    return moment - moment % SECONDS_PER_DAY


def find_secret(
    conn: Connection, partition: tuple[str, str], secret_id: str, now: float
) -> secret_repo.SecretRow:
    """The secret named by ``secret_id``: its name, its full ARN, or its partial ARN (the ARN
    without the 6-character suffix). Secrets past their recovery window are gone."""
    if secret_id.startswith("arn:"):
        arn = parse_secret_arn(secret_id)
        if arn is None or (arn.account_id, arn.region) != partition:
            raise secret_not_found()
        row = secret_repo.get_secret_by_arn(conn, secret_id, now)
        if row is None:
            row = secret_repo.get_secret_by_name(conn, partition, arn.secret_id, now)
    else:
        row = secret_repo.get_secret_by_name(conn, partition, secret_id, now)
    if row is None:
        raise secret_not_found()
    return row


def select_version(
    versions: list[secret_repo.SecretVersionRow], version_id: str | None, version_stage: str | None
) -> secret_repo.SecretVersionRow:
    """The version GetSecretValue returns: by id (whose stages must then include ``version_stage``
    when both are given), else the one carrying ``version_stage`` (AWSCURRENT by default)."""
    if version_id:
        for version in versions:
            if version.version_id == version_id:
                if version_stage and version_stage not in version.stages:
                    raise invalid_request(
                        "You provided a VersionStage that is not associated to the provided VersionId."
                    )
                return version
        raise no_value_for_version(version_id)
    stage = version_stage or AWSCURRENT
    for version in versions:
        if stage in version.stages:
            return version
    raise no_value_for_stage(stage)


def value_members(version: secret_repo.SecretVersionRow) -> Document:
    if version.secret_binary is not None:
        return {"SecretBinary": version.secret_binary}
    return {"SecretString": version.secret_string}


def write_version(
    conn: Connection,
    row: secret_repo.SecretRow,
    token: str | None,
    secret_string: str | None,
    secret_binary: bytes | None,
    stages: list[str],
    now: float,
) -> tuple[str, list[str]]:
    """Add a version carrying ``stages`` (moving them, and AWSPREVIOUS, as AWS does); a retry with
    the same token and value changes nothing. Returns (version id, its stages)."""
    version_id = version_id_for(token)
    versions = secret_repo.get_versions(conn, row.arn)
    for version in versions:
        if version.version_id == version_id:
            if (version.secret_string, version.secret_binary) != (secret_string, secret_binary):
                raise SecretsRuleError("ResourceExistsException", VERSION_EXISTS)
            return version_id, version.stages
    moved = move_stages({v.version_id: v.stages for v in versions}, version_id, stages)
    secret_repo.set_stages(
        conn,
        row.arn,
        {v.version_id: moved[v.version_id] for v in versions if moved[v.version_id] != v.stages},
    )
    seq = (versions[-1].seq if versions else 0) + 1
    secret_repo.insert_version(
        conn,
        row.arn,
        secret_repo.SecretVersionRow(version_id, seq, now, moved[version_id], secret_string, secret_binary),
    )
    oldest_first = {v.version_id: moved[v.version_id] for v in versions} | {version_id: moved[version_id]}
    secret_repo.delete_versions(conn, row.arn, versions_to_drop(oldest_first, MAX_SECRET_VERSIONS))
    return version_id, moved[version_id]


def tag_list(conn: Connection, arn: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in repo.get_tags(conn, arn).items()]


def secret_view(conn: Connection, row: secret_repo.SecretRow, stages_member: str) -> Document:
    """DescribeSecret's answer (``stages_member`` "VersionIdsToStages") or a ListSecrets entry
    ("SecretVersionsToStages"). Members AWS omits when empty are omitted."""
    view: Document = {"ARN": row.arn, "Name": row.name}
    for member in ("Description", "KmsKeyId"):
        if row.document.get(member):
            view[member] = row.document[member]
    view["LastChangedDate"] = row.last_changed_at
    if row.last_accessed_at is not None:
        view["LastAccessedDate"] = row.last_accessed_at
    if row.deletion_date is not None:
        view["DeletedDate"] = row.deletion_date
    tags = tag_list(conn, row.arn)
    if tags:
        view["Tags"] = tags
    stages = secret_repo.stages_of(conn, row.arn)
    if stages:
        view[stages_member] = stages
    view["CreatedDate"] = row.created_at
    return view
