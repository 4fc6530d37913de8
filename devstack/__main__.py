"""Command line for the local stack: python -m devstack up|down|status|seed|demo|slack-command|slack-click|slack-calls."""

from __future__ import annotations

import argparse
import json
import sys

from devstack import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description="Run the local export stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start MariaDB, the S3/Secrets endpoint, the Slack receiver and the API")
    commands.add_parser("down", help="stop every process of the stack")
    commands.add_parser("status", help="show which processes run")
    seed_parser = commands.add_parser("seed", help="(re)create and fill the demo database")
    seed_parser.add_argument("--orders", type=int, default=100_000)
    seed_parser.add_argument("--force", action="store_true")
    commands.add_parser("publish", help="upload the report templates to the local S3 bucket")
    demo_parser = commands.add_parser("demo", help="start everything and run one export end to end")
    demo_parser.add_argument("--orders", type=int, default=100_000)
    demo_parser.add_argument("--report", default="orders_range")
    slack_parser = commands.add_parser("slack-command", help="sign and send '/export TEXT' to the local API, as Slack would")
    slack_parser.add_argument("text", nargs="?", default="", help='what follows /export, e.g. "orders_by_day day=2026-11-30"')
    click_parser = commands.add_parser("slack-click", help="sign and send a button click (run_again, change_parameters) of a DM")
    click_parser.add_argument("action", choices=("run_again", "change_parameters"))
    click_parser.add_argument("export_id")
    for sub_parser in (slack_parser, click_parser):
        sub_parser.add_argument("--user", default="U0LOCAL01", help="the Slack user id asking")
        sub_parser.add_argument("--name", default="local.operator")
        sub_parser.add_argument("--channel", default="C0LOCAL01")
        sub_parser.add_argument("--team", default=stack.SLACK_TEAM_ID, help="the workspace id (another one is refused)")
    commands.add_parser("slack-calls", help="print the Slack Web API calls the local stand-in received (views, DMs, notes)")
    timing_parser = commands.add_parser("slack-timing", help="measure the Slack endpoints' answer times, warm and from a cold process")
    timing_parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    config = stack.StackConfig.from_environment()
    if arguments.command.startswith("slack-"):
        return _slack(config, arguments)
    try:
        if arguments.command == "up":
            stack.up(config)
        elif arguments.command == "down":
            stack.down(config)
        elif arguments.command == "status":
            for name, pid in stack.status(config).items():
                print(f"{name:8} {'running, pid ' + str(pid) if pid else 'stopped'}")
        elif arguments.command == "seed":
            from devstack.seed import seed

            seed(config, arguments.orders, force=arguments.force)
        elif arguments.command == "publish":
            if stack.publish_templates(config):
                return 1  # a template was refused: the same exit status as `excel-export reports publish`
        elif arguments.command == "demo":
            from devstack.demo import run_demo

            return run_demo(config, orders=arguments.orders, report=arguments.report)
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _slack(config: stack.StackConfig, arguments: argparse.Namespace) -> int:
    from devstack import slack_client

    if arguments.command == "slack-calls":
        print(json.dumps(slack_client.web_api_calls(config), indent=2, ensure_ascii=False))
        return 0
    if arguments.command == "slack-timing":
        from devstack.slack_timing import measure

        print(json.dumps(measure(config, arguments.rounds), indent=2))
        return 0
    user = slack_client.FakeSlackUser(arguments.user, arguments.name, arguments.team, arguments.channel)
    if arguments.command == "slack-command":
        status, answer, seconds = slack_client.send_command(config, arguments.text, user)
    else:
        status, answer, seconds = slack_client.send_interaction(config, slack_client.button_click(arguments.action, arguments.export_id, user))
    print(f"HTTP {status} in {seconds * 1000:.0f} ms")
    print(json.dumps(answer, indent=2, ensure_ascii=False) if answer not in (None, "") else "(empty: acknowledged)")
    print("the DM and any modal land in the stand-in: python -m devstack slack-calls", file=sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
