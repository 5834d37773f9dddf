"""Settings, read once from the environment (prefix ``ORGPULSE_``, plus ``DATABASE_URL``)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob OrgPulse reads. ``docs/configuration.md`` lists each one (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="ORGPULSE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "ORGPULSE_DATABASE_URL"),
        description=(
            "PostgreSQL URL of the schema owner (runs migrations). Unset: an embedded PostgreSQL "
            "is started in the data directory."
        ),
    )
    database_read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_READ_URL", "ORGPULSE_DATABASE_READ_URL"),
        description="Optional replica URL (app role) for dashboard reads. Unset: the primary.",
    )
    data_dir: Path = Field(
        default=Path(".orgpulse"),
        description="Directory for the embedded PostgreSQL cluster and generated secrets.",
    )
    app_db_role: str = Field(
        default="orgpulse_app",
        description=(
            "Login role the web app and ingestion use: not the owner, no BYPASSRLS. "
            "Created by `orgpulse db upgrade`."
        ),
    )
    app_db_password: str | None = Field(
        default=None,
        description=(
            "Password of the app role. Unset: generated and kept in the data directory "
            "(set it explicitly in production)."
        ),
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Secret for signing CSRF tokens (and, later, webhook bodies). Unset: generated and "
            "kept in the data directory (set it explicitly in production)."
        ),
    )
    environment: Literal["development", "production", "test"] = Field(
        default="development",
        description=(
            "`production` turns on JSON logs and Secure cookies and requires explicit secrets."
        ),
    )
    log_level: str = Field(default="INFO", description="Python log level for OrgPulse loggers.")
    retention_days: int = Field(
        default=400,
        ge=30,
        description=(
            "Events older than this are rejected at ingest, and `orgpulse retention run` drops"
            " their monthly partitions (rollups, snapshots and audit records are kept)."
        ),
    )
    max_future_skew_seconds: int = Field(
        default=86_400,
        ge=0,
        description="Events whose corrected timestamp is further ahead than this are rejected.",
    )
    partitions_ahead_months: int = Field(
        default=3,
        ge=1,
        description="Monthly event partitions kept created ahead of the current month.",
    )
    catalog_file: Path | None = Field(
        default=None,
        description=(
            "Metric catalog override (TOML): its entries replace or extend the shipped "
            "defaults key by key. Invalid files stop startup with the problem named."
        ),
    )
    freshness_amber_seconds: int = Field(
        default=600,
        ge=1,
        description=(
            "Freshness badge turns amber when the newest rolled-up event is older than this."
        ),
    )
    baa_version: str = Field(
        default="2026-01",
        min_length=1,
        description=(
            "Version of the Business Associate Agreement a user must accept before exporting an"
            " aggregate-only org's data; changing it asks everyone to accept again."
        ),
    )
    signal_suppressed_reads_per_hour: int = Field(
        default=5,
        ge=1,
        description=(
            "Security signal: one user's reads of suppressed cohorts of one org within an hour"
            " that raise a `suppressed_cohort_access` alert."
        ),
    )
    signal_exports_per_day: int = Field(
        default=20,
        ge=1,
        description=(
            "Security signal: one user's exports of one org's data within 24 hours that raise"
            " an `export_volume` alert."
        ),
    )
    signal_baa_failures_per_hour: int = Field(
        default=3,
        ge=1,
        description=(
            "Security signal: one user's exports of one org refused for want of an accepted BAA"
            " within an hour that raise a `baa_failure` alert (1: alert on the first)."
        ),
    )
    session_days: int = Field(
        default=14, ge=1, description="Web sessions expire after this many days."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed logins per account and address within the window before refusing (429)."
        ),
    )
    login_window_seconds: int = Field(
        default=900, ge=60, description="Window for counting failed logins."
    )
    support_context_retention_days: int = Field(
        default=180,
        ge=1,
        description=(
            "Days a support request keeps its attached context and screenshot; older ones are"
            " purged by `orgpulse retention run` (the request itself and its history stay)."
        ),
    )
    support_screenshot_max_bytes: int = Field(
        default=2_000_000,
        ge=1024,
        description="Largest screenshot (PNG or JPEG) a support request may attach, in bytes.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Public address of the web UI, used for links in emails, webhook payloads and PDF"
            " footers (no trailing slash)."
        ),
    )
    smtp_host: str | None = Field(
        default=None,
        description=(
            "SMTP server for alert and report emails. Unset: emails stay queued in the outbox"
            " (visible under Deliveries) until a server is configured."
        ),
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the SMTP connection with STARTTLS before sending."
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP login; unset: send without authenticating."
    )
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(
        default="OrgPulse <orgpulse@localhost>", description="From address of every email."
    )
    smtp_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Connect and send timeout for one SMTP delivery."
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of one webhook POST."
    )
    delivery_max_attempts: int = Field(
        default=6,
        ge=1,
        description=(
            "Tries per email or webhook before it is dead-lettered (shown as dead under"
            " Deliveries, where an admin can retry it)."
        ),
    )
    delivery_backoff_seconds: int = Field(
        default=30,
        ge=1,
        description=(
            "Wait before the first retry of a failed delivery; doubled after each further"
            " failure (30 s, 1 min, 2 min, …)."
        ),
    )
    alerts_interval_seconds: int = Field(
        default=300,
        ge=10,
        description=(
            "How often alert rules are evaluated (also after ingest bursts); an alert is raised"
            " within one interval of the data that triggers it."
        ),
    )
    db_pool_size: int = Field(default=10, ge=1, description="Connections per web process.")
    jobs_enabled: bool = Field(
        default=True,
        description=(
            "Run the scheduled jobs (partitions, health snapshots, retention, …) inside"
            " `orgpulse serve`; set false on web processes when `orgpulse worker` runs them."
        ),
    )

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()


def persisted_secret(settings: Settings, name: str) -> str:
    """Return a secret kept in the data directory, generating it on first use.

    Why: the embedded demo must work with zero configuration, but a secret that changes at every
    start would log everyone out and break the app role's password. Production sets them explicitly.
    """
    if settings.environment == "production":
        raise RuntimeError(f"ORGPULSE_{name.upper()} must be set explicitly in production")
    path = settings.data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def secret_key(settings: Settings) -> str:
    return settings.secret_key or persisted_secret(settings, "secret_key")


def app_db_password(settings: Settings) -> str:
    return settings.app_db_password or persisted_secret(settings, "app_db_password")
