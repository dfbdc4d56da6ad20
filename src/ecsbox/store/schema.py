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
    LargeBinary,
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

# Tasks: the Task document as DescribeTasks returns it, plus what ecsbox keeps to run it
# (container ids, the network) in ``runtime``. Stopped tasks stay an hour, then are removed.
ecs_tasks = Table(
    "ecs_tasks",
    metadata,
    Column("task_arn", String(512), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster", String(255), nullable=False),
    Column("task_id", String(64), nullable=False),
    Column("desired_status", String(32), nullable=False),
    Column("last_status", String(32), nullable=False),
    Column("service_name", String(255), nullable=True),
    Column("started_by", String(128), nullable=True),
    Column("group_name", String(255), nullable=True),
    Column("family", String(255), nullable=False),
    Column("launch_type", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("stopped_wall", Float, nullable=True),  # wall-clock time it reached STOPPED (for expiry)
    Column("document", Text, nullable=False),
    Column("runtime", Text, nullable=False),
    Index("ix_ecs_tasks_cluster", "account_id", "region", "cluster", "desired_status"),
    Index("ix_ecs_tasks_service", "account_id", "region", "cluster", "service_name"),
    Index("ix_ecs_tasks_active", "last_status"),
)

# Services: the Service document as DescribeServices returns it, plus the scheduler's own state.
ecs_services = Table(
    "ecs_services",
    metadata,
    Column("service_arn", String(512), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("cluster", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),  # ACTIVE | DRAINING | INACTIVE
    Column("created_at", Float, nullable=False),
    Column("document", Text, nullable=False),
    Column("scheduler", Text, nullable=False),
    Index("ix_ecs_services_cluster", "account_id", "region", "cluster", "name"),
)

# Custom attributes (PutAttributes) of container instances, per cluster.
ecs_attributes = Table(
    "ecs_attributes",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("cluster", String(255), primary_key=True),
    Column("target_id", String(512), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", String(128), nullable=True),
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

# ---- SSM Parameter Store and Secrets Manager (ecsbox.secrets) ----------------------------------

# One row per parameter. ``key`` is the name without its leading slash (the part its ARN carries),
# so ``/app-param`` and ``app-param`` are one parameter, as on AWS; ``name`` is the name as created.
ssm_parameters = Table(
    "ssm_parameters",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("key", String(2048), primary_key=True),
    Column("name", String(2048), nullable=False),
    Column("version", BigInteger, nullable=False),  # the current (latest) version
    Column("document", Text, nullable=False),  # metadata: Type, KeyId, Description, Tier, DataType, ...
)

# Every kept version of every parameter, with its value. SecureString values are stored as given
# (ecsbox has no KMS); they are never logged.
ssm_parameter_versions = Table(
    "ssm_parameter_versions",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("key", String(2048), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("type", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("modified_at", Float, nullable=False),
    Column("modified_by", String(1024), nullable=False),
    Column("data_type", String(128), nullable=False),
)

sm_secrets = Table(
    "sm_secrets",
    metadata,
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("arn", String(1024), nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False),  # creation order, for ListSecrets paging
    Column("created_at", Float, nullable=False),
    Column("last_changed_at", Float, nullable=False),
    Column("last_accessed_at", Float, nullable=True),  # a day, as AWS records it
    Column("deletion_date", Float, nullable=True),  # set while scheduled for deletion
    Column("document", Text, nullable=False),  # Description, KmsKeyId
    UniqueConstraint("account_id", "region", "name", name="uq_sm_secrets"),
)

# Versions of a secret, keyed by the secret's ARN (a force-deleted and recreated name gets a new ARN).
sm_secret_versions = Table(
    "sm_secret_versions",
    metadata,
    Column("secret_arn", String(1024), primary_key=True),
    Column("version_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # creation order within the secret
    Column("created_at", Float, nullable=False),
    Column("stages", Text, nullable=False),  # JSON list of staging labels
    Column("secret_string", Text, nullable=True),
    Column("secret_binary", LargeBinary, nullable=True),
)

# ---- ECR (ecsbox.ecr) ----------------------------------------------------------------------------

# One row per repository. ``document`` holds what DescribeRepositories returns beyond the columns
# (imageTagMutability, imageScanningConfiguration, encryptionConfiguration, ...).
ecr_repositories = Table(
    "ecr_repositories",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("document", Text, nullable=False),
    Column("policy_text", Text, nullable=True),  # SetRepositoryPolicy
    Column("lifecycle_policy_text", Text, nullable=True),  # PutLifecyclePolicy
    Column("lifecycle_evaluated_at", Float, nullable=True),  # last scheduled evaluation (ecsbox clock)
)

# Images: one row per manifest (image manifest, or manifest list / OCI index) in a repository.
ecr_images = Table(
    "ecr_images",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("repository", String(256), primary_key=True),
    Column("digest", String(80), primary_key=True),  # sha256:<64 hex>
    Column("media_type", String(256), nullable=False),
    Column("manifest", LargeBinary, nullable=False),  # the exact bytes pushed (the digest is theirs)
    Column("size_bytes", BigInteger, nullable=False),  # config + layers, as DescribeImages reports it
    Column("pushed_at", Float, nullable=False),  # ecsbox clock
    Column("last_pulled_at", Float, nullable=True),
    Column("document", Text, nullable=False),  # artifactMediaType, configuration facts, ...
    Index("ix_ecr_images_pushed", "account_id", "region", "repository", "pushed_at"),
)

# Tags: each names one image of its repository.
ecr_tags = Table(
    "ecr_tags",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("repository", String(256), primary_key=True),
    Column("tag", String(300), primary_key=True),
    Column("digest", String(80), nullable=False),
    Column("tagged_at", Float, nullable=False),
    Index("ix_ecr_tags_digest", "account_id", "region", "repository", "digest"),
)

# What each manifest references: its config and layers (kind "blob"), or the manifests of a list /
# index (kind "manifest"). Garbage collection keeps every blob some manifest references.
ecr_references = Table(
    "ecr_references",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("repository", String(256), primary_key=True),
    Column("digest", String(80), primary_key=True),  # the referencing manifest
    Column("target", String(80), primary_key=True),  # the referenced blob or manifest
    Column("kind", String(16), nullable=False),
    Index("ix_ecr_references_target", "target"),
)

# Blobs a repository may serve: uploaded to it, mounted into it, or referenced by its manifests.
ecr_repository_blobs = Table(
    "ecr_repository_blobs",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("repository", String(256), primary_key=True),
    Column("digest", String(80), primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("linked_at", Float, nullable=False),  # wall clock: GC spares recent links of a push in flight
    Index("ix_ecr_repository_blobs_digest", "digest"),
)

# Lifecycle policy previews (StartLifecyclePolicyPreview → GetLifecyclePolicyPreview).
ecr_lifecycle_previews = Table(
    "ecr_lifecycle_previews",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("repository", String(256), primary_key=True),
    Column("policy_text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("results", Text, nullable=False),  # JSON list of previewResults
    Column("created_at", Float, nullable=False),
)

# ---- Outbox ---------------------------------------------------------------------------------------

# Events for later consumers (EventBridge rules, pipelines), written in the same transaction as the
# change they report, in order.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("source", String(64), nullable=False),  # aws.ecr
    Column("detail_type", String(128), nullable=False),  # ECR Image Action
    Column("resources", Text, nullable=False),  # JSON list of ARNs
    Column("detail", Text, nullable=False),  # JSON
    Column("time", Float, nullable=False),  # ecsbox clock
)

# ---- CloudWatch Logs (ecsbox.logs) -----------------------------------------------------------------

# Row ids: 64-bit where the database has them; on SQLite an INTEGER PRIMARY KEY (the rowid itself).
_LogId = BigInteger().with_variant(Integer, "sqlite")

# One row per log group, with what DescribeLogGroups reports. ``id`` is never reused (AUTOINCREMENT on
# SQLite), so events of a deleted group, purged in the background, never reappear in a new one.
log_groups = Table(
    "log_groups",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_ms", BigInteger, nullable=False),  # ecsbox clock, milliseconds
    Column("retention_days", Integer, nullable=True),  # None: events never expire
    Column("kms_key_id", String(256), nullable=True),
    Column("log_group_class", String(32), nullable=False),
    Column("deletion_protection", Integer, nullable=False, server_default="0"),
    Column("stored_bytes", BigInteger, nullable=False, server_default="0"),  # UTF-8 bytes of its events
    UniqueConstraint("account_id", "region", "name", name="uq_log_groups_name"),
    sqlite_autoincrement=True,
)

# One row per log stream, with the counters DescribeLogStreams reports (the ingest path keeps them).
log_streams = Table(
    "log_streams",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("group_id", BigInteger, nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("first_event_ms", BigInteger, nullable=True),
    Column("last_event_ms", BigInteger, nullable=True),
    Column("last_ingestion_ms", BigInteger, nullable=True),
    Column("stored_bytes", BigInteger, nullable=False, server_default="0"),  # kept; AWS reports 0
    Column("upload_seq", BigInteger, nullable=False, server_default="0"),  # batches taken (sequence tokens)
    UniqueConstraint("group_id", "name", name="uq_log_streams_name"),
    Index("ix_log_streams_last_event", "group_id", "last_event_ms"),
    sqlite_autoincrement=True,
)

# Every log event of every stream. ``id`` orders events ingested with the same timestamp and is the
# eventId FilterLogEvents reports. Reads scan a group (FilterLogEvents) or a stream (GetLogEvents) in
# time order; retention deletes a group's oldest events first.
log_events = Table(
    "log_events",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("group_id", BigInteger, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),  # as the client sent it, milliseconds
    Column("ingestion_ms", BigInteger, nullable=False),  # ecsbox clock, milliseconds
    Column("message", Text, nullable=False),
    Index("ix_log_events_group_time", "group_id", "timestamp"),
    Index("ix_log_events_stream_time", "stream_id", "timestamp"),
)

# Metric filters (PutMetricFilter), per log group. ``transformations`` is the JSON list as given;
# ``document`` the other members (applyOnTransformedLogs, fieldSelectionCriteria, ...).
log_metric_filters = Table(
    "log_metric_filters",
    metadata,
    Column("group_id", BigInteger, primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("pattern", Text, nullable=False),
    Column("transformations", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

# Events still to remove after DeleteLogGroup / DeleteLogStream (``kind`` "group" or "stream"): the
# delete answers at once and housekeeping removes the events in batches.
log_purges = Table(
    "log_purges",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("target_id", BigInteger, primary_key=True),
)

# ---- CloudWatch metrics and alarms (ecsbox.metrics) ------------------------------------------------

# One row per metric (namespace, name and dimension set) of a partition. ``dimensions`` is the
# canonical JSON of the sorted [[name, value], ...] pairs, so one metric has one row. ``last_put`` (the
# ecsbox clock, seconds) is when a datapoint last arrived: ListMetrics' RecentlyActive and its
# two-week window read it.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("dimensions", Text, nullable=False),
    Column("created", Float, nullable=False),
    Column("last_put", Float, nullable=False),
    UniqueConstraint("account_id", "region", "namespace", "name", "dimensions", name="uq_metric_series"),
    Index("ix_metric_series_recent", "account_id", "region", "last_put"),
    sqlite_autoincrement=True,
)

# Stored datapoints. A point is one PutMetricData datum (a value, a values/counts list or a
# statistic set) or, after roll-up, the aggregate of a period (``resolution`` 1, 60, 300 or 3600
# seconds: how fine the point is). ``ts`` is the start of its second / period in epoch seconds.
# ``value_counts`` is JSON [[value, count], ...] when the raw values are known (percentiles need
# them), NULL for statistic sets; ``with_values`` is 1 when it is not NULL, else 0 (a point's
# writer sets both).
#
# Points arrive in time order across many series, so one series' points are scattered over the
# file. ``ix_metric_points_series_covering`` therefore holds every column a period aggregate reads
# (series, time range, unit, the four aggregates and ``with_values``, which it sums instead of
# counting ``value_counts``; not ``resolution``, which it does not read): a read never visits the
# table. A change to that query must keep it covered (a test checks the plan). ``ix_metric_points_age``
# lets retention find the points due for a roll-up (finer than a resolution, older than a cutoff)
# without reading the whole table.
metric_points = Table(
    "metric_points",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("sample_count", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("value_counts", Text, nullable=True),
    Column("with_values", Integer, nullable=False, server_default="0"),
    Index(
        "ix_metric_points_series_covering",
        "series_id",
        "ts",
        "unit",
        "sample_count",
        "sum",
        "minimum",
        "maximum",
        "with_values",
    ),
    Index("ix_metric_points_age", "resolution", "ts"),
)

# Metric alarms. ``document`` is the JSON of everything PutMetricAlarm was given (the alarm's
# configuration); the state columns are what evaluation keeps. Times on the ecsbox clock, seconds.
metric_alarms = Table(
    "metric_alarms",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("document", Text, nullable=False),
    Column("actions_enabled", Integer, nullable=False),
    Column("configuration_updated", Float, nullable=False),
    Column("state_value", String(32), nullable=False),
    Column("state_reason", Text, nullable=False),
    Column("state_reason_data", Text, nullable=True),
    Column("state_updated", Float, nullable=False),
    Column("state_transitioned", Float, nullable=False),
    Column("evaluated", Float, nullable=True),  # when evaluation last ran
)

# DescribeAlarmHistory's items: ConfigurationUpdate, StateUpdate and Action, newest last.
metric_alarm_history = Table(
    "metric_alarm_history",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("alarm_name", String(255), nullable=False),
    Column("alarm_type", String(32), nullable=False),  # MetricAlarm
    Column("timestamp", Float, nullable=False),
    Column("item_type", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON
    Index("ix_metric_alarm_history", "account_id", "region", "alarm_name", "timestamp"),
    sqlite_autoincrement=True,
)

# Alarm actions still to carry out, written in the same transaction as the state change that
# triggered them, removed once done: nothing is lost when ecsbox stops in between.
metric_alarm_actions = Table(
    "metric_alarm_actions",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("alarm_name", String(255), nullable=False),
    Column("action_arn", String(1024), nullable=False),
    Column("message", Text, nullable=False),  # JSON: the alarm message AWS sends
    Column("created", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)

# ---- SNS (ecsbox.notify) ---------------------------------------------------------------------------

# Topics; ``attributes`` is the JSON of the settable attributes (DisplayName, Policy, ...).
sns_topics = Table(
    "sns_topics",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("attributes", Text, nullable=False),
    Column("created", Float, nullable=False),
)

# Subscriptions. ``confirmed`` 0 while an http/https/email endpoint has not confirmed; ``token`` is
# the confirmation token sent to it.
sns_subscriptions = Table(
    "sns_subscriptions",
    metadata,
    Column("arn", String(1024), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("topic_arn", String(1024), nullable=False),
    Column("protocol", String(32), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("owner", String(12), nullable=False),
    Column("confirmed", Integer, nullable=False),
    Column("token", String(512), nullable=True),
    Column("attributes", Text, nullable=False),
    Column("created", Float, nullable=False),
    Index("ix_sns_subscriptions_topic", "topic_arn"),
)

# Deliveries still to make (a message to one endpoint), written in the same transaction as the
# Publish or Subscribe that caused them; retried with back-off, removed when delivered or given up.
sns_deliveries = Table(
    "sns_deliveries",
    metadata,
    Column("id", _LogId, primary_key=True, autoincrement=True),
    Column("subscription_arn", String(1024), nullable=False),
    Column("protocol", String(32), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("message_type", String(64), nullable=False),  # Notification | SubscriptionConfirmation | ...
    Column("body", Text, nullable=False),  # the JSON document delivered
    Column("created", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt", Float, nullable=False),  # wall clock
    sqlite_autoincrement=True,
)
