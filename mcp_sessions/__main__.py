from mcp_sessions.cli import main

raise SystemExit(main())
