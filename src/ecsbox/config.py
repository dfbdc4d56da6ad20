"""Settings: defaults, overridden by ``ECSBOX_*`` environment variables, overridden by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ecsbox.core.ids import DEFAULT_ACCOUNT_ID


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    host: str = "localhost"  # the operator API binds loopback only: 127.0.0.1 and ::1
    port: int = 4566
    data_dir: Path = Path(".ecsbox")
    database_url: str = ""  # empty: SQLite at <data_dir>/ecsbox.db
    time_scale: float = 1.0
    allow_reset: bool = False
    default_account_id: str = DEFAULT_ACCOUNT_ID
    default_region: str = "us-east-1"
    # "AKID:SECRET[:ACCOUNT]" items; when any are set, signatures are checked strictly
    access_keys: tuple[str, ...] = ()
    # extra Host header names accepted besides localhost, 127.0.0.1 and [::1]
    allowed_hosts: tuple[str, ...] = ()
    log_level: str = "info"
    # where tasks run: "docker" (the local engine, or DOCKER_HOST), "simulated" (in memory), "none"
    runtime: str = "docker"
    # The registry's garbage collection spares blobs written or checked this recently (wall-clock
    # seconds): a push uploads its layers before its manifest.
    registry_gc_grace_s: float = 3600.0
    # The Fluent Forward receiver Docker's fluentd log driver sends awslogs containers' output to
    # (loopback; 0: any free port; a taken port falls back to a free one)
    forward_port: int = 24224
    # Seconds per CloudWatch datapoint of the metrics the collector records (AWS/ECS, Container
    # Insights): 60 as AWS; 10 or 1 store them at high resolution
    metrics_resolution: int = 60
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ecsbox.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "ecsbox.pid"


METRICS_RESOLUTIONS = (1, 10, 60)


def _metrics_resolution(value: str) -> int:
    resolution = int(value)
    if resolution not in METRICS_RESOLUTIONS:
        raise ValueError(f"metrics resolution must be 1, 10 or 60 seconds, not {value}")
    return resolution


_CONVERTERS: dict[str, Any] = {
    "port": int,
    "data_dir": Path,
    "time_scale": float,
    "registry_gc_grace_s": float,
    "forward_port": int,
    "metrics_resolution": _metrics_resolution,
    "allow_reset": _bool,
    "access_keys": _list,
    "allowed_hosts": _list,
}


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``ECSBOX_<FIELD>`` variables, then apply non-None ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        raw = env.get(f"ECSBOX_{f.name.upper()}")
        if raw is not None and raw != "":
            values[f.name] = _CONVERTERS.get(f.name, str)(raw)
    settings = Settings(**values)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
