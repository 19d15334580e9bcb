"""Prometheus metrics: tool calls, errors and latency per tool (fed by the tool
decorator's CallRecord), refused requests, pool use, and queue depth.

The queue depth counts every task (a scan of `tasks`): it is read at most once per
MCP_SESSIONS_METRICS_REFRESH_SECONDS, by one scrape while the others that arrive
meanwhile wait for it or take the last figures, so any number of scrapers costs the
database one count per interval (24 looping scrapers once pushed list_agents from 5 ms
to 4.9 s at a million tasks)."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import defaultdict

from mcp_sessions.errors import Unavailable
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.tools._base import App, CallRecord

# Seconds; a tool call is a few milliseconds, a long-poll claim or a 32 MiB write much more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_STATUSES = ("pending", "claimed", "running", "completed", "failed", "cancelled")


class Metrics:
    def __init__(self, refresh_seconds: float = 5.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._depth: dict[str, int] | None = None
        self._depth_at = -math.inf  # time.monotonic() of the last read
        self._reading = asyncio.Lock()
        self.calls: dict[tuple[str, str], int] = defaultdict(int)  # (tool, outcome)
        self.buckets: dict[str, list[int]] = {}  # tool -> counts per bucket (+Inf last)
        self.seconds: dict[str, float] = defaultdict(float)
        self.refusals: dict[str, int] = defaultdict(int)

    def record(self, call: CallRecord) -> None:
        self.calls[(call.tool, call.outcome)] += 1
        counts = self.buckets.setdefault(call.tool, [0] * (len(BUCKETS) + 1))
        counts[bisect.bisect_left(BUCKETS, call.seconds)] += 1
        self.seconds[call.tool] += call.seconds

    def refused(self, reason: str) -> None:
        self.refusals[reason] += 1

    async def render(self, app: App | None) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("mcp_sessions_tool_calls_total", "counter", "Tool calls by tool and outcome (ok or an error code).")
        for (tool, outcome), n in sorted(self.calls.items()):
            out.append(f'mcp_sessions_tool_calls_total{{tool="{tool}",outcome="{outcome}"}} {n}')
        family("mcp_sessions_tool_errors_total", "counter", "Tool calls that returned an error, by tool and code.")
        for (tool, outcome), n in sorted(self.calls.items()):
            if outcome != "ok":
                out.append(f'mcp_sessions_tool_errors_total{{tool="{tool}",code="{outcome}"}} {n}')
        family("mcp_sessions_tool_duration_seconds", "histogram", "Tool call latency.")
        for tool, counts in sorted(self.buckets.items()):
            running = 0
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts):
                running += n
                out.append(f'mcp_sessions_tool_duration_seconds_bucket{{tool="{tool}",le="{bound}"}} {running}')
            out.append(f'mcp_sessions_tool_duration_seconds_sum{{tool="{tool}"}} {self.seconds[tool]:.6f}')
            out.append(f'mcp_sessions_tool_duration_seconds_count{{tool="{tool}"}} {running}')
        family("mcp_sessions_http_refused_total", "counter", "HTTP requests refused before the MCP server, by reason.")
        for reason, n in sorted(self.refusals.items()):
            out.append(f'mcp_sessions_http_refused_total{{reason="{reason}"}} {n}')
        if app is not None:
            pool = app.pool
            family("mcp_sessions_pool_connections", "gauge", "Database connections of this server, by state.")
            size, idle = pool.get_size(), pool.get_idle_size()
            out.append(f'mcp_sessions_pool_connections{{state="in_use"}} {size - idle}')
            out.append(f'mcp_sessions_pool_connections{{state="idle"}} {idle}')
            family("mcp_sessions_pool_max_connections", "gauge", "The pool's upper bound (pool_max_size).")
            out.append(f"mcp_sessions_pool_max_connections {pool.get_max_size()}")
            depth = await self._queue_depth(app)
            family("mcp_sessions_database_up", "gauge", "1 if the last read of the database figures succeeded.")
            out.append(f"mcp_sessions_database_up {int(depth is not None)}")
            family("mcp_sessions_database_figures_age_seconds", "gauge",
                   "How old the database figures (queue depth) are; MCP_SESSIONS_METRICS_REFRESH_SECONDS bounds it.")
            out.append(f"mcp_sessions_database_figures_age_seconds {time.monotonic() - self._depth_at:.3f}")
            if depth is not None:
                family("mcp_sessions_tasks", "gauge", "Tasks in the queue, by status.")
                for status in TASK_STATUSES:
                    out.append(f'mcp_sessions_tasks{{status="{status}"}} {depth.get(status, 0)}')
        return "\n".join(out) + "\n"

    async def _queue_depth(self, app: App) -> dict[str, int] | None:
        if time.monotonic() - self._depth_at < self.refresh_seconds:
            return self._depth
        if self._reading.locked() and self._depth_at > -math.inf:
            return self._depth  # being read: the last figures now, rather than a wait
        async with self._reading:
            # Another scrape may have read them while this one waited.
            if time.monotonic() - self._depth_at >= self.refresh_seconds:
                self._depth = await _read_queue_depth(app)
                self._depth_at = time.monotonic()
        return self._depth


async def _read_queue_depth(app: App) -> dict[str, int] | None:
    try:
        async with app.connection() as conn:
            return {r["status"]: r["n"] for r in await conn.fetch(Q["tasks_by_status"])}
    except Unavailable:
        return None
