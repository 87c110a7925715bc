"""Service settings, read from the environment (or a .env file) and nowhere else."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.egress import EgressPolicy
from core.limits import ProjectLimits, limits_of


class Settings(BaseSettings):
    """Every setting of the API, the worker and the local stack."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    database_url: str = "sqlite:///data/service.db"
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int = 6379
    redis_password: str | None = None
    chromium_path: str | None = None
    worker_max_sessions: int = Field(default=2, ge=1, le=64)
    artifacts_dir: Path = Path("data/artifacts")
    uploads_dir: Path = Path("data/uploads")
    data_dir: Path = Path("data")
    port: int = 8000
    # The address people reach the service at (links in reports and the dashboard's own
    # origin); unset: http://127.0.0.1:PORT. Never taken from a request's Host header.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+/?$")
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    max_upload_bytes: int = Field(default=10_000_000, ge=1_000)
    admin_token: str | None = None
    secret_key: str | None = None
    # Keys of the Temporal payload codec: id:base64key[,id:base64key] (core/codec.py).
    payload_keys: str | None = None
    # Web UI origins allowed to call the codec endpoint from a browser.
    codec_cors_origins: str = "http://localhost:8233,http://127.0.0.1:8233"
    # The API process also runs the dispatcher (one process at a time holds its lease);
    # scripts/serve turns this off and runs dispatcher.py on its own.
    dispatch_in_api: bool = True
    # Retention defaults of new projects (like Bull's removeOnComplete / removeOnFail).
    keep_completed: int = Field(default=100, ge=0)
    keep_failed: int = Field(default=200, ge=0)
    # A worker serves Prometheus metrics on this port (none when unset).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # ... on this address: loopback unless an operator opens it (compose: its internal network).
    worker_metrics_host: str = "127.0.0.1"
    # LOG_FORMAT: json (one object per line) or text; LOG_LEVEL: a logging level name.
    log_format: str = Field(default="json", pattern="^(json|text)$")
    log_level: str = "INFO"
    # A worker whose Playwright driver grew past this many MiB starts a fresh driver and
    # browser for new runs; runs in flight finish on the old ones, which then stop.
    driver_recycle_mib: float = Field(default=600.0, ge=100)
    # How long a stopping worker lets running sessions finish before handing them back.
    drain_timeout_s: float = Field(default=30.0, ge=0)
    # Destinations a run's browser may reach besides the public web (core/egress.py): host
    # names, host:port, addresses, address:port and networks, separated by commas.
    egress_allow: str = ""
    # Webhook deliveries (activities/webhooks.py): a failed attempt is tried again after this
    # many seconds, doubling up to an hour, for WEBHOOK_RETRY_FOR_S in all; each attempt
    # connects within WEBHOOK_CONNECT_TIMEOUT_S and ends within WEBHOOK_TIMEOUT_S.
    webhook_retry_initial_s: float = Field(default=10.0, gt=0, le=3600)
    webhook_retry_for_s: float = Field(default=86_400.0, gt=0, le=7 * 86_400)
    webhook_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # While another project has runs waiting, no project holds more than this share of the
    # service's session slots (at least one), whatever its max_parallel and priorities.
    max_slot_share: float = Field(default=0.5, gt=0, le=1)
    # Default limits of every project (core/limits.py); the admin overrides them per project.
    limit_max_waiting: int = Field(default=1000, ge=0)
    limit_max_parallel: int = Field(default=10, ge=1)
    limit_max_steps: int = Field(default=200, ge=1, le=500)
    limit_max_timeout_s: int = Field(default=3600, ge=1, le=86_400)
    limit_max_schedules: int = Field(default=20, ge=0)
    limit_min_schedule_interval_s: int = Field(default=60, ge=1)
    limit_max_keep: int = Field(default=1000, ge=0)
    limit_max_upload_bytes: int = Field(default=100_000_000, ge=0)
    limit_max_webhooks: int = Field(default=10, ge=0)
    limit_max_deliveries_per_minute: int = Field(default=60, ge=0)

    @field_validator("egress_allow")
    @classmethod
    def _allowlist_parses(cls, value: str) -> str:
        EgressPolicy.from_setting(value)
        return value

    @property
    def default_limits(self) -> ProjectLimits:
        """Every project's limits unless the admin set others."""
        return ProjectLimits(
            **{name: getattr(self, f"limit_{name}") for name in ProjectLimits.model_fields}
        )

    def limits_for(self, overrides: dict[str, Any] | None) -> ProjectLimits:
        """The limits of a project with these admin overrides (its `limits` column)."""
        return limits_of(self.default_limits, overrides)

    @property
    def public_origin(self) -> str:
        """PUBLIC_URL without a trailing slash, or the local default."""
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def egress_policy(self) -> EgressPolicy:
        """What tenants' browsers may reach."""
        return EgressPolicy.from_setting(self.egress_allow)

    @property
    def effective_redis_url(self) -> str | None:
        """REDIS_URL, or one built from the older REDIS_HOST/PORT/PASSWORD settings."""
        if self.redis_url:
            return self.redis_url
        if self.redis_host:
            auth = f":{self.redis_password}@" if self.redis_password else ""
            return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"
        return None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
