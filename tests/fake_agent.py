"""A stand-in for Claude Code & co. under `mcp-sessions dispatch`: what it does comes
from the task's input_data (read from {input_file}, and checked against stdin).

modes: complete (last line: a JSON object), plain (last line not JSON), fail (exit 3),
sleep (sleeps input["seconds"], with a child process in its group; ignores SIGTERM if
input["stubborn"]). input["log"]: append "task_id pid parent_pid" to that file at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

started = time.time()
input_file, title = sys.argv[1], sys.argv[2]
data = json.load(open(input_file))
assert json.loads(sys.stdin.read()) == data, "stdin and {input_file} differ"
if data.get("log"):
    with open(data["log"], "a") as log:
        log.write(f"{os.environ['MCP_SESSIONS_TASK_ID']} {os.getpid()} {os.getppid()}\n")
mode = data.get("mode", "complete")
env = {k: v for k, v in os.environ.items() if k.startswith("MCP_SESSIONS_") and k != "MCP_SESSIONS_LOG_LEVEL"}

if mode == "complete":
    print("working on it")
    print(json.dumps({"echo": data, "argv": sys.argv[1:], "env": env, "pid": os.getpid(), "started": started}))
elif mode == "plain":
    print("line one\nall done, no JSON here")
elif mode == "fail":
    print("about to fail")
    print("something broke: disk on fire", file=sys.stderr)
    sys.exit(3)
elif mode == "sleep":
    if data.get("stubborn"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(data["pids"], "w") as f:
        json.dump({"agent": os.getpid(), "child": child.pid}, f)
    print("sleeping", flush=True)
    time.sleep(data.get("seconds", 600))
    print(json.dumps({"slept": data.get("seconds")}))
