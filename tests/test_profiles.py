"""Tool profiles (MCP_SESSIONS_TOOLS) and what tools/list costs a client's context."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mcp import Client

from mcp_sessions.server import create_server
from mcp_sessions.tools.profiles import ALL_TOOLS, PROFILES
from tests.conftest import REPO, make_settings


async def tools_of(database_url: str, spec: str) -> list:
    async with Client(create_server(make_settings(database_url, tools=spec))) as client:
        return (await client.list_tools()).tools


def size(tools: list) -> int:
    return len(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
                          separators=(",", ":")))


async def test_profiles_select_their_tools(database_url):
    everything = {t.name for t in await tools_of(database_url, "all")}
    assert everything == set(ALL_TOOLS), "a tool is missing from tools/profiles.py (or a profile names a gone one)"
    core = {t.name for t in await tools_of(database_url, "core")}
    assert core == set(PROFILES["core"])
    mixed = {t.name for t in await tools_of(database_url, "queue, watch")}
    assert mixed == set(PROFILES["queue"]) | {"watch"}


async def test_tools_list_budget(database_url):
    """What every turn of a model pays for the tool list: all <= 32 KB, core <= 12 KB (compact JSON)."""
    sizes = {spec: size(await tools_of(database_url, spec)) for spec in ("all", "core", "queue", "coordination")}
    print(f"\ntools/list bytes per profile: {sizes}")
    # The target is all <= 32 KB and core <= 12 KB; today 35.2 and 14.8 KB (docs/resources.md):
    # this holds the line while the gap is closed.
    assert sizes["all"] <= 36 * 1024 and sizes["core"] <= 15 * 1024, sizes


def test_an_unknown_tool_name_stops_the_server_at_start():
    env = {**os.environ, "MCP_SESSIONS_TOOLS": "core,chat", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    run = subprocess.run([sys.executable, "-m", "mcp_sessions", "serve"], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode != 0
    assert "MCP_SESSIONS_TOOLS" in run.stderr and "'chat'" in run.stderr and "coordination" in run.stderr
    assert "Traceback" not in run.stderr
