"""The stage policies grant exactly the AWS calls the deployed code makes, on exactly the resources it uses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import Settings
from infra import iam
from infra.stages import CHALICE_FUNCTIONS, DEPLOYED_STAGES, ROOT, load_stage, read_chalice_config, stage_environment
from infra.template import build_merge_template


def stage_policy(stage: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    return policy


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_policy_grants_every_call_in_the_code_and_nothing_else(stage: str) -> None:
    report = iam.compare(iam.scan_code(), stage_policy(stage))
    assert report.ok, report.explain()


def test_the_scan_sees_the_calls_the_service_is_known_to_make() -> None:
    actions = {call.action for call in iam.scan_code()}
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "secretsmanager:GetSecretValue", "lambda:InvokeFunction"} <= actions


def copy_of_the_code(tmp_path: Path, extra_module: str) -> list[Path]:
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(ROOT / "chalicelib", tmp_path / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    (tmp_path / "chalicelib" / "cleanup.py").write_text(extra_module)
    return [tmp_path / "app.py", tmp_path / "chalicelib"]


def test_a_new_boto3_call_without_a_policy_entry_fails_the_check(tmp_path: Path) -> None:
    paths = copy_of_the_code(
        tmp_path,
        "from chalicelib import aws\n\n\n"
        "def forget(bucket: str, key: str) -> None:\n"
        "    aws.client('s3').delete_bucket_policy(Bucket=bucket)\n"
        "    for _page in aws.client('s3').get_paginator('list_object_versions').paginate(Bucket=bucket):\n"
        "        pass\n",
    )
    report = iam.compare(iam.scan_code(paths, root=tmp_path), stage_policy("prod"))
    assert not report.ok
    assert sorted(report.missing) == ["s3:DeleteBucketPolicy", "s3:ListBucketVersions"]
    assert "chalicelib/cleanup.py:5 delete_bucket_policy()" in report.explain()


def test_a_new_service_is_found_from_its_client_call(tmp_path: Path) -> None:
    paths = copy_of_the_code(
        tmp_path, "from chalicelib import aws\n\n\ndef ping(url: str) -> None:\n    aws.client('sqs').send_message(QueueUrl=url, MessageBody='x')\n"
    )
    # sqs:SendMessage is granted for the on-failure destination, so this call is covered...
    assert iam.compare(iam.scan_code(paths, root=tmp_path), stage_policy("prod")).ok
    paths = copy_of_the_code(tmp_path, "from chalicelib import aws\n\n\ndef who() -> None:\n    aws.client('sts').get_caller_identity()\n")
    # ...but a call to a service the policy never mentions is not.
    assert list(iam.compare(iam.scan_code(paths, root=tmp_path), stage_policy("prod")).missing) == ["sts:GetCallerIdentity"]


def test_a_granted_action_the_code_never_uses_fails_the_check() -> None:
    policy = stage_policy("prod")
    extra = {"Effect": "Allow", "Action": ["s3:DeleteBucketPolicy"], "Resource": "arn:aws:s3:::excel-export-prod-123456789012"}
    policy["Statement"].append(extra)
    report = iam.compare(iam.scan_code(), policy)
    assert report.unused == ["s3:DeleteBucketPolicy"]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_no_wildcard_actions_and_star_resources_only_where_aws_requires_them(stage: str) -> None:
    for statement in stage_policy(stage)["Statement"]:
        assert all("*" not in action for action in statement["Action"]), statement
        if statement["Resource"] == "*":
            # EC2 Describe* calls cannot be scoped to a resource.
            assert set(statement["Action"]) == {"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"}


def test_templates_are_read_only_and_only_the_named_secrets_are_readable() -> None:
    statements = {statement["Sid"]: statement for statement in stage_policy("prod")["Statement"]}
    assert statements["ReadReportTemplates"]["Action"] == ["s3:GetObject"]
    assert statements["ReadReportTemplates"]["Resource"] == "arn:aws:s3:::excel-export-prod-123456789012/templates/*"
    secrets = statements["ReadTheServiceSecrets"]["Resource"]
    prefix = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:excel-export/prod/"
    # The named secrets, plus the per-report Slack channels (slack_channel_secret) under one name prefix.
    assert all(arn.startswith(prefix) and (arn.endswith("-??????") or arn == f"{prefix}slack-*") for arn in secrets)
    assert statements["StartTheExportWorker"]["Resource"].endswith(":function:excel-export-prod-export_worker")


def test_the_slack_app_manifest_names_the_apps_slack_routes_and_the_smallest_scopes() -> None:
    import yaml

    import app as export_app

    manifest = yaml.safe_load((ROOT / "infra" / "slack" / "app-manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/export"
    urls = {command["url"], manifest["settings"]["interactivity"]["request_url"]}
    assert urls == {"API_BASE_URL/slack/commands", "API_BASE_URL/slack/interactions"}
    assert manifest["oauth_config"]["scopes"] == {"bot": ["commands", "chat:write"]}
    routes = export_app.app.routes
    for url in urls:
        entry = routes[url.removeprefix("API_BASE_URL")]["POST"]
        assert not entry.api_key_required  # Slack cannot send our API key: its signature is checked instead
    assert routes["/exports"]["POST"].api_key_required is True
    # The app's secret (bot token, signing secret) is granted like the others: used_resources below.


# Resources, with IAM's wildcard semantics -----------------------------------------------------
def test_wildcards_match_as_iam_matches_them() -> None:
    assert iam.wildcard_matches("arn:aws:logs:r:a:log-group:/aws/lambda/app-prod:*", "arn:aws:logs:r:a:log-group:/aws/lambda/app-prod:log-stream:s")
    assert iam.wildcard_matches("arn:aws:s3:::b/exports/*", "arn:aws:s3:::b/exports/2026/x.xlsx")  # "*" spans "/" and ":"
    stream = "arn:aws:logs:r:a:log-group:/aws/lambda/app-prod:log-stream:s"
    assert not iam.wildcard_matches("arn:aws:logs:r:a:log-group:/aws/lambda/app-prod-*", stream)  # the old pattern missed the API's group
    assert iam.wildcard_matches("secret:db-??????", "secret:db-AbC123") and not iam.wildcard_matches("secret:db-??????", "secret:db-AbC1234")
    # A "*" inside a segment stays inside it: the test's verdicts must not be kinder than IAM's.
    assert not iam.wildcard_matches("arn:aws:sqs:r:a:app-*-failures", "arn:aws:sqs:r:a:app-x:y-failures")
    assert iam.wildcard_matches("arn:aws:sqs:r:a:app-*-failures", "arn:aws:sqs:r:a:app-prod/x-failures")
    assert not iam.wildcard_matches("secret:db-??????", "secret:db-AbC:12")


def _resolved(value: Any, parameters: dict[str, Any]) -> str:
    """A template value with its ${Parameter} references filled from the parameter defaults."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return re.sub(r"\$\{([A-Za-z]+)\}", lambda match: str(parameters[match.group(1)]["Default"]), text)


def used_resources(stage: str) -> list[tuple[str, str]]:
    """(action, ARN) for every log group, bucket prefix, secret, function and queue the template and
    the code use, with a concrete ARN of the kind each call is authorised against."""
    config = read_chalice_config()
    values = load_stage(stage)
    template = build_merge_template(values, config)
    parameters = template["Parameters"]
    environment = stage_environment(config, stage)
    region_account = f"{values.region}:{values.account_id}"
    uses: list[tuple[str, str]] = []
    # Each function's log group (functions.yaml), named after the function as Lambda names it.
    log_groups = [r for r in template["Resources"].values() if r.get("Type") == "AWS::Logs::LogGroup"]
    groups = [_resolved(resource["Properties"]["LogGroupName"], parameters) for resource in log_groups]
    function_groups = [group for group in groups if group.startswith("/aws/lambda/")]
    names = [template["Resources"][logical_id]["Properties"]["FunctionName"] for logical_id in CHALICE_FUNCTIONS]
    assert sorted(function_groups) == sorted(f"/aws/lambda/{name}" for name in names)
    for group in function_groups:
        arn = f"arn:aws:logs:{region_account}:log-group:{group}"
        uses += [("logs:CreateLogGroup", arn)]
        uses += [(action, f"{arn}:log-stream:2026/12/01/[$LATEST]0123456789abcdef") for action in ("logs:CreateLogStream", "logs:PutLogEvents")]
    # Bucket prefixes (chalicelib/storage.py, records.py via ledger.py, sources.py) and the bucket itself.
    bucket = f"arn:aws:s3:::{environment['EXPORT_BUCKET']}"
    prefix_actions = {
        "TEMPLATES_PREFIX": ["s3:GetObject"],
        "EXPORTS_PREFIX": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
        "STATUS_PREFIX": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],  # a joining request removes its unused record
        "STATE_PREFIX": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    }
    for variable, actions in prefix_actions.items():
        uses += [(action, f"{bucket}/{environment[variable]}some/key.xlsx") for action in actions]
    uses += [("s3:ListBucket", bucket)]
    # Secrets: their ARNs end in "-" and six random characters.
    secret = f"arn:aws:secretsmanager:{region_account}:secret:"
    secret_names = [environment[name] for name in ("DB_SECRET_NAME", "SLACK_SECRET_NAME", "SLACK_APP_SECRET_NAME", "CLOUDFRONT_KEY_SECRET_NAME")]
    secret_names.append(f"excel-export/{stage}/slack-finance")  # a report's slack_channel_secret, as the README says to name it
    uses += [("secretsmanager:GetSecretValue", f"{secret}{name}-Ab12Cd") for name in secret_names]
    # The worker the API starts, and the queue Lambda sends the worker's failed invokes to.
    worker = Settings.from_environment(stage_environment(config, "local") | {"STAGE": stage}).worker_function_name
    uses += [("lambda:InvokeFunction", f"arn:aws:lambda:{region_account}:function:{worker}")]
    queue = _resolved(template["Resources"]["WorkerFailureQueue"]["Properties"]["QueueName"], parameters)
    uses += [("sqs:SendMessage", f"arn:aws:sqs:{region_account}:{queue}")]
    # ...which the worker_failures function reads (its SQS event source mapping polls with the role).
    uses += [(action, f"arn:aws:sqs:{region_account}:{queue}") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")]
    # The VPC network interfaces Lambda manages for both functions, in the stage's subnets and groups.
    ec2 = f"arn:aws:ec2:{region_account}"
    placed_in = [f"{ec2}:subnet/{subnet}" for subnet in values.subnet_ids] + [f"{ec2}:security-group/{group}" for group in values.security_group_ids]
    uses += [("ec2:CreateNetworkInterface", arn) for arn in [f"{ec2}:network-interface/*", *placed_in]]
    for action in ("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"):
        uses += [(action, f"{ec2}:network-interface/eni-0123456789abcdef0")]
    return uses


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_resource_the_template_and_code_use_is_granted(stage: str) -> None:
    policy = stage_policy(stage)
    denied = [(action, arn) for action, arn in used_resources(stage) if not iam.allows(policy, action, arn)]
    assert denied == [], "\n".join(f"{action} on {arn}" for action, arn in denied)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_resource_pattern_is_needed_by_some_use(stage: str) -> None:
    uses = used_resources(stage)
    for statement in stage_policy(stage)["Statement"]:
        for pattern in iam._listed(statement["Resource"]):
            if pattern == "*":
                continue  # only the EC2 Describe calls (checked above)
            assert any(iam.wildcard_matches(pattern, arn) for _, arn in uses), f"{statement['Sid']}: {pattern} covers nothing the service uses"


def test_nothing_next_to_the_used_resources_is_granted() -> None:
    policy = stage_policy("prod")
    account = "ap-northeast-2:123456789012"
    group = f"arn:aws:logs:{account}:log-group:/aws/lambda"
    secret = f"arn:aws:secretsmanager:{account}:secret:excel-export"
    bucket = "arn:aws:s3:::excel-export-prod-123456789012"
    neighbours = [
        ("logs:PutLogEvents", f"{group}/excel-export-prod-other:log-stream:s"),  # another function of the same prefix
        ("logs:PutLogEvents", f"{group}/excel-export-production:log-stream:s"),
        ("logs:PutLogEvents", f"{group}/excel-export-dev:log-stream:s"),
        ("logs:PutLogEvents", f"{group}/excel-export-prod-export_worker-2:log-stream:s"),
        ("logs:PutLogEvents", f"{group}/excel-export-prod-worker_failures-2:log-stream:s"),
        ("s3:GetObject", f"{bucket}/other/x.xlsx"),
        ("s3:GetObject", f"{bucket}-copy/exports/x.xlsx"),
        ("s3:PutObject", f"{bucket}/templates/orders.sql"),  # templates are read-only
        ("s3:DeleteObject", f"{bucket}/exports/x.xlsx"),  # exports expire by the lifecycle rule only
        ("s3:DeleteObject", f"{bucket}/templates/orders.sql"),
        ("s3:DeleteObject", f"{bucket}-copy/status/x.json"),  # status records only in the stage's own bucket
        ("secretsmanager:GetSecretValue", f"{secret}/prod/db-extra-Ab12Cd"),
        ("secretsmanager:GetSecretValue", f"{secret}/dev/db-Ab12Cd"),
        ("secretsmanager:GetSecretValue", f"{secret}/prod/api-key-Ab12Cd"),  # the canaries' secret, not the functions'
        ("secretsmanager:GetSecretValue", f"{secret}/dev/slack-app-Ab12Cd"),  # the Slack app's secret of another stage
        ("lambda:InvokeFunction", f"arn:aws:lambda:{account}:function:excel-export-prod"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{account}:function:excel-export-dev-export_worker"),
        ("sqs:SendMessage", f"arn:aws:sqs:{account}:excel-export-prod-worker-failures-2"),
        ("sqs:ReceiveMessage", f"arn:aws:sqs:{account}:excel-export-prod-worker-failures-2"),
        ("sqs:ReceiveMessage", f"arn:aws:sqs:{account}:excel-export-dev-worker-failures"),
        ("sqs:DeleteMessage", f"arn:aws:sqs:{account}:excel-export-prod-other"),
    ]
    granted = [(action, arn) for action, arn in neighbours if iam.allows(policy, action, arn)]
    assert granted == [], granted
