"""A queue worker for the process tests: one agent, its own `mcp-sessions serve` over
stdio, claiming and completing tasks through the MCP tools. Prints one JSON line per
event to stdout, so the test can check what each worker did (and what a killed one held).

    python tests/queue_worker.py DSN AGENT SESSION_ID drain   # until the queue stays empty
    python tests/queue_worker.py DSN AGENT SESSION_ID drain-next  # the same with complete_task(claim_next)
    python tests/queue_worker.py DSN AGENT SESSION_ID hold N  # claim N tasks (2 s leases), then hang
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import call, stdio_client  # noqa: E402


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def drain(client, session_id: str, claim_next: bool) -> None:
    """Claim and complete until the queue stays empty; with claim_next, each completion
    also claims the next task (complete_task(claim_next=...))."""
    empty = 0
    task = None
    while empty < 2:
        if task is None:
            task = (await call(client, "claim_task", session_id=session_id, lease_seconds=30, wait_seconds=1))["task"]
            if task is None:
                empty += 1
                continue
        empty = 0
        emit(claimed=task["id"], attempts=task["attempts"])
        arguments = {"task_id": task["id"], "claim_token": task["claim_token"], "output_data": {"by": sys.argv[2]}}
        if claim_next:
            arguments["claim_next"] = {"session_id": session_id, "lease_seconds": 30}
        result = await client.call_tool("complete_task", arguments)
        if result.is_error:
            emit(refused=task["id"], message=result.content[0].text)
            task = None
        else:
            emit(completed=task["id"])
            task = result.structured_content.get("next_task")


async def hold(client, session_id: str, count: int) -> None:
    for _ in range(count):
        task = (await call(client, "claim_task", session_id=session_id, lease_seconds=2))["task"]
        if task is not None:
            emit(held=task["id"], token=task["claim_token"])
    emit(ready=True)
    await asyncio.sleep(3600)  # the test kills us with SIGKILL


async def main() -> None:
    dsn, agent, session_id, mode = sys.argv[1:5]
    async with stdio_client(dsn, agent) as client:
        emit(started=agent)
        if mode in ("drain", "drain-next"):
            await drain(client, session_id, claim_next=mode == "drain-next")
        else:
            await hold(client, session_id, int(sys.argv[5]))
    emit(done=agent)


if __name__ == "__main__":
    asyncio.run(main())
