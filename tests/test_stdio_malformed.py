"""stdio answers malformed messages (issue 13, item 9): a real `mcp-sessions serve`
process gets raw lines on its stdin that its JSON parser can't read (a lone surrogate
escape, nesting 1,500 and 100,000 deep, a 5,000-digit integer, not JSON at all). Each
request gets the JSON-RPC error under its own id (the client stops waiting), what is no
request gets none, and the server goes on serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from queue import Empty, Queue

import mcp_types

from tests.conftest import REPO

TIMEOUT = 30


def _call(request_id: object, arguments_json: str) -> str:
    return (
        '{"jsonrpc":"2.0","id":' + json.dumps(request_id) + ',"method":"tools/call","params":'
        '{"name":"get_session","arguments":' + arguments_json + "}}\n"
    )


async def test_stdio_answers_malformed_lines(database_url):
    # Blocking pipes on purpose: the server is a separate process and nothing else runs here.
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_SESSIONS_AGENT": "raw", "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_sessions", "serve"], cwd=REPO, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    answers: Queue = Queue()
    threading.Thread(target=lambda: [answers.put(json.loads(line)) for line in proc.stdout], daemon=True).start()

    def send(line: str) -> None:
        proc.stdin.write(line.encode("utf-8", "surrogatepass"))
        proc.stdin.flush()

    def answer() -> dict:
        return answers.get(timeout=TIMEOUT)

    try:
        send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}) + "\n")
        assert answer()["id"] == 1
        send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

        started = time.monotonic()
        send(_call(2, '{"session_id":"a\\ud800b"}'))                       # lone surrogate escape
        send(_call(3, '{"session_id":' + "[" * 1500 + "]" * 1500 + "}"))   # 1,500 deep
        send(_call("deep", '{"x":' + "[" * 100_000 + "]" * 100_000 + "}"))  # 100,000 deep
        send(_call(4, '{"session_id":' + "9" * 5000 + "}"))                # 5,000 digits
        send('{"jsonrpc":"2.0","id":5,"params":{"a":' + "[" * 2000 + "}\n")  # truncated, id before the break
        send("this is not json\n")                                          # no id: answered with id null
        send("\n")                                                          # blank: no answer
        send('{"jsonrpc":"2.0","method":"notifications/x","params":{"a":"\\udc00"}}\n')  # notification: no answer
        send(_call(9, '{"session_id":"no-such-session"}'))                  # and the server still serves
        got = {}
        while 9 not in got:
            message = answer()
            got[message.get("id")] = message
        elapsed = time.monotonic() - started

        for request_id, words in [(2, "surrogate"), (3, "nested too deeply"), ("deep", "nested too deeply"),
                                  (4, "number too large"), (5, "Parse error")]:
            error = got[request_id]["error"]
            assert error["code"] == mcp_types.PARSE_ERROR and words in error["message"], got[request_id]
        assert got[None]["error"]["code"] == mcp_types.PARSE_ERROR
        assert set(got) == {2, 3, "deep", 4, 5, None, 9}, sorted(map(str, got))
        assert "[not_found]" in got[9]["result"]["content"][0]["text"]
        assert elapsed < 15
        time.sleep(0.5)
        assert answers.empty()  # nothing more: the blank line and the notification got no answer
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        proc.stdout.close()
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "unreadable message" in stderr
