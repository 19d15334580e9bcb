"""Tool profiles: which tools a server offers (MCP_SESSIONS_TOOLS). A client that only
stores and searches, or only works the queue, sees a shorter tools/list, which costs
its model less context on every turn."""

from __future__ import annotations

PROFILES: dict[str, tuple[str, ...]] = {
    "core": (
        "create_session", "get_session", "list_sessions", "update_session",
        "add_chunk", "get_chunk", "list_chunks",
        "remember", "recall", "list_memories", "forget",
        "save_artifact", "get_artifact", "list_artifacts",
        "search", "catch_up",
    ),
    "queue": (
        "create_task", "claim_task", "heartbeat_task", "start_task", "complete_task", "fail_task", "cancel_task",
        "get_task", "list_tasks", "schedule_task", "list_schedules", "delete_schedule",
    ),
    "coordination": ("watch", "send_message", "read_inbox", "ack_message", "reserve", "release", "catch_up"),
    "agents": ("register_agent", "list_agents"),
}
ALL_TOOLS: tuple[str, ...] = tuple(dict.fromkeys(name for names in PROFILES.values() for name in names))


def resolve(spec: str) -> set[str] | None:
    """The tool names a spec selects ('all', profiles and tool names, comma-separated);
    None: every tool. Raises ValueError naming what is valid."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts or "all" in parts:
        return None
    chosen: set[str] = set()
    for part in parts:
        if part in PROFILES:
            chosen.update(PROFILES[part])
        elif part in ALL_TOOLS:
            chosen.add(part)
        else:
            raise ValueError(
                f"unknown tool or profile {part!r}: profiles are all, {', '.join(PROFILES)}; "
                f"tools are {', '.join(sorted(ALL_TOOLS))}"
            )
    return chosen
