"""The packaged template (`make package STAGE=prod`), which `make test` builds before pytest runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.stages import ROOT


@pytest.fixture(scope="session")
def packaged_template() -> Path:
    path = ROOT / "out" / "prod" / "package" / "sam.json"
    if not path.exists():
        subprocess.run(["make", "--no-print-directory", "package", "STAGE=prod"], cwd=ROOT, check=True, capture_output=True)
    return path
