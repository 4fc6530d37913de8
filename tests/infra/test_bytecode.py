"""The deployment zip carries byte code that a read-only /var/task uses as it is (infra/bytecode.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.bytecode import add_bytecode

TAG = sys.implementation.cache_tag
_SOURCES = ("app.py", "chalicelib/__init__.py", "chalicelib/report.py", "README.txt")


def _zip(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_every_module_gets_a_readable_unchecked_hash_pyc(tmp_path: Path) -> None:
    package = _zip(tmp_path, {"app.py": "import report\n", "chalicelib/__init__.py": "", "chalicelib/report.py": "VALUE = 1\n", "README.txt": "x"})
    assert add_bytecode(package) == 3
    with zipfile.ZipFile(package) as archive:
        entries = {entry.filename: entry for entry in archive.infolist()}
        expected = {f"__pycache__/app.{TAG}.pyc", f"chalicelib/__pycache__/report.{TAG}.pyc", f"chalicelib/__pycache__/__init__.{TAG}.pyc"}
        assert set(entries) - set(_SOURCES) == expected
        pyc = entries[f"chalicelib/__pycache__/report.{TAG}.pyc"]
        assert stat.S_IMODE(pyc.external_attr >> 16) == 0o644
        flags = int.from_bytes(archive.read(pyc)[4:8], "little")
    assert flags == 0b01  # PEP 552: hash-based (bit 0), check_source off (bit 1)


def test_python_runs_the_byte_code_without_looking_at_the_source(tmp_path: Path) -> None:
    package = _zip(tmp_path, {"report.py": "VALUE = 1\n"})
    add_bytecode(package)
    task = tmp_path / "task"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task)
    # Changing the source after packaging would be seen if Python compiled it: it must not be.
    (task / "report.py").write_text("VALUE = 2\n")
    os.utime(task / "report.py", (0, 0))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(task)}
    probe = "import report; print(report.VALUE, report.__file__)"
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["1", str(task / "report.py")]


def test_a_file_that_does_not_compile_stays_source_only(tmp_path: Path) -> None:
    package = _zip(tmp_path, {"good.py": "X = 1\n", "examples/python2.py": "print 'hello'\n"})
    assert add_bytecode(package) == 1
    with zipfile.ZipFile(package) as archive:
        assert not [name for name in archive.namelist() if name.startswith("examples/__pycache__")]
