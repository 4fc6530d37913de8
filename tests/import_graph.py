"""The first-party modules app.py reaches, read statically (``ast``), lazy imports inside functions included.

What `chalice package` ships is app.py and everything under chalicelib/ (its packager zips the whole
directory: chalice/deploy/packager.py ``_add_app_files``), so "what ships is what runs" is two set
comparisons over this graph: nothing shipped that app.py cannot reach, nothing reached outside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("app", "chalicelib", "tools", "devstack", "infra", "bench", "tests", "canary")


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The file of first-party module ``name`` (a package's __init__.py), or None when there is none."""
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def imported_by(path: Path, name: str, root: Path = ROOT) -> set[str]:
    """Every first-party module ``path`` (module ``name``) imports anywhere in its body, with their parent packages."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            named.add(base)
            # `from chalicelib import aws` imports the module chalicelib.aws
            named.update(f"{base}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for dotted in named:
        if dotted.split(".")[0] not in FIRST_PARTY:
            continue
        parts = dotted.split(".")
        found.update(sub for sub in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if module_file(sub, root))
    return found


def reached_from_app(root: Path = ROOT) -> set[str]:
    """app.py's first-party import closure (module names, ``app`` itself included)."""
    seen, todo = {"app"}, ["app"]
    while todo:
        name = todo.pop()
        path = module_file(name, root)
        assert path is not None
        for found in imported_by(path, name, root) - seen:
            seen.add(found)
            todo.append(found)
    return seen


def module_name(relative: str) -> str:
    """``chalicelib/exports/__init__.py`` -> ``chalicelib.exports``."""
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def shipped_sources(root: Path = ROOT) -> set[str]:
    """The modules `chalice package` would zip from the project: app.py and chalicelib/ (module names)."""
    files = [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]
    return {module_name(path.relative_to(root).as_posix()) for path in files if "__pycache__" not in path.parts}
