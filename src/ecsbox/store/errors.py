"""The store's error tree: database errors are caught where they enter and become these."""

from ecsbox.core.errors import EcsboxError


class StoreError(EcsboxError):
    """The database failed (locked, disk full, connection lost)."""


class SchemaTooNew(StoreError):
    """The data directory was written by a newer ecsbox; refusing to downgrade it."""
