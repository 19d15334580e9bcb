"""Settings: read once, at the composition root (cli / server factory), never imported as a global."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mcp-sessions"))


class Settings(BaseSettings):
    """Every knob of the server. Environment variables use the MCP_SESSIONS_ prefix,
    except DATABASE_URL and STORAGE_BACKEND, which keep their conventional names."""

    # env_ignore_empty: `VAR=` (as .env.example ships, sourced with `set -a; . ./.env`) means the default
    model_config = SettingsConfigDict(env_prefix="MCP_SESSIONS_", extra="ignore", env_ignore_empty=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "MCP_SESSIONS_DATABASE_URL"),
        description="PostgreSQL DSN, passed to asyncpg untouched. Unset: embedded PostgreSQL.",
    )
    storage_backend: str = Field(
        default="postgres",
        validation_alias=AliasChoices("STORAGE_BACKEND", "MCP_SESSIONS_STORAGE_BACKEND"),
    )
    agent: str = Field(default="anonymous", description="Who this server acts for (created_by, claimed_by).")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the embedded PostgreSQL lives.")
    max_content_bytes: int = Field(default=32 * MIB, ge=1024, description="Largest chunk or artifact content.")
    max_memory_bytes: int = Field(default=64 * 1024, ge=256, description="Largest memory content (JSON).")
    max_json_bytes: int = Field(
        default=64 * 1024, ge=256, description="Largest JSON field (metadata, input_data, output_data, "
        "extracted_items, capabilities), as compact UTF-8 JSON.",
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    listen_database_url: str | None = Field(
        default=None,
        description="A direct (unpooled) DSN for the LISTEN connection that wakes waiting claimers, "
        "when DATABASE_URL goes through PgBouncer in transaction mode. Default: DATABASE_URL.",
    )
    statement_cache_size: int = Field(
        default=100, ge=0, description="asyncpg prepared statement cache; 0 behind PgBouncer transaction pooling."
    )
    pool_acquire_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a call waits for a free connection before failing (retryable)."
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to open one database connection.")
    statement_timeout: float = Field(
        default=60.0, ge=0, description="Seconds one statement may run before it is cancelled; 0: no limit."
    )
    pool_idle_timeout: float = Field(
        default=300.0, ge=0, description="Seconds an idle pooled connection lives before it is closed; 0: forever."
    )
    tools: str = Field(
        default="all",
        description="Which tools to offer: all, or profiles (core, queue, coordination, agents) and tool "
        "names, comma-separated.",
    )
    event_retention_days: int = Field(
        default=30, ge=1, le=36500, description="Days the event feed keeps events; older cursors must catch_up."
    )
    sweep_seconds: float = Field(
        default=15.0, gt=0, le=3600,
        description="How often each server recovers expired leases, creates due scheduled tasks and expires "
        "path reservations (jittered +-50%).",
    )
    search_config: str = Field(default="english", description="PostgreSQL text search configuration.")
    log_level: str = Field(default="INFO")
    log_format: Literal["plain", "json"] = Field(default="plain", description="stderr logs: plain text or JSON lines.")
    http_host: str = Field(default="127.0.0.1", description="HTTP transport: address to bind (loopback by default).")
    http_port: int = Field(default=8765, ge=0, le=65535, description="HTTP transport: port.")
    http_workers: int = Field(
        default=1, ge=1, le=64, description="HTTP transport: server processes sharing the port (serve --workers)."
    )
    hooks: Path | None = Field(
        default=None,
        description="HTTP transport: a TOML file of webhooks (POST /hooks/NAME) that turn signed events into tasks.",
    )
    http_auth: Literal["token", "none"] = Field(
        default="token", description="HTTP transport: 'token' (per-agent bearer tokens) or 'none' (loopback only)."
    )
    http_allowed_hosts: str = Field(
        default="", description="HTTP transport: Host headers accepted besides loopback names, comma-separated "
        "(host, host:port, or *). Unset on a non-loopback address: any Host.",
    )
    http_allowed_origins: str = Field(
        default="", description="HTTP transport: browser Origins accepted, comma-separated (https://app.example, or *). "
        "Unset: only the server's own origin (and loopback origins on a loopback address).",
    )
    http_idle_timeout: float = Field(
        default=10.0, gt=0, le=3600,
        description="HTTP transport: seconds a connection may keep the server waiting for its next bytes "
        "(a request not yet sent or sent in part) before it is closed.",
    )
    metrics_auth: Literal["none", "token"] = Field(
        default="none", description="HTTP transport: 'token' makes /metrics require a bearer token (any agent's).",
    )
    metrics_refresh_seconds: float = Field(
        default=5.0, ge=0, le=3600,
        description="HTTP transport: /metrics reads the database (queue depth) at most once per this many seconds.",
    )

    @field_validator("storage_backend")
    @classmethod
    def _only_postgres(cls, value: str) -> str:
        if value.strip().lower() != "postgres":
            raise ValueError(
                f"STORAGE_BACKEND={value!r} is not supported: mcp-sessions stores everything in "
                "PostgreSQL; use STORAGE_BACKEND=postgres (or leave it unset)"
            )
        return "postgres"

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: str) -> str:
        from mcp_sessions.tools.profiles import resolve

        resolve(value)  # an unknown name stops the server at start, naming the valid ones
        return value

    @field_validator("agent")
    @classmethod
    def _agent_name(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > 100:
            raise ValueError("MCP_SESSIONS_AGENT must be 1-100 characters")
        return value
