"""The deployment inputs: stage files, generated config, the merged template and the deploy plan."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import Settings, SettingsError
from infra import deploy
from infra.__main__ import main, stale_files
from infra.stages import ROOT, StageError, apply_to_chalice_config, load_stage, read_chalice_config, stage_environment
from infra.template import TemplateError, build_merge_template, load_fragment, merge_fragments


def test_generated_config_and_policies_match_the_stage_files() -> None:
    assert stale_files() == [], "run `make config` and commit the result"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_both_functions_run_in_the_vpc_with_sizes_and_tags(stage: str) -> None:
    config = read_chalice_config()["stages"][stage]
    values = load_stage(stage)
    for function in ("api_handler", "export_worker"):
        settings = config["lambda_functions"][function]
        assert settings["subnet_ids"] == list(values.subnet_ids) and settings["security_group_ids"] == list(values.security_group_ids)
        assert settings["lambda_memory_size"] and settings["lambda_timeout"]
    assert config["lambda_functions"]["export_worker"]["lambda_ephemeral_storage"] >= 512
    assert config["tags"]["stage"] == stage and config["iam_policy_file"] == f"policy-{stage}.json"


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_every_stage_environment_makes_valid_settings(stage: str) -> None:
    environment = stage_environment(read_chalice_config(), stage)
    if stage != "local":
        # In AWS the stack adds these two (infra/templates/functions.yaml).
        environment |= {"CLOUDFRONT_DOMAIN": "d111111abcdef8.cloudfront.net", "CLOUDFRONT_KEY_PAIR_ID": "K2JCJMDEHXQW5F"}
    settings = Settings.from_environment(environment)
    assert settings.stage == stage


def test_a_cloudfront_domain_without_a_signing_key_is_refused() -> None:
    environment = stage_environment(read_chalice_config(), "prod") | {"CLOUDFRONT_DOMAIN": "d111111abcdef8.cloudfront.net"}
    with pytest.raises(SettingsError, match="CLOUDFRONT_KEY_PAIR_ID"):
        Settings.from_environment(environment)


def test_presigned_expiry_is_capped_under_temporary_credentials() -> None:
    environment = stage_environment(read_chalice_config(), "local")
    assert Settings.from_environment(environment | {"AWS_SESSION_TOKEN": "fake"}).presigned_max_seconds == 3600


def test_merged_template_names_functions_as_the_code_and_policy_expect() -> None:
    config = read_chalice_config()
    template = build_merge_template(load_stage("prod"), config)
    settings = Settings.from_environment(stage_environment(config, "local") | {"STAGE": "prod"})
    worker = template["Resources"]["ExportWorker"]["Properties"]
    assert worker["FunctionName"] == settings.worker_function_name
    assert worker["EphemeralStorage"] == {"Size": config["stages"]["prod"]["lambda_functions"]["export_worker"]["lambda_ephemeral_storage"]}
    missing_defaults = [name for name, parameter in template["Parameters"].items() if "Default" not in parameter]
    assert missing_defaults == ["WebAclArn"]  # passed at deploy time from the us-east-1 edge stack
    assert template["Parameters"]["ExportBucketName"]["Default"] == load_stage("prod").bucket


def test_short_form_intrinsics_are_read_as_long_form(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        "Resources:\n  A:\n    Properties:\n      B: !GetAtt Thing.Arn\n      C: !Sub '${X}-y'\n      D: !If [Cond, !Ref P, !Ref AWS::NoValue]\n"
    )
    properties = load_fragment(path)["Resources"]["A"]["Properties"]
    assert properties["B"] == {"Fn::GetAtt": ["Thing", "Arn"]} and properties["C"] == {"Fn::Sub": "${X}-y"}
    assert properties["D"] == {"Fn::If": ["Cond", {"Ref": "P"}, {"Ref": "AWS::NoValue"}]}


def test_a_logical_id_defined_twice_is_an_error_not_an_override() -> None:
    bucket: dict[str, Any] = {"Resources": {"ExportBucket": {"Type": "AWS::S3::Bucket"}}}
    with pytest.raises(TemplateError, match=r"storage\.yaml: Resources\.ExportBucket is already defined in canaries\.yaml"):
        merge_fragments({"storage.yaml": bucket, "canaries.yaml": bucket})


def test_stage_files_are_validated(tmp_path: Path) -> None:
    raw = json.loads((ROOT / "infra" / "stages" / "prod.json").read_text())
    (tmp_path / "prod.json").write_text(json.dumps(raw | {"subnet_ids": ["subnet-nope"], "allowed_cidrs": []}))
    with pytest.raises(StageError, match=r"subnet_ids .* allowed_cidrs"):
        load_stage("prod", tmp_path)


def test_deploy_refuses_placeholder_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--stage", "prod"]) == 1
    assert "account_id" in capsys.readouterr().err


def test_the_slack_workspace_is_a_per_account_value_of_the_stage_file(tmp_path: Path) -> None:
    raw = json.loads((ROOT / "infra" / "stages" / "prod.json").read_text())
    (tmp_path / "prod.json").write_text(json.dumps(raw | {"slack_team_id": "T01ABCDEF23"}))
    values = load_stage("prod", tmp_path)
    config = apply_to_chalice_config(json.loads((ROOT / ".chalice" / "config.json").read_text()), values)
    assert config["stages"]["prod"]["environment_variables"]["SLACK_TEAM_ID"] == "T01ABCDEF23"
    assert "slack_team_id" not in values.placeholders()
    # The committed documentation value must be replaced (or emptied, refusing every Slack request) before a deploy.
    assert "slack_team_id" in load_stage("prod").placeholders()
    (tmp_path / "prod.json").write_text(json.dumps(raw | {"slack_team_id": "myteam\n"}))
    with pytest.raises(StageError, match="slack_team_id must be a Slack workspace id"):
        load_stage("prod", tmp_path)


def app_stack_deploy(commands: list[list[str]]) -> list[str]:
    (found,) = [c for c in commands if c[1:3] == ["cloudformation", "deploy"] and "excel-export-prod" in deploy.option_values(c, "--stack-name")]
    return found


def test_deploy_plan_puts_the_waf_in_us_east_1_and_passes_its_arn(capsys: pytest.CaptureFixture[str]) -> None:
    values = load_stage("prod")
    plan = deploy.deploy_plan(values, read_chalice_config(), "out/prod/package")
    edge = next(step for step in plan if "--template-file" in step.command)
    assert deploy.option_values(edge.command, "--region") == ["us-east-1"]
    assert "WebAclArn={web_acl_arn}" in app_stack_deploy([step.command for step in plan])
    ran: list[list[str]] = []

    def runner(command: list[str]) -> str:
        ran.append(command)
        return "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1\n" if "describe-stacks" in command else ""

    deploy.run_plan(plan, runner, say=lambda line: None)
    deployed = app_stack_deploy(ran)
    assert "WebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1" in deployed
    assert deploy.option_values(deployed, "--region") == [values.region]
    assert main(["destroy", "--stage", "prod", "--dry-run"]) == 0
    assert "delete-stack" in capsys.readouterr().out


def test_the_failure_queue_handler_reads_the_queue_the_worker_fails_into() -> None:
    import app as export_app

    template = build_merge_template(load_stage("prod"), read_chalice_config())
    resources = template["Resources"]
    assert resources["WorkerInvokeConfig"]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["WorkerFailureQueue", "Arn"]
    }
    queue_name = resources["WorkerFailureQueue"]["Properties"]["QueueName"]
    from chalice.app import SQSEventConfig

    [source] = [source for source in export_app.app.event_sources if isinstance(source, SQSEventConfig) and source.name == "worker_failures"]
    # Chalice writes "arn:...:<queue>" into a Fn::Sub, so the stack's AppName and Stage fill in the same name.
    assert queue_name == {"Fn::Sub": source.queue} and source.batch_size == 1
    handler = resources["WorkerFailures"]
    assert "WorkerFailureQueue" in handler["DependsOn"] and handler["Properties"]["FunctionName"] == "excel-export-prod-worker_failures"


def dry_run_commands(capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    """The commands `python -m infra deploy --stage prod --dry-run` prints, each split as a shell would."""
    assert main(["deploy", "--stage", "prod", "--dry-run"]) == 0
    chunks = re.split(r"^# .*$", capsys.readouterr().out, flags=re.MULTILINE)
    return [shlex.split(chunk) for chunk in chunks if chunk.strip()]


def test_the_app_stack_template_goes_through_the_artifact_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    # aws-cli refuses a template over 51,200 bytes without --s3-bucket, before any API call
    # (awscli/customizations/cloudformation/deploy.py); ours is far over it, and the plan sends it
    # through the bucket whatever its size (the rehearsal runs the real CLI on the real template).
    deployed = app_stack_deploy(dry_run_commands(capsys))
    assert deploy.option_values(deployed, "--s3-bucket") == [load_stage("prod").artifact_bucket]
    assert deploy.option_values(deployed, "--s3-prefix") == ["excel-export/prod"]  # the prefix `package` uploads the code under


def test_every_parameter_of_the_packaged_template_is_passed_on_every_deploy(
    capsys: pytest.CaptureFixture[str], packaged_template: Path
) -> None:
    # A parameter left out is sent as UsePreviousValue on update: a changed stage value never arrives.
    template = json.loads(packaged_template.read_text())
    overrides = deploy.option_values(app_stack_deploy(dry_run_commands(capsys)), "--parameter-overrides")
    passed = dict(item.split("=", 1) for item in overrides)
    assert sorted(passed) == sorted(template["Parameters"])
    defaults = {name: parameter.get("Default") for name, parameter in template["Parameters"].items() if "Default" in parameter}
    assert {name: passed[name] for name in defaults} == defaults  # the stage's values, as `build` baked them in


def test_a_stack_left_in_rollback_complete_is_deleted_before_the_create(capsys: pytest.CaptureFixture[str]) -> None:
    plan = deploy.deploy_plan(load_stage("prod"), read_chalice_config(), "out/prod/package")
    ran: list[list[str]] = []
    said: list[str] = []

    def runner(command: list[str]) -> str:
        # A fake AWS CLI: the app stack's first create failed; the edge stack never existed.
        ran.append(command)
        if command[2] == "list-stacks" and "StackName=='excel-export-prod'" in command[-1]:
            return "ROLLBACK_COMPLETE\n"
        return "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1\n" if command[2] == "describe-stacks" else ""

    deploy.run_plan(plan, runner, say=said.append)
    verbs = [(command[2], deploy.option_values(command, "--stack-name")) for command in ran]
    app = ["excel-export-prod"]
    assert verbs.index(("delete-stack", app)) < verbs.index(("wait", app)) < verbs.index(("deploy", app))
    assert ("delete-stack", ["excel-export-prod-edge"]) not in verbs  # only a failed create is deleted
    assert any("excel-export-prod is ROLLBACK_COMPLETE" in line and "deleting it" in line for line in said)


def test_a_failed_first_create_takes_the_bucket_with_it() -> None:
    # DeletionPolicy Retain would survive the rollback and block the next create on the bucket name.
    bucket = build_merge_template(load_stage("prod"), read_chalice_config())["Resources"]["ExportBucket"]
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
    assert bucket["UpdateReplacePolicy"] == "Retain"  # a replacement never deletes the old bucket


def test_the_usage_plan_names_the_apis_own_stage() -> None:
    template = build_merge_template(load_stage("prod"), read_chalice_config())
    (api_stage,) = template["Resources"]["UsagePlan"]["Properties"]["ApiStages"]
    assert api_stage == {"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}  # SAM's reference to the stage it creates
    assert "ApiStageName" not in template["Parameters"]
