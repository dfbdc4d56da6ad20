"""Every table ecsbox keeps, in SQLAlchemy Core, portable between SQLite and PostgreSQL.

A new database is created from these definitions and stamped with the latest schema version; an
older one is brought forward by the steps in :mod:`ecsbox.store.migrations`. So a change to a
table here must come with a migration step that makes the same change to an existing database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Key/value facts about the data directory itself: schema version, the scaled clock's t0.
meta = Table(
    "ecsbox_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Resource tags for every capability, keyed by the resource's ARN (which carries account and region).
tags = Table(
    "tags",
    metadata,
    Column("resource_arn", String(1024), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
    # Insertion order, so tags come back in the order they were given (0 for writers that don't care).
    Column("seq", BigInteger, nullable=False, server_default="0"),
)

# ---- ECS -------------------------------------------------------------------------------------

# The last revision ever handed out per family: revisions are never reused, even after deletion.
ecs_families = Table(
    "ecs_families",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("family", String(255), primary_key=True),
    Column("last_revision", Integer, nullable=False),
)

ecs_task_definitions = Table(
    "ecs_task_definitions",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("family", String(255), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String(32), nullable=False),  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
    Column("registered_at", Float, nullable=False),
    Column("document", Text, nullable=False),  # the TaskDefinition as DescribeTaskDefinition returns it
    UniqueConstraint("account_id", "region", "family", "revision", name="uq_ecs_task_definitions"),
    Index("ix_ecs_taskdef_status", "account_id", "region", "status", "family", "revision"),
)

ecs_clusters = Table(
    "ecs_clusters",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),  # ACTIVE | INACTIVE (deleted clusters stay describable)
    Column("created_at", Float, nullable=False),
    Column("seq", BigInteger, nullable=False),  # creation order, for stable listing
    Column("document", Text, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_ecs_clusters"),
)

ecs_capacity_providers = Table(
    "ecs_capacity_providers",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_ecs_capacity_providers"),
)

# Account settings: principal_arn "" holds the account default (PutAccountSettingDefault).
ecs_account_settings = Table(
    "ecs_account_settings",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("principal_arn", String(1024), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)
