"""`schedules check | list | render`: what an operator sees, and the exit status."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tools.cli.schedules import schedules


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(schedules, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_accepts_the_shipped_schedules() -> None:
    code, out, _ = invoke("check")
    assert code == 0
    assert out == "ok: 4 schedules in schedules.yaml (3 enabled)\n"


def test_check_names_file_line_schedule_and_field_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "schedules:\n"
        "  - name: ny-morning\n    report: orders_by_day\n    cron: '0 9 * * MON-FRI'\n    timezone: America/New_York\n"
        "  - name: typo\n    report: orders_by_dya\n    cron: '0 9 * * *'\n    timezone: Asia/Seoul\n"
    )
    code, out, err = invoke("check", "--file", str(path))
    assert code == 1
    assert out == ""
    assert f"error: {path}:4: schedule 'ny-morning' field 'cron': cannot run as a Synthetics canary (America/New_York)" in err
    assert "cron(0 14 ? * MON-FRI *) while the zone is UTC-05:00" in err
    # the same run checks the other schedule against the report templates, at the field's own line
    assert f"error: {path}:7: schedule 'typo' field 'report': unknown report 'orders_by_dya'" in err


def test_list_shows_the_utc_cron_and_the_next_five_runs_in_both_zones() -> None:
    code, out, _ = invoke("list", "--now", "2026-11-27T12:00+09:00")
    assert code == 0
    block = out.split("weekday-sales (enabled)")[1].split("\nmonthly-orders")[0].splitlines()
    assert block[1] == "  cron '0 8 * * MON-FRI' in Asia/Seoul  ->  cron(0 23 ? * SUN-THU *) in UTC"
    assert block[2:] == [
        "  Mon 2026-11-30 08:00 KST  =  Sun 2026-11-29 23:00 UTC",
        "  Tue 2026-12-01 08:00 KST  =  Mon 2026-11-30 23:00 UTC",
        "  Wed 2026-12-02 08:00 KST  =  Tue 2026-12-01 23:00 UTC",
        "  Thu 2026-12-03 08:00 KST  =  Wed 2026-12-02 23:00 UTC",
        "  Fri 2026-12-04 08:00 KST  =  Thu 2026-12-03 23:00 UTC",
    ]
    assert "  Tue 2026-12-01 07:00 KST  =  Mon 2026-11-30 22:00 UTC" in out  # monthly-orders, via L


def test_render_writes_the_file_into_the_out_directory(tmp_path: Path) -> None:
    code, out, _ = invoke("render", "--out", str(tmp_path))
    assert code == 0
    assert out == f"wrote {tmp_path / 'canaries.yaml'}\n"
    assert (tmp_path / "canaries.yaml").read_text() == (Path(__file__).resolve().parents[2] / "infra" / "templates" / "canaries.yaml").read_text()


def test_usage_mistakes_exit_with_status_two() -> None:
    assert invoke("run")[0] == 2
    assert invoke("run", "daily-orders", "--due")[0] == 2
    code, _, err = invoke("list", "--now", "2026-11-30T09:00")
    assert code == 2
    assert "needs a UTC offset" in err


def test_check_names_each_unreadable_template_at_its_file_and_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for template in Path("reports").glob("*.sql"):
        (reports / template.name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    (reports / "latin1.sql").write_bytes("{#---\ntitle: Caf\xe9\n---#}\nSELECT 1".encode("latin-1"))
    (reports / "typo.sql").write_text("{#---\ntitle: Typo\n---#}\nSELECT {{ dya }}", encoding="utf-8")
    code, _, err = invoke("check", "--reports", str(reports))
    assert code == 1
    assert f"error: {reports / 'latin1.sql'}:1: template is not UTF-8 text" in err.splitlines()
    assert f"error: {reports / 'typo.sql'}:4: variable 'dya' is used but not declared in params" in err.splitlines()
    code, _, err = invoke("check", "--reports", str(tmp_path / "missing"))
    assert code == 1
    assert f"template folder '{tmp_path / 'missing'}' does not exist" in err
