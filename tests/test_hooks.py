"""The webhook relay: real GitHub sample payloads (tests/data/github), signed with HMAC,
posted to a running `mcp-sessions serve --transport http`; unsigned, tampered, stale and
redelivered ones; the configuration's errors; `mcp-sessions hooks test`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest

from mcp_sessions.hooks import HooksConfigError, load, match
from mcp_sessions.hooks.config import pointer
from mcp_sessions.hooks.verify import sign_generic, sign_github, verify
from mcp_sessions.store import tasks as store
from tests.cli_support import cli
from tests.http_support import http_server

DATA = Path(__file__).resolve().parent / "data"
CONFIG = DATA / "hooks.toml"
GH_SECRET, CI_SECRET = "It's a Secret to Everybody", "ci-secret-2"
ENV = {"MCP_SESSIONS_HOOKS": str(CONFIG), "TEST_GITHUB_SECRET": GH_SECRET, "TEST_CI_SECRET": CI_SECRET}


def sample(name: str) -> bytes:
    return (DATA / "github" / name).read_bytes()


def github_headers(body: bytes, event: str, delivery: str, secret: str = GH_SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_github(secret.encode(), body), "User-Agent": "GitHub-Hookshot/5ab2c1d"}


def test_signatures_and_pointers():
    hooks = load(CONFIG, require_secrets=False)
    body = sample("issues.opened.json")
    good = {"x-hub-signature-256": sign_github(GH_SECRET.encode(), body)}
    assert verify(hooks["github"], GH_SECRET.encode(), good, body) is None
    assert verify(hooks["github"], GH_SECRET.encode(), good, body + b" ") == "bad signature"
    assert verify(hooks["github"], b"other", good, body) == "bad signature"
    assert verify(hooks["github"], GH_SECRET.encode(), {}, body) == "missing X-Hub-Signature-256"
    now = time.time()
    stamp = str(int(now))
    signed = {"x-signature": sign_generic(CI_SECRET.encode(), stamp, b"{}"), "x-timestamp": stamp}
    assert verify(hooks["ci"], CI_SECRET.encode(), signed, b"{}", now=now) is None
    assert "300 s" in verify(hooks["ci"], CI_SECRET.encode(), signed, b"{}", now=now + 301)
    # the timestamp is signed too: moving it breaks the signature
    moved = {**signed, "x-timestamp": str(int(now) + 1)}
    assert verify(hooks["ci"], CI_SECRET.encode(), moved, b"{}", now=now) == "bad signature"
    doc = {"a/b": {"m~n": [10, 20]}}
    assert pointer(doc, "/a~1b/m~0n/1") == 20 and pointer(doc, "") is doc
    assert pointer(doc, "/a~1b/m~0n/7") is not None and pointer(doc, "/nope") is not None  # _MISSING, not a value


def test_rules_pick_the_task_or_say_why_not():
    hooks = load(CONFIG, require_secrets=False)
    issue = json.loads(sample("issues.opened.json"))
    found = match("github", hooks["github"], "issues", issue, "d-1")
    assert found.title == "Issue #42: claim_task returns a task whose lease already ran out"
    assert found.input_data["number"] == 42 and found.input_data["labels"][0]["name"] == "bug"
    assert found.input_data["_webhook"] == {"hook": "github", "event": "issues", "delivery": "d-1"}
    assert (found.session_id, found.agent_name, found.priority, found.rule) == ("github-inbox", "claude_code", 5, 1)
    closed = {**issue, "action": "closed"}
    why = match("github", hooks["github"], "issues", closed, "d-2")
    assert isinstance(why, str) and "/action is 'closed'" in why
    push = json.loads(sample("push.json"))
    assert match("github", hooks["github"], "push", push, "d-3").input_data["pusher"] == "mona-dev"
    why = match("github", hooks["github"], "push", {**push, "ref": "refs/heads/topic"}, "d-4")
    assert "/ref is 'refs/heads/topic'" in why and "event 'push' is not one of ['issues']" in why


@pytest.mark.parametrize("text, expected", [
    ("[hooks.x]\nscheme = 'github'\nsecret_env = 'S'\nrules = []\n", "rules"),
    ("[hooks.x]\nscheme = 'gitlab'\nsecret_env = 'S'\n", "scheme"),
    ("[hooks.x]\nscheme = 'github'\nsecret_env = 'S'\nsecret = 'oops'\n", "secret"),
    ("[hooks.x]\nscheme = 'github'\nsecret_env = 'S'\n[[hooks.x.rules]]\nsession = 's'\ntask_type = 'code'\n"
     "when = { 'action' = 'opened' }\n", "not a JSON pointer"),
    ("[hooks.x]\nscheme = 'github'\nsecret_env = 'UNSET_SECRET_VAR'\n[[hooks.x.rules]]\nsession = 's'\n"
     "task_type = 'code'\n", "UNSET_SECRET_VAR, which is not set"),
    ("[hooks.x\n", "not valid TOML"),
])
def test_configuration_errors_say_what_is_wrong(tmp_path, text, expected):
    path = tmp_path / "hooks.toml"
    path.write_text(text)
    with pytest.raises(HooksConfigError) as err:
        load(path)
    assert expected in err.value.message and str(path) in err.value.message


async def test_hooks_test_cli_shows_the_task_without_creating_it(tmp_path):
    run = await cli(None, "hooks", "test", "github", "--payload", str(DATA / "github" / "pull_request.opened.json"),
                    "--event", "pull_request", "--config", str(CONFIG))
    assert run.code == 0, run.err
    task = json.loads(run.out)["task"]
    assert task["title"] == "Review PR #43: Refuse completions after the lease ran out" and task["agent_name"] == "codex"
    assert task["input_data"]["head"] == "8d3c1ab27e4f9c0d5b6a7e8f9012345678abcdef"
    run = await cli(None, "hooks", "test", "github", "--payload", str(DATA / "github" / "push.json"), "--event", "ping",
                    "--config", str(CONFIG))
    assert run.code == 1 and "no rule accepts it" in json.loads(run.out)["reason"]
    run = await cli(None, "hooks", "test", "nope", "--payload", "-", "--config", str(CONFIG))
    assert run.code == 1 and "no hook named 'nope'" in run.err


async def test_serve_refuses_a_bad_hooks_file_in_one_line(database_url, tmp_path):
    bad = tmp_path / "hooks.toml"
    bad.write_text("[hooks.x]\nscheme = 'github'\n")
    run = await cli(database_url, "serve", "--transport", "http", "--port", "0", MCP_SESSIONS_HOOKS=str(bad))
    assert run.code == 2 and "secret_env" in run.err and "Traceback" not in run.err


async def test_signed_unsigned_tampered_and_redelivered_webhooks(database_url, conn):
    async with http_server(database_url, **ENV) as server, httpx2.AsyncClient() as http:
        url = server.base + "/hooks/github"

        async def count() -> int:
            return await conn.fetchval("SELECT count(*) FROM tasks")

        issue = sample("issues.opened.json")
        # unsigned, wrongly signed, tampered: 401 and nothing written (not even the session)
        unsigned = {k: v for k, v in github_headers(issue, "issues", "d-1").items() if k != "X-Hub-Signature-256"}
        r = await http.post(url, content=issue, headers=unsigned)
        assert r.status_code == 401 and "missing X-Hub-Signature-256" in r.json()["error"]
        r = await http.post(url, content=issue, headers=github_headers(issue, "issues", "d-1", secret="guess"))
        assert r.status_code == 401
        tampered = issue.replace(b'"number": 42', b'"number": 666')
        r = await http.post(url, content=tampered, headers=github_headers(issue, "issues", "d-1"))
        assert r.status_code == 401 and r.json()["error"] == "signature refused: bad signature"
        assert await count() == 0 and await conn.fetchval("SELECT count(*) FROM sessions") == 0

        # signed: 201, a task claimable at once, without any bearer token (HTTP auth is on)
        r = await http.post(url, content=issue, headers=github_headers(issue, "issues", "delivery-42"))
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["created"] and first["session_id"] == "github-inbox" and first["rule"] == 1
        claimed = (await store.claim(conn, agent="claude_code", session_id=None, task_types=None)).task
        assert claimed.id == first["task_id"] and claimed.title.startswith("Issue #42: ")
        assert claimed.input_data["url"] == "https://github.com/octo-org/mcp-demo/issues/42"
        assert claimed.created_by == "hook:github"
        # redelivered (GitHub's "Redeliver": same X-GitHub-Delivery): the same task, no second one
        r = await http.post(url, content=issue, headers=github_headers(issue, "issues", "delivery-42"))
        assert r.status_code == 200 and r.json()["task_id"] == first["task_id"] and not r.json()["created"]
        assert await count() == 1

        pr = sample("pull_request.opened.json")
        r = await http.post(url, content=pr, headers=github_headers(pr, "pull_request", "delivery-43"))
        assert r.status_code == 201 and r.json()["rule"] == 2
        push = sample("push.json")
        r = await http.post(url, content=push, headers=github_headers(push, "push", "delivery-44"))
        assert r.status_code == 201 and r.json()["rule"] == 3
        topic = push.replace(b'"ref": "refs/heads/main"', b'"ref": "refs/heads/topic"')
        r = await http.post(url, content=topic, headers=github_headers(topic, "push", "delivery-45"))
        assert r.status_code == 202 and "/ref is 'refs/heads/topic'" in r.json()["reason"]
        r = await http.post(url, content=b"{}", headers=github_headers(b"{}", "ping", "delivery-46"))
        assert r.status_code == 202 and not r.json()["accepted"]
        assert await count() == 3

        big = b'{"pad": "' + b"x" * 70000 + b'"}'
        r = await http.post(url, content=big, headers=github_headers(big, "issues", "delivery-47"))
        assert r.status_code == 413
        r = await http.post(server.base + "/hooks/nope", content=b"{}")
        assert r.status_code == 404
        # the rest of HTTP still wants a token
        r = await http.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Accept": "application/json, text/event-stream"})
        assert r.status_code == 401

        # generic scheme: HMAC over timestamp and body, five minutes' tolerance
        ci = server.base + "/hooks/ci"
        body = json.dumps({"build": {"id": 981, "branch": "main", "log_url": "https://ci.example/981"}}).encode()
        stamp = str(int(time.time()))
        signed = {"X-Timestamp": stamp, "X-Signature": sign_generic(CI_SECRET.encode(), stamp, body),
                  "X-CI-Event": "build.failed", "X-CI-Delivery": "ci-981"}
        r = await http.post(ci, content=body, headers=signed)
        assert r.status_code == 201, r.text
        task = await conn.fetchrow("SELECT title, input_data, session_id FROM tasks WHERE id = $1", r.json()["task_id"])
        assert task["title"] == "Fix build 981 (build.failed)" and task["input_data"]["build"]["id"] == 981
        old = str(int(time.time()) - 600)
        stale = {**signed, "X-Timestamp": old, "X-Signature": sign_generic(CI_SECRET.encode(), old, body),
                 "X-CI-Delivery": "ci-982"}
        r = await http.post(ci, content=body, headers=stale)
        assert r.status_code == 401 and "300 s" in r.json()["error"]
        assert await count() == 4
