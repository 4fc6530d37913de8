"""Command line for the local stack (click, as the CLI): python -m devstack up|down|status|seed|publish|demo|slack-...|slack-timing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from devstack import stack
from tools.command_line import exit_status


def _run(command: Callable[[stack.StackConfig], int | None]) -> int:
    try:
        return command(stack.StackConfig.from_environment()) or 0
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


@click.group(help="Run the local export stack.")
def cli() -> None:
    pass


@cli.command(help="start MariaDB, the S3/Secrets endpoint, the Slack receiver and the API")
@click.pass_context
def up(ctx: click.Context) -> None:
    ctx.exit(_run(stack.up))


@cli.command(help="stop every process of the stack")
@click.pass_context
def down(ctx: click.Context) -> None:
    ctx.exit(_run(stack.down))


@cli.command(help="show which processes run")
@click.pass_context
def status(ctx: click.Context) -> None:
    def show(config: stack.StackConfig) -> None:
        for name, pid in stack.status(config).items():
            print(f"{name:8} {'running, pid ' + str(pid) if pid else 'stopped'}")

    ctx.exit(_run(show))


@cli.command(help="(re)create and fill the demo database")
@click.option("--orders", type=int, default=100_000, show_default=True)
@click.option("--force", is_flag=True)
@click.pass_context
def seed(ctx: click.Context, orders: int, force: bool) -> None:
    from devstack.seed import seed as seed_database

    def fill(config: stack.StackConfig) -> None:
        seed_database(config, orders, force=force)  # its "seeded or already there" is not an error

    ctx.exit(_run(fill))


@cli.command(help="upload the report templates to the local S3 bucket")
@click.pass_context
def publish(ctx: click.Context) -> None:
    # A refused template: the same exit status as `excel-export reports publish`.
    ctx.exit(_run(lambda config: 1 if stack.publish_templates(config) else 0))


@cli.command(help="start everything and run one export end to end")
@click.option("--orders", type=int, default=100_000, show_default=True)
@click.option("--report", default="orders_range", show_default=True)
@click.pass_context
def demo(ctx: click.Context, orders: int, report: str) -> None:
    from devstack.demo import run_demo

    ctx.exit(_run(lambda config: run_demo(config, orders=orders, report=report)))


def _slack_user(function: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        (
            click.option("--user", default="U0LOCAL01", show_default=True, help="the Slack user id asking"),
            click.option("--name", default="local.operator", show_default=True),
            click.option("--channel", default="C0LOCAL01", show_default=True),
            click.option("--team", default=stack.SLACK_TEAM_ID, show_default=True, help="the workspace id (another one is refused)"),
        )
    ):
        function = option(function)
    return function


@cli.command("slack-command", help="sign and send '/export TEXT' to the local API, as Slack would")
@click.argument("text", default="")
@_slack_user
@click.pass_context
def slack_command(ctx: click.Context, text: str, user: str, name: str, channel: str, team: str) -> None:
    from devstack import slack_client

    person = slack_client.FakeSlackUser(user, name, team, channel)
    ctx.exit(_slack_answer(lambda config: slack_client.send_command(config, text, person)))


@cli.command("slack-click", help="sign and send a button click (run_again, change_parameters) of a DM")
@click.argument("action", type=click.Choice(["run_again", "change_parameters"]))
@click.argument("export_id")
@_slack_user
@click.pass_context
def slack_click(ctx: click.Context, action: str, export_id: str, user: str, name: str, channel: str, team: str) -> None:
    from devstack import slack_client

    person = slack_client.FakeSlackUser(user, name, team, channel)
    ctx.exit(_slack_answer(lambda config: slack_client.send_interaction(config, slack_client.button_click(action, export_id, person))))


def _slack_answer(send: Callable[[stack.StackConfig], tuple[int, Any, float]]) -> int:
    status, answer, seconds = send(stack.StackConfig.from_environment())
    print(f"HTTP {status} in {seconds * 1000:.0f} ms")
    print(json.dumps(answer, indent=2, ensure_ascii=False) if answer not in (None, "") else "(empty: acknowledged)")
    print("the DM and any modal land in the stand-in: python -m devstack slack-calls", file=sys.stderr)
    return 0 if status == 200 else 1


@cli.command("slack-calls", help="print the Slack Web API calls the local stand-in received (views, DMs, notes)")
def slack_calls() -> None:
    from devstack import slack_client

    print(json.dumps(slack_client.web_api_calls(stack.StackConfig.from_environment()), indent=2, ensure_ascii=False))


@cli.command("slack-timing", help="measure the Slack endpoints' answer times, warm and from a cold process")
@click.option("--rounds", type=int, default=5, show_default=True)
def slack_timing(rounds: int) -> None:
    from devstack.slack_timing import measure

    print(json.dumps(measure(stack.StackConfig.from_environment(), rounds), indent=2))


def main(argv: list[str] | None = None) -> int:
    return exit_status(cli, argv, "python -m devstack")


if __name__ == "__main__":
    sys.exit(main())
