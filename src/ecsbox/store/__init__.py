"""Durable state: SQLAlchemy Core on SQLite (default) or PostgreSQL, one writer, versioned schema."""

from ecsbox.store import schema
from ecsbox.store.engine import Store
from ecsbox.store.errors import SchemaTooNew, StoreError
from ecsbox.store.prepared import Prepared

__all__ = ["Prepared", "SchemaTooNew", "Store", "StoreError", "schema"]
