"""Deploy and destroy with the AWS CLI: the edge stack in us-east-1, then the packaged app stack.

The commands are built as lists first, so ``--dry-run`` prints exactly what would run (and tests
check them offline and rehearse them against moto_server, ``infra/rehearsal.py``); only
``run_plan`` touches AWS.

Three behaviours of ``aws cloudformation deploy`` shape the app-stack step:
- it refuses a template over 51,200 bytes unless ``--s3-bucket`` is given (ours is ~100 KB), so
  the template goes to the artifact bucket, under the prefix ``package`` uses;
- a parameter missing from ``--parameter-overrides`` is sent as ``UsePreviousValue`` on update,
  so a changed stage value would never reach the stack: every parameter is passed every time;
- a stack whose first create failed is ``ROLLBACK_COMPLETE`` and cannot be updated: the plan looks
  for that state first and deletes the stack (saying so) before creating it again.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.stages import StageValues, stage_tags
from infra.template import parameter_values

EDGE_REGION = "us-east-1"  # a CLOUDFRONT-scope WAFv2 web ACL can only live here
EDGE_TEMPLATE = "infra/edge/waf.yaml"
FAILED_CREATE = "ROLLBACK_COMPLETE"
WEB_ACL_ARN = "web_acl_arn"


@dataclass(frozen=True)
class Step:
    description: str
    command: list[str]
    # Name under which this step's output is kept; "{name}" in later commands is replaced by it.
    captures: str = ""
    # A capture that must not be empty (the web ACL ARN); a stack status may be.
    required: bool = False
    # Run only when an earlier capture has this value: (capture name, value).
    when: tuple[str, str] | None = None


def stack_names(app_name: str, stage: str) -> tuple[str, str]:
    return f"{app_name}-{stage}", f"{app_name}-{stage}-edge"


def artifact_prefix(app_name: str, stage: str) -> str:
    return f"{app_name}/{stage}"


def _tags(values: StageValues, app_name: str) -> list[str]:
    return [f"{key}={value}" for key, value in stage_tags(values, app_name).items()]


def _replace_failed_create(stack: str, region: list[str]) -> list[Step]:
    """Find a stack left in ROLLBACK_COMPLETE by a failed first create, and delete it."""
    capture = f"status_of_{stack}"
    condition = (capture, FAILED_CREATE)
    where = [*region, "--stack-name", stack]
    return [
        Step(
            f"look for a failed first create of {stack}",
            [
                "aws",
                "cloudformation",
                "list-stacks",
                *region,
                "--stack-status-filter",
                FAILED_CREATE,
                "--output",
                "text",
                "--query",
                f"StackSummaries[?StackName=='{stack}'].StackStatus",
            ],
            captures=capture,
        ),
        Step(
            f"{stack} is {FAILED_CREATE} (its first create failed and cannot be updated): deleting it before creating it again",
            ["aws", "cloudformation", "delete-stack", *where],
            when=condition,
        ),
        Step(f"wait for {stack} to be deleted", ["aws", "cloudformation", "wait", "stack-delete-complete", *where], when=condition),
    ]


def deploy_plan(values: StageValues, config: Mapping[str, Any], package_dir: str) -> list[Step]:
    app_name = str(config["app_name"])
    main_stack, edge_stack = stack_names(app_name, values.stage)
    region = ["--region", values.region]
    edge_region = ["--region", EDGE_REGION]
    edge = [*edge_region, "--stack-name", edge_stack]
    artifacts = ["--s3-bucket", values.artifact_bucket, "--s3-prefix", artifact_prefix(app_name, values.stage)]
    parameters = parameter_values(values, dict(config)) | {"WebAclArn": "{" + WEB_ACL_ARN + "}"}
    return [
        *_replace_failed_create(edge_stack, edge_region),
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
            captures=WEB_ACL_ARN,
            required=True,
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
                *artifacts,
                "--output-template-file",
                f"{package_dir}/packaged.json",
                "--use-json",
            ],
        ),
        *_replace_failed_create(main_stack, region),
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
                *artifacts,
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides",
                *(f"{name}={value}" for name, value in parameters.items()),
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
    lines = []
    for step in plan:
        condition = f" (only if {step.when[0]} is {step.when[1]})" if step.when else ""
        lines.append(f"# {step.description}{condition}\n{shlex.join(step.command)}")
    return "\n".join(lines)


def option_values(command: Sequence[str], option: str) -> list[str]:
    """The words after ``option`` up to the next ``--option`` (e.g. every parameter override)."""
    if option not in command:
        return []
    start = command.index(option) + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return list(command[start:end])


def _say(line: str) -> None:
    print(line, flush=True)


def run_plan(plan: Sequence[Step], runner: Callable[[list[str]], str] | None = None, say: Callable[[str], None] = _say) -> None:
    run = runner or _run
    captured: dict[str, str] = {}
    for step in plan:
        if step.when and captured.get(step.when[0]) != step.when[1]:
            continue
        say(f"==> {step.description}")
        command = [_fill(part, captured) for part in step.command]
        output = run(command)
        if step.captures:
            value = output.strip()
            captured[step.captures] = "" if value == "None" else value
            if step.required and not captured[step.captures]:
                raise RuntimeError(f"{step.description}: no value returned")


def _fill(part: str, captured: Mapping[str, str]) -> str:
    for name, value in captured.items():
        part = part.replace("{" + name + "}", value)
    return part


def _run(command: list[str]) -> str:
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    print(completed.stdout, end="", flush=True)
    return completed.stdout
