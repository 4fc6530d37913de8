"""The README's table of error codes and the codes in the code are the same set (no code a client
can meet is undocumented, and no documented code is dead)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where a code is defined: a class attribute (code = "x"), a keyword (code="x") or a status dict ("code": "x").
_DEFINED = re.compile(r"""(?:\bcode\s*=\s*|["']code["']\s*:\s*)["']([a-z][a-z0-9_]*)["']""")


def codes_in_the_code() -> set[str]:
    sources = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    return {code for path in sources for code in _DEFINED.findall(path.read_text(encoding="utf-8"))}


def codes_in_the_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Error codes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {code for row in rows for code in re.findall(r"`([a-z][a-z0-9_]*)`", row.split("|")[1])}


def test_every_code_in_the_code_is_in_the_readme_table_and_vice_versa() -> None:
    in_code, in_readme = codes_in_the_code(), codes_in_the_readme()
    assert len(in_code) > 25  # the scan found the codes at all
    assert in_code - in_readme == set(), "codes missing from README 'Error codes'"
    assert in_readme - in_code == set(), "README lists codes nothing raises"
