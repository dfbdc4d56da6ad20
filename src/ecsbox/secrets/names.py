"""Parameter Store names: validation, identity, selectors and hierarchy paths (pure).

A parameter's identity is its name without the leading slash — the part its ARN carries after
``parameter/`` — so at the top level ``/app-param`` and ``app-param`` name one parameter, as on
AWS (whose ARN for both is ``arn:aws:ssm:<region>:<account>:parameter/app-param``).

>>> parameter_key("/app/db/password"), parameter_key("app-param")
('app/db/password', 'app-param')
>>> split_selector("/app/db/password:3")
('/app/db/password', '3')
>>> in_path("/app/db/password", "/app", recursive=False), in_path("/app/db/password", "/app", recursive=True)
(False, True)
"""

from __future__ import annotations

import re

from ecsbox.secrets.model import (
    MAX_HIERARCHY_LEVELS,
    MAX_NAME_WITH_ARN_PREFIX,
    SecretsRuleError,
    ssm_validation,
)

_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")

INVALID_NAME = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can '
    "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers "
    "and the following 3 symbols .-_"
)
RESERVED_PREFIX = 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).'
RESERVED_PATH_PREFIX = (
    'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of '
    "sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the "
    "following 3 symbols .-_"
)
NOT_FULLY_QUALIFIED = "Parameter name must be a fully qualified name."
HIERARCHY_TOO_DEEP = (
    "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints "
    "for parameter names in the Amazon Web Services Systems Manager User Guide."
)
INVALID_PATH = (
    "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a "
    'forward slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). It must use only '
    "letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters "
    'are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". '
    "Valid example: /get/parameters2-/by1./path0_."
)


def parameter_key(name: str) -> str:
    """The parameter's identity: its name without the leading slash."""
    return name[1:] if name.startswith("/") else name


def segments(name: str) -> list[str]:
    """The hierarchy levels of a name: ``/a/b/c`` → ``["a", "b", "c"]``; ``a`` → ``["a"]``."""
    return parameter_key(name).split("/")


def check_parameter_name(raw: str, arn_prefix: str) -> str:
    """The name PutParameter stores, or the error AWS gives for it.

    Spaces around the name are dropped (AWS does); inside it they are invalid. A name with a
    hierarchy must start with ``/``; every level uses ``a-zA-Z0-9_.-``; at most 15 levels; no
    level-one prefix ``aws`` or ``ssm`` (case-insensitive); and ``arn_prefix + name`` (e.g.
    ``arn:aws:ssm:us-east-2:111122223333:parameter/`` + ``db/password``) fits in 1011 characters.
    """
    name = raw.strip()
    if "/" in name and not name.startswith("/"):
        raise ssm_validation(NOT_FULLY_QUALIFIED)
    levels = segments(name)
    first = levels[0].lower()
    if first.startswith(("aws", "ssm")):
        if name.startswith("/") and len(levels) > 1:
            if first.startswith("aws"):
                raise SecretsRuleError(
                    "AccessDeniedException", f"No access to reserved parameter name: {name}."
                )
            raise ssm_validation(RESERVED_PATH_PREFIX)
        raise ssm_validation(RESERVED_PREFIX)
    if not all(_SEGMENT.match(level) for level in levels):
        raise ssm_validation(INVALID_NAME)
    if len(levels) > MAX_HIERARCHY_LEVELS:
        raise SecretsRuleError("HierarchyLevelLimitExceededException", HIERARCHY_TOO_DEEP)
    if len(arn_prefix) + len(parameter_key(name)) > MAX_NAME_WITH_ARN_PREFIX:
        raise ssm_validation(
            f"Parameter name exceeds the maximum length: the name together with the ARN prefix {arn_prefix} "
            f"can have at most {MAX_NAME_WITH_ARN_PREFIX} characters."
        )
    return name


def split_selector(text: str) -> tuple[str, str | None]:
    """``name:selector`` → (name, selector); a selector is a version number or a label.

    >>> split_selector("app-param"), split_selector("app-param:prod")
    (('app-param', None), ('app-param', 'prod'))
    """
    name, colon, selector = text.strip().rpartition(":")
    if not colon:
        return text.strip(), None
    return name, selector


def check_path(path: str) -> str:
    """A hierarchy path for GetParametersByPath and the ``Path`` filter: ``/`` or ``/a/b`` (a
    trailing slash allowed). Returns it without the trailing slash (``/`` stays ``/``)."""
    path = path.strip()
    if path == "/":
        return path
    trimmed = path[:-1] if path.endswith("/") else path
    if not trimmed.startswith("/") or not all(_SEGMENT.match(level) for level in trimmed[1:].split("/")):
        raise ssm_validation(INVALID_PATH)
    return trimmed


def in_path(name: str, path: str, recursive: bool) -> bool:
    """Whether a parameter named ``name`` lies under ``path`` (checked, see :func:`check_path`):
    directly below it (one level), or anywhere below it when ``recursive``. Names without a
    leading slash sit at the root."""
    full = "/" + parameter_key(name)
    prefix = "/" if path == "/" else path + "/"
    if not full.startswith(prefix):
        return False
    return recursive or "/" not in full[len(prefix) :]
