"""The deploy rehearsal: the project's own plan, run by the real AWS CLI against moto_server.

It needs .venv-infra (awscli, aws-sam-translator), which `make test` installs before pytest runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra import deploy, rehearsal
from infra.rehearsal import AwsCli, RehearsalError
from infra.stages import ROOT, load_stage, read_chalice_config
from infra.template import load_fragment, parameter_values

needs_infra_venv = pytest.mark.skipif(
    not (rehearsal.INFRA_BIN / "aws").exists() and not os.environ.get("CI"),
    reason="needs .venv-infra (make .venv-infra/.installed); in CI its absence fails the test",
)


@needs_infra_venv
def test_the_deploy_plan_creates_updates_with_changed_stage_values_and_destroys(tmp_path: Path, packaged_template: Path) -> None:
    lines: list[str] = []
    result = rehearsal.rehearse("prod", tmp_path, say=lines.append)
    assert result.seconds < 60, f"the rehearsal took {result.seconds:.1f} s"
    # The update reached the stack: every parameter equals the changed stage's value (not UsePreviousValue).
    changed = rehearsal.changed_stage(load_stage("prod"))
    expected = parameter_values(changed, read_chalice_config()) | {"WebAclArn": rehearsal.REHEARSAL_WEB_ACL_ARN}
    assert result.parameters_after_update == expected
    assert result.parameters_after_update["ExportRetentionDays"] != str(load_stage("prod").export_retention_days)
    assert result.commands.count("aws cloudformation deploy") == 4  # edge + app, create then update
    assert result.commands.count("aws cloudformation delete-stack") == 2
    assert "==> app stack (functions, API, bucket, CloudFront, secrets, alarms)" in lines


def test_commands_are_refused_unless_their_endpoint_is_loopback(tmp_path: Path) -> None:
    cli = AwsCli("http://localhost:21650", tmp_path, "ap-northeast-2")
    argv = cli.command(["aws", "sqs", "list-queues"])
    # awscli v1 ignores AWS_ENDPOINT_URL for sqs: the endpoint is always passed explicitly.
    assert argv[-2:] == ["--endpoint-url", "http://localhost:21650"]
    assert cli.command(["aws", "s3", "ls", "--endpoint-url", "http://127.0.0.1:21651"])[-2:] == ["--endpoint-url", "http://127.0.0.1:21651"]
    with pytest.raises(RehearsalError, match="not loopback"):
        cli.command(["aws", "sqs", "list-queues", "--endpoint-url", "https://sqs.ap-northeast-2.amazonaws.com"])
    with pytest.raises(RehearsalError, match="as two words"):
        cli.command(["aws", "sqs", "list-queues", "--endpoint-url=https://sqs.ap-northeast-2.amazonaws.com"])
    with pytest.raises(RehearsalError, match="AWS CLI only"):
        cli.command(["curl", "https://example.com"])
    with pytest.raises(RehearsalError, match="not a loopback address"):
        AwsCli("https://cloudformation.us-east-1.amazonaws.com", tmp_path, "us-east-1")
    with pytest.raises(RehearsalError, match="not a loopback address"):
        AwsCli("http://localhost.example.com:21650", tmp_path, "us-east-1")


def test_clients_that_ignore_the_endpoint_cannot_leave_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-profile")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    environment = AwsCli("http://localhost:21650", tmp_path, "ap-northeast-2").environment()
    assert "AWS_PROFILE" not in environment and "AWS_SESSION_TOKEN" not in environment
    assert environment["AWS_ACCESS_KEY_ID"].startswith("rehearsal-fake")
    assert environment["AWS_ENDPOINT_URL"] == "http://localhost:21650"
    assert rehearsal.is_loopback(environment["HTTPS_PROXY"]) and environment["NO_PROXY"] == "127.0.0.1,localhost"
    assert environment["AWS_CONFIG_FILE"] == environment["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull


def test_a_resource_type_on_no_list_fails_the_rehearsal(tmp_path: Path) -> None:
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Table": {"Type": "AWS::DynamoDB::Table"}}}
    assert rehearsal.unknown_types(template) == ["AWS::DynamoDB::Table"]
    assert rehearsal.unknown_types(load_fragment(ROOT / deploy.EDGE_TEMPLATE)) == []
    edge = tmp_path / "edge.yaml"
    grown = load_fragment(ROOT / deploy.EDGE_TEMPLATE)
    grown["Resources"]["Cache"] = {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {}}
    edge.write_text(json.dumps(grown))
    with pytest.raises(RehearsalError, match=r"edge.yaml: resource types the rehearsal does not know: AWS::ElastiCache::CacheCluster"):
        AwsCli("http://localhost:21650", tmp_path, "us-east-1")(["aws", "cloudformation", "deploy", "--template-file", str(edge)])


@needs_infra_venv
def test_the_packaged_template_holds_no_unlisted_type(tmp_path: Path, packaged_template: Path) -> None:
    template = json.loads(packaged_template.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://excel-export-artifacts-123456789012/excel-export/prod/code.zip"  # as `package` leaves it
    source = tmp_path / "packaged.json"
    source.write_text(json.dumps(template))
    transformed = rehearsal.sam_transform(source, tmp_path / "transformed.json", "ap-northeast-2")
    assert rehearsal.unknown_types(transformed) == []
    template["Resources"]["Sessions"] = {"Type": "AWS::DynamoDB::Table", "Properties": {}}
    source.write_text(json.dumps(template))
    cli = AwsCli("http://localhost:21650", tmp_path, "ap-northeast-2")
    with pytest.raises(RehearsalError, match=r"does not know: AWS::DynamoDB::Table"):
        cli(["aws", "cloudformation", "deploy", "--template-file", str(source), "--stack-name", "x"])


def test_the_lists_say_what_moto_really_models() -> None:
    from moto.cloudformation.parsing import get_model_map  # moto's own table of CloudFormation types

    modelled = set(get_model_map())
    assert set(rehearsal.REHEARSED) <= modelled
    assert not set(rehearsal.SKIPPED) & modelled
    assert not set(rehearsal.REHEARSED) & set(rehearsal.SKIPPED) and not set(rehearsal.REMOVED) & (set(rehearsal.REHEARSED) | set(rehearsal.SKIPPED))
    # The one removed type moto models is removed because its create fails there, not because moto skips it.
    assert set(rehearsal.REMOVED) & modelled == {"AWS::ApiGateway::Deployment"}


def test_references_to_removed_resources_become_fixed_strings() -> None:
    template = {
        "Resources": {
            "Distribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Domain": {"Fn::GetAtt": ["Distribution", "DomainName"]},
                    "Id": {"Ref": "Distribution"},
                    "Arn": {"Fn::Sub": "arn:aws:cloudfront::${AWS::AccountId}:distribution/${Distribution}"},
                    "Queue": {"Fn::GetAtt": ["Queue", "Arn"]},
                },
            },
        }
    }
    properties = rehearsal.without_removed_types(template)["Resources"]["Fn"]["Properties"]
    assert list(rehearsal.without_removed_types(template)["Resources"]) == ["Fn"]
    assert properties["Domain"] == "rehearsal-Distribution-DomainName" and properties["Id"] == "rehearsal-Distribution"
    assert properties["Arn"] == {"Fn::Sub": "arn:aws:cloudfront::${AWS::AccountId}:distribution/rehearsal-Distribution"}
    assert properties["Queue"] == {"Fn::GetAtt": ["Queue", "Arn"]}
