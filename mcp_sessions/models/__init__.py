"""What the tools return: pydantic models (output schema + structured content), one module per domain."""

from mcp_sessions.models.base import *  # noqa: F401,F403
from mcp_sessions.models.sessions import *  # noqa: F401,F403
from mcp_sessions.models.content import *  # noqa: F401,F403
from mcp_sessions.models.chunks import *  # noqa: F401,F403
from mcp_sessions.models.memories import *  # noqa: F401,F403
from mcp_sessions.models.tasks import *  # noqa: F401,F403
from mcp_sessions.models.artifacts import *  # noqa: F401,F403
from mcp_sessions.models.agents import *  # noqa: F401,F403
from mcp_sessions.models.search import *  # noqa: F401,F403
from mcp_sessions.models.events import *  # noqa: F401,F403
from mcp_sessions.models.schedules import *  # noqa: F401,F403
from mcp_sessions.models.coordination import *  # noqa: F401,F403
