"""The generated CloudFormation: current, reproducible, and what each canary, role and alarm holds."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tools.canaries import RUNTIME_VERSION, RenderError, render_template
from tools.cli.schedules import schedules
from tools.schedules import load_schedules

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "canary" / "export_canary.js").read_text()
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def rendered(text: str | None = None) -> str:
    source = text if text is not None else (ROOT / "schedules.yaml").read_text()
    return render_template(load_schedules(source, "schedules.yaml", now=NOW), SCRIPT, now=NOW)


def resources(text: str | None = None) -> dict[str, Any]:
    return dict(yaml.safe_load(rendered(text))["Resources"])


def test_the_committed_infra_canaries_yaml_is_current() -> None:
    committed = (ROOT / "infra" / "templates" / "canaries.yaml").read_text()
    assert committed == rendered(), "infra/templates/canaries.yaml is stale: run `make canaries` and commit it"


def test_render_is_byte_identical_every_time_and_printed_by_the_command() -> None:
    assert rendered() == rendered()
    result = CliRunner().invoke(schedules, ["render"])
    assert result.exit_code == 0, result.output
    assert result.output == (ROOT / "infra" / "templates" / "canaries.yaml").read_text()


def test_each_enabled_schedule_is_a_canary_with_its_utc_cron_and_the_inline_script() -> None:
    found = resources()
    canary = found["CanaryWeekdaySales"]["Properties"]
    assert found["CanaryWeekdaySales"]["Type"] == "AWS::Synthetics::Canary"
    assert canary["Name"] == "weekday-sales"
    assert canary["Schedule"] == {"Expression": "cron(0 23 ? * SUN-THU *)", "DurationInSeconds": "0", "RetryConfig": {"MaxRetries": 2}}
    assert canary["Code"] == {"Handler": "index.handler", "Script": SCRIPT}
    assert canary["RuntimeVersion"] == RUNTIME_VERSION
    assert canary["ArtifactS3Location"] == {"Fn::Sub": "s3://${ExportBucket}/canary/weekday-sales"}
    assert canary["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExportCanaryRole", "Arn"]}
    assert canary["RunConfig"]["TimeoutInSeconds"] == 60
    environment = canary["RunConfig"]["EnvironmentVariables"]
    assert environment["API_URL"] == {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${RestAPI.Stage}"}
    assert environment["API_KEY_SECRET"] == {"Ref": "ApiKeySecret"}
    assert json.loads(environment["SCHEDULE"]) == {
        "name": "weekday-sales",
        "report": "sales_by_product",
        "params": {"date_from": "yesterday", "date_to": "today"},
        "timezone": "Asia/Seoul",
        "times": ["08:00"],
    }
    assert found["CanaryDailyOrders"]["Properties"]["Schedule"]["Expression"] == "cron(0 0 * * ? *)"
    assert found["CanaryMonthlyOrders"]["Properties"]["Schedule"]["Expression"] == "cron(0 22 L * ? *)"
    assert "CanaryNewCustomers" not in found  # disabled


def test_each_canary_has_an_alarm_on_failed_runs() -> None:
    found = resources()
    canaries = [name for name, resource in found.items() if resource["Type"] == "AWS::Synthetics::Canary"]
    for name in canaries:
        alarm = found[f"{name}FailedAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("CloudWatchSynthetics", "Failed")
        assert alarm["Dimensions"] == [{"Name": "CanaryName", "Value": {"Ref": name}}]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert len(canaries) == 3


def test_the_role_grants_only_what_a_canary_needs() -> None:
    statements = resources()["ExportCanaryRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = sorted(action for statement in statements for action in statement["Action"])
    assert actions == sorted(
        [
            "s3:PutObject",
            "s3:GetBucketLocation",
            "s3:ListAllMyBuckets",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "cloudwatch:PutMetricData",
            "secretsmanager:GetSecretValue",
        ]
    )
    by_action = {action: statement for statement in statements for action in statement["Action"]}
    assert by_action["secretsmanager:GetSecretValue"]["Resource"] == {"Ref": "ApiKeySecret"}
    assert by_action["cloudwatch:PutMetricData"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}
    unscoped = sorted(action for action, statement in by_action.items() if statement["Resource"] == "*")
    assert unscoped == ["cloudwatch:PutMetricData", "s3:ListAllMyBuckets"]  # neither action takes a resource


def test_two_names_that_become_one_cloudformation_id_are_refused() -> None:
    item = "  - {{name: {}, report: r, cron: '0 9 * * *', timezone: UTC}}\n"
    text = "schedules:\n" + item.format("daily-orders") + item.format("daily_orders")
    with pytest.raises(RenderError, match="both become the CloudFormation id CanaryDailyOrders"):
        rendered(text)


def test_the_runtime_is_a_browserless_node_22_one_named_in_one_place() -> None:
    # "Runtime versions using Node.js" (CloudWatch Synthetics docs): syn-nodejs-3.x runs on Node.js
    # 20, which Lambda deprecated in 2026, so Synthetics deprecates it and refuses new canaries on it;
    # 4.0 and later run on Node.js 22. The browser runtimes (puppeteer, playwright) carry Chromium.
    match = re.fullmatch(r"syn-nodejs-(\d+)\.(\d+)", RUNTIME_VERSION)
    assert match and (int(match.group(1)), int(match.group(2))) >= (4, 0), RUNTIME_VERSION
    named = {
        str(path.relative_to(ROOT)): sorted(set(re.findall(r"syn-nodejs-[a-z]*-?\d+\.(?:\d+|x)", path.read_text())))
        for folder in ("canary", "chalicelib", "infra", "schedules.yaml", "README.md", "docs", "Makefile")
        for path in ([ROOT / folder] if (ROOT / folder).is_file() else sorted((ROOT / folder).rglob("*.*")))
        if path.suffix in (".js", ".py", ".yaml", ".md", ".json", "") and path.is_file()
    }
    elsewhere = {name: found for name, found in named.items() if found and name not in ("tools/canaries.py", "infra/templates/canaries.yaml")}
    assert elsewhere == {}, "name the runtime only in tools/canaries.py (RUNTIME_VERSION)"
    assert named["infra/templates/canaries.yaml"] == [RUNTIME_VERSION]
