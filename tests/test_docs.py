"""The README is what a newcomer reads in five minutes; the reference lives in docs/.
Every tool, every CLI command and every setting is documented there, and every link
between the files (and to headings inside them) resolves."""

from __future__ import annotations

import argparse
import re

from mcp.server.mcpserver import MCPServer

from mcp_sessions.cli import build_parser
from mcp_sessions.config import Settings
from mcp_sessions.tools import register_all
from tests.conftest import REPO

DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [REPO / "README.md", *DOCS]


def slug(heading: str) -> str:
    # GitHub's anchors: lower case, punctuation dropped, spaces become hyphens.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def links(path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


def test_readme_is_short_and_lists_every_docs_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) < 15_000, "README is for the first hour; reference goes to docs/"
    assert len(DOCS) >= 8
    for doc in DOCS:
        assert f"(docs/{doc.name})" in readme, f"README's Documentation list lacks docs/{doc.name}"


def test_every_link_resolves():
    broken = []
    for page in PAGES:
        for target in links(page):
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def documented() -> str:
    return "\n".join(p.read_text() for p in PAGES)


async def test_every_tool_is_in_docs_tools_and_the_readme():
    mcp = MCPServer(name="docs")
    register_all(mcp)
    names = {t.name for t in await mcp.list_tools()}
    assert len(names) > 20
    reference = (REPO / "docs" / "tools.md").read_text()
    readme = (REPO / "README.md").read_text()
    assert [n for n in sorted(names) if f"`{n}`" not in reference] == []
    assert [n for n in sorted(names) if f"`{n}`" not in readme] == []


def commands(parser: argparse.ArgumentParser, prefix: str = "mcp-sessions") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found += commands(sub, f"{prefix} {name}")
    return found


def test_every_cli_command_is_in_docs_cli():
    reference = (REPO / "docs" / "cli.md").read_text()
    cmds = commands(build_parser())
    assert "mcp-sessions tokens revoke" in cmds
    # "mcp-sessions db backup -o FILE` / `db restore FILE": a later command of a group may be abbreviated
    missing = [c for c in cmds if f"`{c}" not in reference and f"`{c.removeprefix('mcp-sessions ')}" not in reference]
    assert missing == []


def test_every_setting_is_in_docs_operations():
    reference = (REPO / "docs" / "operations.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else f"MCP_SESSIONS_{name}".upper()
        short = "_" + env.removeprefix("MCP_SESSIONS_")
        if f"`{env}`" not in reference and f"`{short}`" not in reference:
            missing.append(env)
    assert missing == []
