"""The dashboard for the people who oversee the agents: server-rendered pages under /ui/
(Jinja2, htmx, server-sent events fed by the event feed, uPlot charts; every asset
vendored in static/), mounted into the HTTP app (`serve --transport http`) and served
alone by `mcp-sessions ui`. See docs/dashboard.md."""

from mcp_sessions.ui.app import PREFIX, Dashboard, create_dashboard

__all__ = ["PREFIX", "Dashboard", "create_dashboard"]
