"""Command line for the deployment (click, like the CLI): python -m infra config|build|region|size|deploy|destroy."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import click

from infra import deploy, iam
from infra.stages import CHALICE_CONFIG, DEPLOYED_STAGES, ROOT, StageError, apply_to_chalice_config, dump_json, load_stage, read_chalice_config
from infra.template import build_merge_template
from tools.command_line import exit_status

OUT = ROOT / "out"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def generated_files() -> dict[Path, str]:
    """What `config` writes: the Chalice config with every stage's values, and the stage policies."""
    config = read_chalice_config()
    files = {}
    for stage in DEPLOYED_STAGES:
        values = load_stage(stage)
        apply_to_chalice_config(config, values)
        files[ROOT / ".chalice" / f"policy-{stage}.json"] = dump_json(iam.render_policy(values, config))
    files[CHALICE_CONFIG] = dump_json(config)
    return files


def stale_files() -> list[Path]:
    return [path for path, text in generated_files().items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def command_config(check: bool) -> int:
    if check:
        stale = stale_files()
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make config` after editing infra/stages/ or infra/policy.json", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def command_build(stage: str) -> int:
    if command_config(check=True):
        return 1
    template = build_merge_template(load_stage(stage), read_chalice_config())
    target = OUT / stage / "infra.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_json(template), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)} ({len(template['Resources'])} resources to merge)")
    return 0


def command_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(item.file_size for item in archive.infolist())
    mib = 1024 * 1024
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"{shown}: {path.stat().st_size / mib:.1f} MiB zipped, {unzipped / mib:.1f} MiB unzipped (Lambda limit {LAMBDA_UNZIPPED_LIMIT // mib} MiB)")
    return 0 if unzipped < LAMBDA_UNZIPPED_LIMIT else 1


def command_deploy(stage: str, destroy: bool, dry_run: bool) -> int:
    values = load_stage(stage)
    app_name = str(read_chalice_config()["app_name"])
    if destroy:
        plan = deploy.destroy_plan(values, app_name)
    else:
        placeholders = values.placeholders()
        if placeholders and not dry_run:
            print(f"infra/stages/{stage}.json still holds documentation values in: {', '.join(placeholders)}", file=sys.stderr)
            return 1
        plan = deploy.deploy_plan(values, read_chalice_config(), str((OUT / stage / "package").relative_to(ROOT)))
    if dry_run:
        print(deploy.describe(plan))
        return 0
    deploy.run_plan(plan)
    return 0


def run_command(command: Callable[[], int]) -> int:
    try:
        return command()
    except (StageError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


STAGE = click.option("--stage", required=True, help="a stage of infra/stages/ (dev, prod)")
DRY_RUN = click.option("--dry-run", is_flag=True, help="print the AWS CLI commands instead of running them")


@click.group(help="Build and deploy the stacks of the export service.")
def cli() -> None:
    pass


@cli.command("config", help="write .chalice/config.json and the stage policies from infra/stages/")
@click.option("--check", is_flag=True, help="only report stale files")
@click.pass_context
def config_command(ctx: click.Context, check: bool) -> None:
    ctx.exit(run_command(lambda: command_config(check)))


@cli.command("build", help="write out/<stage>/infra.json, the template merged by chalice package")
@STAGE
@click.pass_context
def build_command(ctx: click.Context, stage: str) -> None:
    ctx.exit(run_command(lambda: command_build(stage)))


@cli.command("region", help="print the stage's region")
@STAGE
@click.pass_context
def region_command(ctx: click.Context, stage: str) -> None:
    def show() -> int:
        print(load_stage(stage).region)
        return 0

    ctx.exit(run_command(show))


@cli.command("size", help="print a deployment zip's unzipped size")
@click.argument("zip_path", metavar="ZIP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def size_command(ctx: click.Context, zip_path: Path) -> None:
    ctx.exit(run_command(lambda: command_size(zip_path.resolve())))


def _stack_command(name: str, destroy: bool) -> None:
    @cli.command(name, help=f"{name} the stage's stacks with the AWS CLI")
    @STAGE
    @DRY_RUN
    @click.pass_context
    def command(ctx: click.Context, stage: str, dry_run: bool) -> None:
        ctx.exit(run_command(lambda: command_deploy(stage, destroy, dry_run)))


_stack_command("deploy", destroy=False)
_stack_command("destroy", destroy=True)


def main(argv: list[str] | None = None) -> int:
    return exit_status(cli, argv, "python -m infra")


if __name__ == "__main__":
    sys.exit(main())
