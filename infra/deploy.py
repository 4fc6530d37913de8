"""Deploy and destroy with the AWS CLI: the edge stack in us-east-1, then the packaged app stack.

The commands are built as lists first, so ``--dry-run`` prints exactly what would run (and a test
checks them offline); only ``run_plan`` touches AWS.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from infra.stages import StageValues, stage_tags

EDGE_REGION = "us-east-1"  # a CLOUDFRONT-scope WAFv2 web ACL can only live here
EDGE_TEMPLATE = "infra/edge/waf.yaml"


@dataclass(frozen=True)
class Step:
    description: str
    command: list[str]
    # Output of this step that later commands need (the web ACL ARN): replaces "{capture}" in them.
    captures: bool = False


def stack_names(app_name: str, stage: str) -> tuple[str, str]:
    return f"{app_name}-{stage}", f"{app_name}-{stage}-edge"


def _tags(values: StageValues, app_name: str) -> list[str]:
    return [f"{key}={value}" for key, value in stage_tags(values, app_name).items()]


def deploy_plan(values: StageValues, app_name: str, package_dir: str) -> list[Step]:
    main_stack, edge_stack = stack_names(app_name, values.stage)
    region = ["--region", values.region]
    edge = ["--region", EDGE_REGION, "--stack-name", edge_stack]
    return [
        Step(
            "edge stack (WAF IP allow-list) in us-east-1",
            [
                "aws",
                "cloudformation",
                "deploy",
                *edge,
                "--template-file",
                EDGE_TEMPLATE,
                "--no-fail-on-empty-changeset",
                "--parameter-overrides",
                f"AppName={app_name}",
                f"Stage={values.stage}",
                "AllowedCidrs=" + ",".join(values.allowed_cidrs),
                "--tags",
                *_tags(values, app_name),
            ],
        ),
        Step(
            "read the web ACL ARN from the edge stack",
            [
                "aws",
                "cloudformation",
                "describe-stacks",
                *edge,
                "--output",
                "text",
                "--query",
                "Stacks[0].Outputs[?OutputKey=='WebAclArn'].OutputValue",
            ],
            captures=True,
        ),
        Step(
            "upload the deployment package to the artifact bucket",
            [
                "aws",
                "cloudformation",
                "package",
                *region,
                "--template-file",
                f"{package_dir}/sam.json",
                "--s3-bucket",
                values.artifact_bucket,
                "--s3-prefix",
                f"{app_name}/{values.stage}",
                "--output-template-file",
                f"{package_dir}/packaged.json",
                "--use-json",
            ],
        ),
        Step(
            "app stack (functions, API, bucket, CloudFront, secrets, alarms)",
            [
                "aws",
                "cloudformation",
                "deploy",
                *region,
                "--stack-name",
                main_stack,
                "--template-file",
                f"{package_dir}/packaged.json",
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides",
                "WebAclArn={capture}",
                "--tags",
                *_tags(values, app_name),
            ],
        ),
        Step(
            "show the stack outputs",
            ["aws", "cloudformation", "describe-stacks", *region, "--stack-name", main_stack, "--output", "table", "--query", "Stacks[0].Outputs"],
        ),
    ]


def destroy_plan(values: StageValues, app_name: str) -> list[Step]:
    main_stack, edge_stack = stack_names(app_name, values.stage)
    region = ["--region", values.region]
    edge = ["--region", EDGE_REGION, "--stack-name", edge_stack]
    return [
        Step("delete the app stack (the exports bucket is retained)", ["aws", "cloudformation", "delete-stack", *region, "--stack-name", main_stack]),
        Step("wait for it", ["aws", "cloudformation", "wait", "stack-delete-complete", *region, "--stack-name", main_stack]),
        Step("delete the edge stack", ["aws", "cloudformation", "delete-stack", *edge]),
        Step("wait for it", ["aws", "cloudformation", "wait", "stack-delete-complete", *edge]),
    ]


def describe(plan: Sequence[Step]) -> str:
    return "\n".join(f"# {step.description}\n{shlex.join(step.command)}" for step in plan)


def run_plan(plan: Sequence[Step], runner: Callable[[list[str]], str] | None = None) -> None:
    run = runner or _run
    captured = ""
    for step in plan:
        print(f"==> {step.description}", flush=True)
        command = [part.replace("{capture}", captured) for part in step.command]
        output = run(command)
        if step.captures:
            captured = output.strip()
            if not captured or captured == "None":
                raise RuntimeError(f"{step.description}: no value returned")


def _run(command: list[str]) -> str:
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    print(completed.stdout, end="", flush=True)
    return completed.stdout
