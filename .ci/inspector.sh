#!/usr/bin/env bash
# The MCP Inspector's CLI (a real MCP client, from npm) against `mcp-sessions serve` over
# stdio: tools/list, resources/templates/list, resources/read and prompts/get must answer.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
DB="mcps_inspector_ci_$$"
ADMIN="postgresql://postgres@127.0.0.1:5432/postgres"
psql -q "$ADMIN" -c "CREATE DATABASE $DB"
trap 'psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
OUT="$(mktemp -d)"
inspect() {
    npx -y --loglevel=error @modelcontextprotocol/inspector@2.12.0 --cli \
        -e "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB" -e MCP_SESSIONS_AGENT=inspector \
        -e MCP_SESSIONS_LOG_LEVEL=WARNING "$VENV/bin/mcp-sessions" serve "$@" 2>"$OUT/err"
}
inspect --method tools/call --tool-name create_session --tool-arg title=Inspected --tool-arg session_id=insp-1 >"$OUT/create.json"
inspect --method tools/list >"$OUT/tools.json"
inspect --method resources/templates/list >"$OUT/templates.json"
inspect --method resources/read --uri mcp-sessions://sessions/insp-1 >"$OUT/read.json"
inspect --method prompts/get --prompt-name join_session --prompt-args session_id=insp-1 >"$OUT/prompt.json"
"$VENV/bin/python" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
load = lambda name: json.loads((out / name).read_text())
tools = {t["name"] for t in load("tools.json")["tools"]}
assert {"create_session", "watch", "catch_up", "claim_task"} <= tools, tools
templates = {t["uriTemplate"] for t in load("templates.json")["resourceTemplates"]}
assert "mcp-sessions://sessions/{session_id}" in templates, templates
digest = json.loads(load("read.json")["contents"][0]["text"])
assert digest["session"]["title"] == "Inspected", digest
prompt = load("prompt.json")["messages"][0]["content"]["text"]
assert "Inspected" in prompt, prompt[:200]
print(f"MCP Inspector CLI: tools/list ({len(tools)} tools), resources/templates/list ({len(templates)}), "
      "resources/read, prompts/get: ok")
PY
