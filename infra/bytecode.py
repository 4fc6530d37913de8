"""Byte code in the deployment zip: ``python -m infra.bytecode out/<stage>/package/deployment.zip``.

``chalice package`` zips sources only (app.py, chalicelib/, chalice's app.py, the requirements'
wheels), and Lambda's /var/task is read-only, so without this every cold start compiles every
module it imports and can keep none of it. Measured under the API handler's CPU share
(bench/README.md "Cold start"): about 0.8 s of a cold POST /exports.

Each .py in the zip gets an *unchecked-hash* .pyc (PEP 552) in its ``__pycache__``: the
interpreter uses it without comparing the source's mtime, which zip extraction does not
preserve reliably. It is only correct because it is rebuilt from the same sources every time the
zip is built (``make package`` runs this right after ``chalice package``). The import system
sets a module's code file name to where it found the source, so tracebacks name /var/task.
The .pyc are tagged for the interpreter that runs this (``cpython-311``); Lambda's runtime is the
same Python that runs chalice (FACTS: it cannot be set in config), and any other interpreter
ignores them and compiles as before.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

import click


def add_bytecode(zip_path: Path) -> int:
    """Add a .pyc beside every .py in the zip that compiles; returns how many were added."""
    with tempfile.TemporaryDirectory(prefix="bytecode-") as scratch:
        tree = Path(scratch)
        with zipfile.ZipFile(zip_path) as archive:
            present = set(archive.namelist())
            sources = [name for name in present if name.endswith(".py")]
            for name in sources:
                archive.extract(name, tree)
        # quiet=2: a file that does not compile (a Python 2 example in some wheel) stays source only.
        compileall.compile_dir(
            str(tree),
            quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        compiled = sorted(path for path in tree.rglob("*.pyc") if path.relative_to(tree).as_posix() not in present)
        with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in compiled:
                entry = zipfile.ZipInfo.from_file(path, path.relative_to(tree).as_posix())
                entry.external_attr = 0o100644 << 16  # a regular file Lambda's runtime user can read, whatever the umask
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
    return len(compiled)


@click.command(help=__doc__)
@click.argument("zip_path", metavar="ZIP", type=click.Path(path_type=Path))
def cli(zip_path: Path) -> None:
    if not zip_path.is_file():
        raise click.ClickException(f"{zip_path}: no such deployment zip (run chalice package first)")
    before = zip_path.stat().st_size
    added = add_bytecode(zip_path)
    tag = sys.implementation.cache_tag
    after = zip_path.stat().st_size
    print(f"{zip_path}: added {added} unchecked-hash .pyc ({tag}), {before / 2**20:.1f} -> {after / 2**20:.1f} MiB zipped")


if __name__ == "__main__":
    cli(prog_name="python -m infra.bytecode")
