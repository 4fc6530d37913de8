"""What ships is what runs: chalicelib/ holds exactly the modules app.py reaches (issue 14).

The tools people run (tools/: the CLI, template checks, schedules, cron, canary rendering) import
click and other things the Lambda package does not carry; inside chalicelib/ they would ship
unreached. The package's own zip is checked the same way in tests/infra/test_lambda_zip.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import ROOT, reached_from_app, shipped_sources


def test_the_package_holds_no_module_app_cannot_reach() -> None:
    unreached = shipped_sources() - reached_from_app()
    assert not unreached, f"in app.py + chalicelib/ but never imported from app.py (move them to tools/): {sorted(unreached)}"


def test_app_reaches_no_first_party_module_outside_chalicelib() -> None:
    outside = reached_from_app() - shipped_sources()
    assert not outside, f"app.py reaches modules chalice package does not zip: {sorted(outside)}"


def test_a_lazy_import_inside_a_function_counts(tmp_path: Path) -> None:
    # The graph must see imports the handlers make on first use (the Slack path, the writers).
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "__init__.py").write_text("")
    (tmp_path / "chalicelib" / "late.py").write_text("")
    (tmp_path / "chalicelib" / "orphan.py").write_text("")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "app.py").write_text("def handler():\n    from chalicelib import late\n    import tools\n")
    assert reached_from_app(tmp_path) == {"app", "chalicelib", "chalicelib.late", "tools"}
    assert shipped_sources(tmp_path) - reached_from_app(tmp_path) == {"chalicelib.orphan"}


def test_the_project_root_is_the_one_chalice_packages() -> None:
    assert (ROOT / ".chalice" / "config.json").is_file() and (ROOT / "app.py").is_file()
