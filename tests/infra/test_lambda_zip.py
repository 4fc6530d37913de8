"""The deployment zip `chalice package` built holds exactly app.py's reach of first-party code (issue 14)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.import_graph import module_name, reached_from_app


def test_the_deployment_zip_ships_only_what_app_reaches(packaged_template: Path) -> None:
    with zipfile.ZipFile(packaged_template.parent / "deployment.zip") as archive:
        names = [name for name in archive.namelist() if name.endswith(".py")]
    first_party = {module_name(name) for name in names if name == "app.py" or name.startswith("chalicelib/")}
    assert "app" in first_party
    assert not any(name.startswith(("tools/", "devstack/", "infra/", "bench/", "tests/")) for name in names)
    assert first_party == reached_from_app()
