"""Settings from `PILOTSHARE_*` environment variables or a `.env` file.

Nothing here runs at import time: callers build a `Settings` (or take `get_settings()`)
and hand it to the factories that need it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET_KEY = "pilotshare-demo-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PILOTSHARE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///.var/pilotshare.db"
    # The API serves sync routes from a pool of `api_threads` worker threads per process; with at least as
    # many database connections, a thread never waits for a connection that another waiting thread holds.
    # 16, not anyio's 40: the threads share one GIL, and under 50 concurrent bookings or availability
    # queries 40 of them spent about a tenth more CPU per request switching than 4-16 (docs/performance.md).
    api_threads: int = Field(default=16, ge=1)
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=30, ge=0)
    # How long an API process may give out a public availability answer it computed before, as long as it
    # has written nothing since (backend.http.caching.RecentAnswers): what it wrote itself is seen at
    # once, what another process wrote after at most this long. 0 reads the database for every answer.
    availability_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_credentials: Path = Field(
        default=Path(".var/mqtt/credentials.json"),
        description="credentials.json of `pilotshare mqtt credentials`: ingest and the backend log in with"
        " their accounts from it, unless mqtt_url carries a user (docs/security.md)",
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="with an mqtts:// mqtt_url: the CA that signed the broker's certificate (a private CA"
        " such as the demo's, scripts/broker-tls.sh); without it, the system's CAs (docs/security.md)",
    )
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "pilotshare"
    influx_token: str | None = None
    ingest_group: str = Field(
        default="pilotshare-ingest",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$",
        description="ingest workers of one group share the stream ($share/{group}/...; docs/ingest.md)",
    )

    secret_key: str = DEMO_SECRET_KEY
    demo_mode: bool = False
    access_token_minutes: int = Field(default=12 * 60, gt=0)
    login_account_failures: int = Field(
        default=10, ge=1, description="failed log-ins per account in a window; then 429 until one expires"
    )
    login_address_failures: int = Field(
        default=100, ge=1, description="failed log-ins per client address in a window"
    )
    login_window_seconds: float = Field(default=15 * 60, gt=0)
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="addresses whose X-Forwarded-For names the client (comma-separated, * for any)",
    )
    jwt_algorithm: str = "HS256"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    default_timezone: str = "Asia/Shanghai"

    background_seconds: float = Field(
        default=60, ge=0, description="period of the API's background jobs (no-shows, notifications); 0 = off"
    )

    # E-mail notifications (outbox delivery). No host = e-mail is off: queued e-mails are marked failed
    # with "SMTP not configured" instead of piling up, so nothing is sent months late (docs/bookings.md).
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "PilotShare <noreply@pilotshare.local>"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10, gt=0)
    webhook_timeout: float = Field(default=10, gt=0)
    webhook_allow_private: bool = Field(
        default=False,
        description="let webhooks call loopback/private/link-local addresses (docs/bookings.md)",
    )
    outbox_max_attempts: int = Field(default=8, ge=1, description="then the message is marked failed")
    outbox_retry_seconds: float = Field(default=60, gt=0, description="first retry delay; doubles each time")
    outbox_batch: int = Field(default=200, ge=1, description="messages per delivery run")

    billing_settle_day: int = Field(
        default=0,
        ge=0,
        le=28,
        description="from this day of the month the API invoices the previous month itself; 0 = by hand only",
    )
    calendar_token_days: int = Field(default=365, gt=0, description="lifetime of personal iCal feed URLs")
    ingest_max_clock_skew_seconds: float = Field(
        default=300,
        gt=0,
        description="ingest refuses samples stamped further ahead of its clock than this (docs/ingest.md)",
    )
    commands_retry_seconds: float = Field(
        default=10, gt=0, description="a command not acknowledged is sent again after this; doubles each time"
    )
    commands_ttl_seconds: float = Field(
        default=300, gt=0, description="how long a setpoint may take to reach its device before it expires"
    )
    commands_poll_seconds: float = Field(
        default=0.5, gt=0, description="how often `pilotshare commands` looks for commands to send"
    )
    usage_min_seconds: float = Field(
        default=60,
        ge=0,
        description="usage sessions: shorter pauses merge, shorter sessions are flickers (docs/usage.md)",
    )

    score_rubric: str = Field(
        default="national-2021", description="rubric of the sharing score (docs/reports.md, 'The score')"
    )
    rubrics_dir: str | None = Field(default=None, description="folder of the deployment's own rubric files")

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key == DEMO_SECRET_KEY

    def check_secret(self) -> None:
        """Refuse to run a real deployment with the published demo key."""
        if self.uses_default_secret and not self.demo_mode:
            raise RuntimeError(
                "PILOTSHARE_SECRET_KEY is the published demo key; set your own secret "
                "(e.g. `openssl rand -hex 32`) or set PILOTSHARE_DEMO_MODE=true for a demo"
            )
        if len(self.secret_key) < 32:
            raise RuntimeError("PILOTSHARE_SECRET_KEY must be at least 32 characters (HS256 wants 256 bits)")

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
