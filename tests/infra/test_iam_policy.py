"""The stage policies grant exactly the AWS calls the deployed code makes (and the test can fail)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra import iam
from infra.stages import DEPLOYED_STAGES, ROOT


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
    statements = {statement["Sid"]: statement for statement in stage_policy("prod")["Statement"]}
    assert (
        "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:excel-export/prod/slack-app-??????"
        in statements["ReadTheServiceSecrets"]["Resource"]
    )
