"""Path reservations: exclusive vs shared, conflicts that name each overlapping
reservation, renewal, release, expiry with its event, the glob overlap rules, and the
`reservations check` CLI as a git pre-commit hook."""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import pytest

from mcp import Client

from mcp_sessions.errors import InvalidInput
from mcp_sessions.globs import covers, normalize, overlaps
from mcp_sessions.server import create_server
from tests.conftest import REPO, call, call_error, make_settings, stdio_client


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ("src/queue/**", "src/queue/worker.py", True),
    ("src/queue/", "src/queue/worker.py", True),
    ("src/queue", "src/queue/worker.py", True),  # no extension: may be a directory
    ("src/queue/**", "src/api/app.py", False),
    ("README.md", "readme.md", True),  # case-insensitive file systems
    ("src/*.py", "src/sub/a.py", False),
    ("src/*.py", "src/*.md", False),
    ("src/a*", "src/*b", True),  # src/ab
    ("**/test_*.py", "tests/test_queue.py", True),
    ("**/test_*.py", "tests/conftest.py", False),
    ("docs/[ab].md", "docs/c.md", True),  # character sets count as any character
    ("a/**/z.py", "a/b/c/z.py", True),
    ("a/**/z.py", "a/b/c/y.py", False),
    ("**/*.py", "src/**", True),
    ("**/*.py", "**/*.md", False),
])
def test_glob_overlap_is_conservative_and_symmetric(a, b, overlap):
    assert overlaps(normalize(a), normalize(b)) is overlap
    assert overlaps(normalize(b), normalize(a)) is overlap


def test_paths_are_repository_relative():
    assert normalize("./src//queue/") == "src/queue/**"
    for bad, words in [("/etc/passwd", "absolute"), ("../x", "leaves the repository"), ("", "names no file")]:
        with pytest.raises(InvalidInput, match=words):
            normalize(bad)
    assert covers("src/*.py", "src/a.py") and not covers("src/*.py", "src/a.pyc")


async def test_conflicts_shared_renewal_release_and_expiry_across_processes(database_url, conn):
    async with stdio_client(database_url, agent="alice") as alice, stdio_client(database_url, agent="bob") as bob:
        sid = (await call(alice, "create_session", title="reservations"))["id"]
        start = (await call(bob, "watch", session_id=sid))["next_after"]
        mine = await call(alice, "reserve", session_id=sid, paths=["src/queue/**", "README.md"],
                          reason="queue rewrite", ttl_seconds=600)
        assert mine["renewed"] is False and mine["reservation"]["paths"] == ["src/queue/**", "README.md"]

        # An overlapping exclusive reservation is refused, naming holder, paths, reason, expiry.
        message = await call_error(bob, "reserve", session_id=sid, paths=["src/queue/worker.py"])
        assert message.startswith("[conflict]")
        assert "alice holds src/queue/**, README.md" in message and "reason: queue rewrite" in message
        assert mine["reservation"]["id"] in message and "until 20" in message
        # So is a shared one against an exclusive one; elsewhere is fine.
        assert "[conflict]" in await call_error(bob, "reserve", session_id=sid, paths=["readme.md"], exclusive=False)
        await call(bob, "reserve", session_id=sid, paths=["src/api/**"])

        # Shared reservations coexist, and say with whom.
        await call(alice, "reserve", session_id=sid, paths=["docs/**"], exclusive=False)
        shared = await call(bob, "reserve", session_id=sid, paths=["docs/guide.md"], exclusive=False)
        assert [r["agent"] for r in shared["shared_with"]] == ["alice"]
        assert "[conflict]" in await call_error(bob, "reserve", session_id=sid, paths=["docs/x.md"])

        # Reserving exactly what you hold renews it.
        again = await call(alice, "reserve", session_id=sid, paths=["README.md", "src/queue/**"], ttl_seconds=1200)
        assert again["renewed"] and again["reservation"]["id"] == mine["reservation"]["id"]
        assert again["reservation"]["expires_at"] > mine["reservation"]["expires_at"]

        # Release some paths, then the rest: bob can have them.
        narrowed = await call(alice, "release", session_id=sid, paths=["README.md"])
        assert narrowed["narrowed"][0]["paths"] == ["src/queue/**"] and narrowed["released"] == []
        await call(bob, "reserve", session_id=sid, paths=["README.md"])
        done = await call(alice, "release", session_id=sid, reservation_id=mine["reservation"]["id"])
        assert done["released"] == [mine["reservation"]["id"]]
        assert "[not_found]" in await call_error(alice, "release", session_id=sid,
                                                 reservation_id=mine["reservation"]["id"])
        assert "[invalid_input]" in await call_error(alice, "reserve", session_id=sid, paths=["../etc"])

        # Expiry: a short reservation lapses; another agent then gets the paths, and the
        # expiry has its event (written by whoever expires it: reserve, or the upkeep sweep).
        await call(alice, "reserve", session_id=sid, paths=["Makefile"], ttl_seconds=1)
        assert "[conflict]" in await call_error(bob, "reserve", session_id=sid, paths=["Makefile"])
        await anyio.sleep(1.2)
        await call(bob, "reserve", session_id=sid, paths=["Makefile"])
        await call(bob, "reserve", session_id=sid, paths=["setup.cfg"], ttl_seconds=1)
        await anyio.sleep(1.2)
        assert await conn.fetchval("SELECT expire_reservations()") == 1  # the sweep every server runs

        kinds = [(e["kind"], e["agent"], e["refs"].get("paths")) for e in
                 (await call(bob, "watch", session_id=sid, after=start, kinds=["reservation.*"], limit=100))["events"]]
        assert ("reservation.released", "alice", ["README.md"]) in kinds
        assert ("reservation.released", "alice", ["src/queue/**"]) in kinds
        assert ("reservation.expired", "alice", ["Makefile"]) in kinds
        assert ("reservation.expired", "bob", ["setup.cfg"]) in kinds
        assert sum(k == "reservation.granted" for k, _, _ in kinds) == 9  # 8 grants and 1 renewal


async def test_a_server_expires_reservations_on_its_own(database_url):
    """No call touches the session: the server's periodic sweep deletes the lapsed
    reservation and writes reservation.expired, which wakes a waiting watch."""
    async with stdio_client(database_url, agent="alice", MCP_SESSIONS_SWEEP_SECONDS="0.5") as alice:
        sid = (await call(alice, "create_session", title="sweep"))["id"]
        granted = await call(alice, "reserve", session_id=sid, paths=["src/**"], ttl_seconds=1)
        start = (await call(alice, "watch", session_id=sid))["next_after"]
        page = await call(alice, "watch", session_id=sid, after=start, kinds=["reservation.expired"], wait_seconds=10)
        (event,) = page["events"]
        assert event["refs"]["reservation_id"] == granted["reservation"]["id"] and event["agent"] == "alice"
        assert "expired" in event["summary"]


async def test_concurrent_overlapping_reservations_grant_exactly_one(database_url):
    """Agents racing for overlapping paths in one session: one wins each round, the
    others get [conflict] (the session's reservations are decided one at a time)."""
    names = ["a1", "a2", "a3", "a4"]
    servers = [Client(create_server(make_settings(database_url, agent=n))) for n in names]
    for s in servers:
        await s.__aenter__()
    try:
        sid = (await call(servers[0], "create_session", title="race"))["id"]
        for round_ in range(5):
            outcomes: list[bool] = []

            async def try_(client, path):
                result = await client.call_tool("reserve", {"session_id": sid, "paths": [path]})
                outcomes.append(not result.is_error)

            async with anyio.create_task_group() as tg:
                for i, client in enumerate(servers):
                    # different spellings of overlapping paths
                    tg.start_soon(try_, client, [f"r{round_}/**", f"r{round_}/a.py", f"R{round_}/*.py", f"r{round_}/"][i])
            assert sorted(outcomes) == [False, False, False, True]
    finally:
        for s in reversed(servers):
            await s.__aexit__(None, None, None)


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


async def test_cli_check_as_a_pre_commit_hook(database_url, tmp_path):
    async with stdio_client(database_url, agent="alice") as alice:
        sid = (await call(alice, "create_session", title="hook"))["id"]
        await call(alice, "reserve", session_id=sid, paths=["src/queue/**"], reason="rewrite")
        await call(alice, "reserve", session_id=sid, paths=["docs/**"], exclusive=False)
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_SESSIONS_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO)}

    def check(*args, cwd=REPO):
        return subprocess.run([sys.executable, "-m", "mcp_sessions", "reservations", "check", "--session", sid,
                               *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)

    blocked = check("--agent", "bob", "src/queue/worker.py", "src/api.py")
    assert blocked.returncode == 1
    assert "src/queue/worker.py: alice holds src/queue/** (exclusive, reason: rewrite" in blocked.stderr
    assert "src/api.py" not in blocked.stderr
    assert check("--agent", "alice", "src/queue/worker.py").returncode == 0  # your own
    assert check("--agent", "bob", "docs/a.md").returncode == 1  # shared by alice, not by bob

    # As a git pre-commit hook: the staged files are checked.
    repo = tmp_path / "repo"
    (repo / "src" / "queue").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "src" / "queue" / "worker.py").write_text("x = 1\n")
    (repo / "notes.txt").write_text("hi\n")
    git(repo, "add", "notes.txt")
    assert check("--agent", "bob", cwd=repo).returncode == 0
    git(repo, "add", "src/queue/worker.py")
    staged = check("--agent", "bob", cwd=repo)
    assert staged.returncode == 1 and "src/queue/worker.py" in staged.stderr
    listed = subprocess.run([sys.executable, "-m", "mcp_sessions", "reservations", "list", "--session", sid],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert listed.returncode == 0 and "src/queue/**" in listed.stdout and "shared" in listed.stdout
