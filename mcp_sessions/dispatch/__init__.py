"""`mcp-sessions dispatch`: run registered agents' commands for their tasks.

capture.py bounds and shapes what an agent prints; process.py starts and stops one
agent process; dispatcher.py claims tasks and supervises each attempt."""

from mcp_sessions.dispatch.dispatcher import Dispatcher, Options

__all__ = ["Dispatcher", "Options"]
