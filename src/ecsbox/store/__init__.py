"""Durable state: SQLAlchemy Core on SQLite (default) or PostgreSQL, one writer, versioned schema."""

from ecsbox.store import schema
from ecsbox.store.engine import Store
from ecsbox.store.errors import SchemaTooNew, StoreError
from ecsbox.store.prepared import BulkInsert, Prepared

__all__ = ["BulkInsert", "Prepared", "SchemaTooNew", "Store", "StoreError", "schema"]
