"""SSM Parameter Store and Secrets Manager: the values behind task definitions' ``secrets``.

Other packages use only what is named here: :func:`register` (the composition root), and
:func:`resolve_secret_reference` / :class:`SecretNotFound` (ECS, when it starts a task's containers).
"""

from ecsbox.secrets.api import register, secretsmanager_operations, ssm_operations
from ecsbox.secrets.references import SecretNotFound, resolve_secret_reference

__all__ = [
    "SecretNotFound",
    "register",
    "resolve_secret_reference",
    "secretsmanager_operations",
    "ssm_operations",
]
