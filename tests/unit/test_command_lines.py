"""One CLI style (click) for the CLI, the local stack and the deploy code, and every invocation the
Makefile makes still names a command and flags that exist (issue 14)."""

from __future__ import annotations

import re

import click
import pytest

from devstack.__main__ import cli as devstack_cli
from infra.__main__ import cli as infra_cli
from tests.import_graph import ROOT
from tools.cli import main as excel_export_cli

GROUPS: dict[str, click.Group] = {"devstack": devstack_cli, "infra": infra_cli}
INVOCATION = re.compile(r"\$\(PY\) -m (devstack|infra) (\S+)((?: --[\w-]+)*)")


def makefile_invocations() -> list[tuple[str, str, list[str]]]:
    found = INVOCATION.findall((ROOT / "Makefile").read_text())
    return [(package, command, flags.split()) for package, command, flags in found]


def test_the_makefile_invokes_the_local_stack_and_the_deploy_code() -> None:
    assert {(package, command) for package, command, _ in makefile_invocations()} >= {
        ("devstack", "demo"), ("devstack", "up"), ("devstack", "down"), ("infra", "config"), ("infra", "build"), ("infra", "deploy"),
    }


@pytest.mark.parametrize(("package", "command", "flags"), makefile_invocations())
def test_every_makefile_invocation_names_a_command_and_flags_that_exist(package: str, command: str, flags: list[str]) -> None:
    found = GROUPS[package].get_command(click.Context(GROUPS[package]), command)
    assert found is not None, f"python -m {package} has no command {command!r}"
    known = {name for parameter in found.params for name in parameter.opts}
    assert set(flags) <= known


def test_the_three_command_lines_are_click_groups() -> None:
    assert all(isinstance(group, click.Group) for group in (devstack_cli, infra_cli, excel_export_cli))
    assert "slack-command" in devstack_cli.commands and "--dry-run" in {o for p in infra_cli.commands["deploy"].params for o in p.opts}
