"""The files that set mcp-sessions up without code: docker-compose.yml, .env.example,
mcp-config.json. No Docker engine here: check they parse and point at real things."""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from tests.cli_support import REPO, ok

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
CONFIG = json.loads((REPO / "mcp-config.json").read_text())
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
ENV_EXAMPLE = dict(
    line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines() if line and not line.startswith("#")
)
SECRETISH = re.compile(r"(PASSWORD|TOKEN|SECRET|KEY)", re.IGNORECASE)


def test_compose_postgres_service():
    pg = COMPOSE["services"]["postgres"]
    assert pg["image"].startswith("postgres:15") and pg["image"].endswith("alpine")
    assert any(p.endswith(":${POSTGRES_PORT:-5433}:5432") for p in pg["ports"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    volumes = pg["volumes"]
    named = [v.split(":")[0] for v in volumes if not v.startswith(".")]
    assert named and all(name in COMPOSE["volumes"] for name in named)
    init = [v for v in volumes if "docker-entrypoint-initdb.d" in v]
    assert init and (REPO / init[0].split(":")[0]).resolve() == (REPO / "database" / "init.sql")
    assert (REPO / "database" / "init.sql").read_text().startswith("-- mcp-sessions schema")


def test_compose_commits_no_password_and_env_example_documents_every_variable():
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= set(ENV_EXAMPLE), f"undocumented in .env.example: {used - set(ENV_EXAMPLE)}"
    assert COMPOSE["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for name, value in ENV_EXAMPLE.items():
        if SECRETISH.search(name):
            assert value == "", f".env.example commits a value for {name}"
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def test_compose_pgadmin_is_optional():
    admin = COMPOSE["services"]["pgadmin"]
    assert admin["profiles"] == ["admin"]
    assert admin["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_mcp_config_starts_one_server_per_agent():
    servers = CONFIG["mcpServers"]
    ours = {name: s for name, s in servers.items() if s["command"] in SCRIPTS}
    agents = {s["env"]["MCP_SESSIONS_AGENT"] for s in ours.values()}
    assert agents == {"claude_code", "codex", "gemini_cli", "researcher"}
    for server in ours.values():
        assert SCRIPTS[server["command"]] == "mcp_sessions.cli:main"
        assert server["args"] == ["serve"]


async def test_mcp_config_commands_are_real_subcommands():
    help_text = (await ok(None, "serve", "--help")).out
    assert help_text.startswith("usage: mcp-sessions serve")


def test_mcp_config_holds_no_secret():
    for name, server in CONFIG["mcpServers"].items():
        for key, value in server.get("env", {}).items():
            if SECRETISH.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+\}", value), f"{name}.{key} must reference the environment"
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value)
        for arg in server.get("args", []):
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", arg), f"{name} has a password in a URL"
        if any(SECRETISH.search(k) for k in server.get("env", {})):
            assert server.get("disabled") is True, f"{name} needs credentials: ship it disabled"


def test_pgadmin_password_is_required_when_pgadmin_starts(tmp_path):
    """Like POSTGRES_PASSWORD, but checked by the container: compose interpolates every
    service before applying profiles, so `${PGADMIN_PASSWORD:?}` would stop a plain
    `docker compose up`. The entrypoint's check, run as the container would run it."""
    import subprocess

    admin = COMPOSE["services"]["pgadmin"]
    text = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{PGADMIN_[A-Z_]*:\?", text)  # nothing required at interpolation
    assert admin["environment"]["PGADMIN_DEFAULT_PASSWORD"] == "${PGADMIN_PASSWORD:-}"
    assert admin["environment"]["PGADMIN_CONFIG_SERVER_MODE"] == "True"  # a login, not an open desktop mode
    command = [part.replace("$$", "$") for part in admin["entrypoint"]]  # compose's escape
    image_entrypoint = tmp_path / "entrypoint.sh"
    image_entrypoint.write_text("#!/bin/sh\necho started\n")
    image_entrypoint.chmod(0o755)
    command[-1] = command[-1].replace("/entrypoint.sh", str(image_entrypoint))
    refused = subprocess.run(command, env={"PGADMIN_DEFAULT_PASSWORD": ""}, capture_output=True, text=True)
    assert refused.returncode == 1 and "set PGADMIN_PASSWORD in .env" in refused.stderr
    started = subprocess.run(command, env={"PGADMIN_DEFAULT_PASSWORD": "s3cret"}, capture_output=True, text=True)
    assert started.returncode == 0 and started.stdout == "started\n"


def test_the_readonly_postgres_entry_reads_the_compose_database():
    """It reads the database compose creates, by the URL the docs give the agents, and its
    name says so (the embedded default listens on a Unix socket only)."""
    env = COMPOSE["services"]["postgres"]["environment"]
    database = re.search(r":-([^}]+)\}", env["POSTGRES_DB"])[1]
    user = re.search(r":-([^}]+)\}", env["POSTGRES_USER"])[1]
    port = re.search(r"POSTGRES_PORT:-(\d+)", " ".join(COMPOSE["services"]["postgres"]["ports"]))[1]
    compose_url = f"postgresql://{user}@localhost:{port}/{database}"
    readonly = {name: s for name, s in CONFIG["mcpServers"].items() if "server-postgres" in " ".join(s["args"])}
    assert list(readonly) == ["postgres-readonly-compose"]
    assert readonly["postgres-readonly-compose"]["args"][-1] == compose_url
    readme = (REPO / "README.md").read_text()
    assert f'"DATABASE_URL": "{compose_url}"' in readme and "`postgres-readonly-compose`" in readme
    assert f"export DATABASE_URL={compose_url}" in (REPO / "docs" / "cli.md").read_text()
