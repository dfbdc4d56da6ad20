"""The root of ecsbox's own error tree; every layer derives its errors from it."""


class EcsboxError(Exception):
    """Base of every error ecsbox raises on purpose."""
