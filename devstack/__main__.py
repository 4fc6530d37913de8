"""Command line for the local stack: python -m devstack up|down|status|seed|demo."""

from __future__ import annotations

import argparse
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
    arguments = parser.parse_args(argv)
    config = stack.StackConfig.from_environment()
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


if __name__ == "__main__":
    sys.exit(main())
