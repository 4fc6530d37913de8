"""The docs run the command line one way: `.venv/bin/excel-export` (where `make` installs it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_COMMAND = re.compile(r"(\S*)excel-export (reports|export|schedules)\b")


_DOCS = ["README.md", *sorted(str(page.relative_to(ROOT)) for page in (ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("name", [*_DOCS, "schedules.yaml", "Makefile"])
def test_every_command_line_in_the_docs_runs_the_venv_tool(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    prefixes = {match.group(1).lstrip("`(") for match in _COMMAND.finditer(text)}
    assert prefixes <= {".venv/bin/", "$(VENV)/bin/"}, prefixes
    assert "python -m tools.cli" not in text and "schedules_cli" not in text
