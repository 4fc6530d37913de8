"""The least-privilege IAM policy: rendered per stage, and checked against the AWS calls in the code.

``infra/policy.json`` is the policy with placeholders (``{account_id}``, ``{region}``,
``{app_name}``, ``{stage}``, ``{env:NAME}`` for a stage environment variable such as a bucket,
prefix or secret name); ``render_policy`` fills them from the stage file and ``.chalice/config.json``
into ``.chalice/policy-<stage>.json``. To grant something new (say a ``claims/`` prefix), add a
statement there and run ``make config``.

``allows`` answers whether a policy grants one action on one resource ARN with IAM's wildcard
semantics (``*`` any run of characters, ``:`` and ``/`` included; ``?`` exactly one), so a test can
check each log group, bucket prefix, secret and function the template and code use, and the
neighbours they must not reach.

``scan_code`` walks the deployed Python (``app.py`` and ``chalicelib/``) with ``ast`` and lists
every boto3 client call: the services come from ``client("<service>")`` calls, the operations from
method calls whose name is an operation of one of those services (botocore's own service models,
so no hand-kept list), plus the boto3-injected helpers. ``compare`` then reports actions the code
needs but the policy lacks, and actions the policy grants that no code (nor the Lambda service on
the function's behalf, ``PLATFORM_ACTIONS``) uses.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from infra.stages import ROOT, StageValues, stage_environment

POLICY_TEMPLATE = ROOT / "infra" / "policy.json"
DEPLOYED_CODE = (ROOT / "app.py", ROOT / "chalicelib")

# Actions the Lambda service performs with the function's role, not our code: each with its reason.
PLATFORM_ACTIONS = {
    "logs:CreateLogGroup": "Lambda writes the function's logs",
    "logs:CreateLogStream": "Lambda writes the function's logs",
    "logs:PutLogEvents": "Lambda writes the function's logs",
    "ec2:CreateNetworkInterface": "the functions run in the VPC (Hyperplane ENIs)",
    "ec2:DeleteNetworkInterface": "the functions run in the VPC",
    "ec2:DescribeNetworkInterfaces": "the functions run in the VPC",
    "ec2:DescribeSubnets": "the functions run in the VPC",
    "ec2:AssignPrivateIpAddresses": "the functions run in the VPC",
    "ec2:UnassignPrivateIpAddresses": "the functions run in the VPC",
    "sqs:SendMessage": "the worker's on-failure destination for asynchronous invokes (infra/templates/alarms.yaml)",
    # The event source mapping of the worker_failures handler polls the queue with the function's role.
    "sqs:ReceiveMessage": "the worker_failures handler's SQS event source mapping reads the on-failure queue",
    "sqs:DeleteMessage": "the worker_failures handler's SQS event source mapping deletes handled messages",
    "sqs:GetQueueAttributes": "the worker_failures handler's SQS event source mapping checks the queue",
}

# Operations whose IAM action is not "<prefix>:<OperationName>" (service authorization reference).
_ACTION_OVERRIDES = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "ListMultipartUploads"): ("s3:ListBucketMultipartUploads",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeAsync"): ("lambda:InvokeFunction",),
}
# boto3's injected S3 transfer helpers, in terms of the operations they make. A failed multipart
# upload is aborted by the transfer manager, hence AbortMultipartUpload.
_INJECTED = {
    "upload_file": ("s3:PutObject", "s3:AbortMultipartUpload"),
    "upload_fileobj": ("s3:PutObject", "s3:AbortMultipartUpload"),
    "download_file": ("s3:GetObject",),
    "download_fileobj": ("s3:GetObject",),
}
# Methods whose first argument names the operation they stand for.
_OPERATION_ARGUMENT = ("generate_presigned_url", "get_paginator", "get_waiter")


@dataclass(frozen=True, order=True)
class AwsCall:
    action: str
    file: str
    line: int
    method: str


# rendering -----------------------------------------------------------------------------------
def render_policy(values: StageValues, config: dict[str, Any], template_path: Path = POLICY_TEMPLATE) -> dict[str, Any]:
    environment = stage_environment(config, values.stage)
    names = {"account_id": values.account_id, "region": values.region, "app_name": str(config["app_name"]), "stage": values.stage}

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("env:"):
            if key[4:] not in environment:
                raise KeyError(f"policy placeholder {{{key}}}: stage {values.stage} has no environment variable {key[4:]}")
            return environment[key[4:]]
        return names[key]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return re.sub(r"\{((?:env:)?[A-Za-z_]+)\}", fill, node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    policy: dict[str, Any] = walk(json.loads(template_path.read_text(encoding="utf-8")))
    return policy


def policy_actions(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        if statement.get("Effect") == "Allow":
            granted = statement["Action"]
            actions.update([granted] if isinstance(granted, str) else granted)
    return actions


def wildcard_matches(pattern: str, value: str) -> bool:
    """IAM's matching of Action and Resource ARNs (IAM User Guide, "IAM JSON policy elements:
    Resource", Using wildcards in resource ARNs): ``?`` is one character and ``*`` any run of them,
    "/" included, within a colon-separated segment; only a ``*`` that ends its segment (followed by
    ":" or the end) may expand past the colons after it."""
    parts = []
    for index, char in enumerate(pattern):
        if char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            parts.append(".*" if ends_segment else "[^:]*")
        else:
            parts.append("[^:]" if char == "?" else re.escape(char))
    return re.fullmatch("".join(parts), value, flags=re.DOTALL) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource`` (actions match case-insensitively).

    Conditions, NotAction and NotResource are not evaluated: the service's policy uses none.
    """
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        if any(wildcard_matches(granted.lower(), action.lower()) for granted in _listed(statement["Action"])) and any(
            wildcard_matches(pattern, resource) for pattern in _listed(statement["Resource"])
        ):
            return True
    return False


# scanning ------------------------------------------------------------------------------------
@cache
def _service_operations(service: str) -> dict[str, str]:
    """snake_case method name -> OperationName for one botocore service."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def _iam_prefix(service: str) -> str:
    return str(botocore.session.get_session().get_service_model(service).signing_name)


def _known_services() -> set[str]:
    return set(botocore.session.get_session().get_available_services())


def _action_for(service: str, operation: str) -> tuple[str, ...]:
    return _ACTION_OVERRIDES.get((service, operation), (f"{_iam_prefix(service)}:{operation}",))


def _python_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _string_argument(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _used_services(trees: dict[Path, ast.Module]) -> set[str]:
    """Services named in ``client("s3")``-style calls (aws.client, boto3.client, session.client)."""
    known = _known_services()
    services = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                service = _string_argument(node)
                if name == "client" and service in known:
                    services.add(service)
    return services


def _actions_for_method(method: str, call: ast.Call, services: set[str]) -> tuple[str, ...]:
    if method in _INJECTED and "s3" in services:
        return _INJECTED[method]
    if method in _OPERATION_ARGUMENT:
        method = _string_argument(call) or ""
    actions: list[str] = []
    for service in sorted(services):
        operation = _service_operations(service).get(method)
        if operation:
            actions.extend(_action_for(service, operation))
    return tuple(actions)


def scan_code(paths: Iterable[Path] = DEPLOYED_CODE, root: Path = ROOT) -> list[AwsCall]:
    """Every boto3 client call in the given files and folders, as IAM actions."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in _python_files(paths)}
    services = _used_services(trees)
    calls = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for action in _actions_for_method(node.func.attr, node, services):
                    calls.append(AwsCall(action, str(path.relative_to(root)), node.lineno, node.func.attr))
    return sorted(calls)


@dataclass(frozen=True)
class PolicyReport:
    missing: dict[str, list[AwsCall]]  # action -> the calls that need it
    unused: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unused

    def explain(self) -> str:
        lines = [f"missing {action}: {', '.join(f'{c.file}:{c.line} {c.method}()' for c in calls)}" for action, calls in self.missing.items()]
        lines += [f"granted but never used: {action}" for action in self.unused]
        return "\n".join(lines)


def compare(calls: Iterable[AwsCall], policy: dict[str, Any]) -> PolicyReport:
    granted = policy_actions(policy)
    needed: dict[str, list[AwsCall]] = {}
    for call in calls:
        needed.setdefault(call.action, []).append(call)
    missing = {action: sites for action, sites in sorted(needed.items()) if action not in granted}
    unused = sorted(granted - set(needed) - set(PLATFORM_ACTIONS))
    return PolicyReport(missing=missing, unused=unused)
