"""The API page's table of error codes (docs/api.md) and the codes in the code are the same set (no code a client
can meet is undocumented, and no documented code is dead)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where a code is defined: a class attribute (code = "x"), a keyword (code="x") or a status dict ("code": "x").
_DEFINED = re.compile(r"""(?:\bcode\s*=\s*|["']code["']\s*:\s*)["']([a-z][a-z0-9_]*)["']""")


def codes_in_the_code() -> set[str]:
    sources = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py")), *sorted((ROOT / "tools").rglob("*.py"))]
    return {code for path in sources for code in _DEFINED.findall(path.read_text(encoding="utf-8"))}


def codes_in_the_api_page() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("\n## Error codes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {code for row in rows for code in re.findall(r"`([a-z][a-z0-9_]*)`", row.split("|")[1])}


def test_every_code_in_the_code_is_in_the_api_page_table_and_vice_versa() -> None:
    in_code, in_docs = codes_in_the_code(), codes_in_the_api_page()
    assert len(in_code) > 25  # the scan found the codes at all
    assert in_code - in_docs == set(), "codes missing from docs/api.md 'Error codes'"
    assert in_docs - in_code == set(), "docs/api.md lists codes nothing raises"
