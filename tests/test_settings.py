"""Settings from the environment: a bad value is one line naming the variable, its value
and what is allowed, for every command; `.env.example` works as shipped when sourced."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import anyio
import pytest

from mcp_sessions.cli import build_parser, main
from mcp_sessions.config import Settings
from tests.conftest import REPO


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[list[str], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(list(path), parser)]
    return [leaf for name, sub in subs[0].choices.items() for leaf in leaf_commands(sub, (*path, name))]


def argv_for(path: list[str], parser: argparse.ArgumentParser, tmp_path) -> list[str]:
    """The command with every required argument given: an existing file or folder where a
    path is expected, so the command gets as far as reading its settings."""
    (tmp_path / "file").write_text("")
    argv = list(path)
    for action in parser._actions:
        value = str(tmp_path if "dir" in action.dest else tmp_path / "file")
        if not action.option_strings:
            argv += [value] if action.nargs != "*" else []
        elif action.required:
            argv += [action.option_strings[0], "x"]
    for group in parser._mutually_exclusive_groups:  # one of them is required (tokens create --agent/--operator)
        if group.required and all(a.option_strings for a in group._group_actions):
            argv += [group._group_actions[0].option_strings[0], "x"]
    return argv


COMMANDS = leaf_commands(build_parser())


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_names_the_bad_setting(path, parser, tmp_path, monkeypatch, capsys):
    for key in list(os.environ):
        if key.startswith(("MCP_SESSIONS_", "PG")) or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("MCP_SESSIONS_POOL_MAX_SIZE", "abc")
    monkeypatch.setenv("MCP_SESSIONS_DATA_DIR", str(tmp_path / "never-started"))
    argv = argv_for(path, parser, tmp_path)
    if path == ["db", "init-sql"]:
        assert main(argv) == 0  # the one command that reads no settings: it prints the schema
        return
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert err == ("mcp-sessions: bad configuration: MCP_SESSIONS_POOL_MAX_SIZE='abc': "
                   "expected a whole number, at least 1 (default 10)\n")
    assert not (tmp_path / "never-started").exists()


def run(args: list[str], env: dict[str, str], shell: bool = False) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    command = args if not shell else ["bash", "-c", args[0]]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env={**base, **env},
                          stdin=subprocess.DEVNULL, timeout=60)


def test_serve_names_every_bad_setting_in_one_line():
    out = run([sys.executable, "-m", "mcp_sessions", "serve"], {
        "MCP_SESSIONS_POOL_MAX_SIZE": "0", "MCP_SESSIONS_LOG_FORMAT": "xml", "mcp_sessions_http_port": "99999",
        "MCP_SESSIONS_POOL_ACQUIRE_TIMEOUT": "soon",
    })
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
    for part in (
        "MCP_SESSIONS_POOL_MAX_SIZE='0': expected a whole number, at least 1 (default 10)",
        "MCP_SESSIONS_LOG_FORMAT='xml': expected one of plain, json (default plain)",
        "mcp_sessions_http_port='99999': expected a whole number, at least 0, at most 65535 (default 8765)",
        "MCP_SESSIONS_POOL_ACQUIRE_TIMEOUT='soon': expected a number, greater than 0",
    ):
        assert part in out.stderr


def test_empty_values_mean_the_default(monkeypatch):
    for line in (REPO / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            monkeypatch.setenv(key, value)
    assert Settings() == Settings.model_validate({})  # what .env.example leaves empty takes its default


async def test_env_example_sourced_as_shipped_works(database_url, tmp_path):
    # The documented way: `set -a; . ./.env` (here the example itself, unedited), then any command.
    script = f'set -a; . ./.env.example; set +a; export DATABASE_URL="{database_url}"; exec "{sys.executable}" -m mcp_sessions db status --json'
    out = await anyio.to_thread.run_sync(lambda: run([script], {"MCP_SESSIONS_DATA_DIR": str(tmp_path)}, shell=True))
    assert out.returncode == 0, out.stderr
    assert '"schema_version"' in out.stdout
