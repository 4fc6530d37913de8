"""The deploy rehearsal: the project's own deploy plan, run by the real AWS CLI against moto_server.

``make deploy`` cannot be tried without an AWS account, and cfn-lint proves little about it (it
runs no SAM transform and knows nothing of what the AWS CLI does). So this runs the very commands
``python -m infra deploy`` would (``infra/deploy.py``), with ``awscli`` v1 from ``.venv-infra``,
against a moto_server on a free loopback port: create both stacks, change stage values and deploy
again (every stack parameter must then equal the stage's value), then destroy. It catches what the
first real deploy would hit in the CLI itself (the 51,200-byte inline template limit, parameters
frozen by ``UsePreviousValue``) and in the template (references, the SAM transform).

What it changes in a command, and only this: every command gets ``--endpoint-url`` (awscli v1
ignores ``AWS_ENDPOINT_URL`` for a few services, sqs among them), and the app-stack template is
SAM-transformed with ``aws-sam-translator`` first, because moto has no SAM transform. A command whose
endpoint is not loopback is refused, the credentials are fake, and a proxy that refuses every
connection catches any client that would still try to leave the machine.

moto models only part of the template: ``REHEARSED`` lists the types it creates, ``SKIPPED`` the
types it accepts and silently does not create (it still reports CREATE_COMPLETE), each with the
reason it matters. A template that gains a type on neither list fails the rehearsal, so nothing new
goes unrehearsed without someone deciding so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infra import deploy
from infra.stages import ROOT, StageValues, load_stage, read_chalice_config
from infra.template import load_fragment, parameter_values

INFRA_BIN = ROOT / ".venv-infra" / "bin"
DEV_BIN = ROOT / ".venv" / "bin"
# Types moto_server's CloudFormation creates (moto.cloudformation.parsing.get_model_map()).
REHEARSED = {
    "AWS::IAM::Role": "the functions' and canaries' roles",
    "AWS::Lambda::Function": "the three functions (API, worker, failure-queue handler), code from the artifact bucket",
    "AWS::Lambda::Permission": "API Gateway may invoke the API handler",
    "AWS::Lambda::EventSourceMapping": "the failure-queue handler reads the worker's on-failure queue (SAM's SQS event)",
    "AWS::Logs::LogGroup": "the functions' log groups (retention), the WAF log group",
    "AWS::S3::Bucket": "the exports bucket",
    "AWS::SNS::Topic": "the alarm topic",
    "AWS::SQS::Queue": "the worker's on-failure queue, read by the failure-queue handler",
    "AWS::ApiGateway::RestApi": "the Chalice API",
}
# Types moto accepts but does not create: their properties and references go untested here; the
# offline checks (cfn-lint, checkov) and the README's verify step are what covers them.
SKIPPED = {
    "AWS::ApiGateway::Stage": "the API's stage (SAM's RestAPI.Stage)",
    "AWS::ApiGateway::ApiKey": "the API key, its value resolved from Secrets Manager",
    "AWS::ApiGateway::UsagePlan": "throttling and quota on the API's stage",
    "AWS::ApiGateway::UsagePlanKey": "the key on the usage plan",
    "AWS::CloudFront::KeyGroup": "signed URLs",
    "AWS::CloudFront::OriginAccessControl": "CloudFront reads the bucket",
    "AWS::CloudFront::PublicKey": "signed URLs",
    "AWS::CloudWatch::Alarm": "failure alarms",
    "AWS::Lambda::EventInvokeConfig": "the worker's retries and on-failure destination",
    "AWS::S3::BucketPolicy": "TLS only, CloudFront reads exports/",
    "AWS::SNS::Subscription": "the alarm e-mail",
    "AWS::SecretsManager::Secret": "the service's secrets",
    "AWS::Synthetics::Canary": "the schedules (try them with `aws synthetics start-canary-dry-run`)",
    "AWS::WAFv2::IPSet": "the download allow-list",
    "AWS::WAFv2::WebACL": "the download allow-list",
    "AWS::WAFv2::LoggingConfiguration": "download logs",
}
# Types moto cannot take: one it skips while other resources read its attributes (Fn::GetAtt, so
# moto refuses the template), one it models but fails to create (the Deployment). The rehearsal
# removes them and puts a "rehearsal-<id>-<attribute>" string in every reference to them.
REMOVED = {
    "AWS::CloudFront::Distribution": "its DomainName is the functions' CLOUDFRONT_DOMAIN",
    "AWS::ApiGateway::Deployment": "moto does not import the API's OpenAPI body, so it finds no method to deploy",
}
# What a real deploy needs from the edge stack but moto cannot give (it never creates the web ACL).
REHEARSAL_WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/rehearsal/00000000-0000-0000-0000-000000000000"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal-fake-key", "AWS_SECRET_ACCESS_KEY": "rehearsal-fake-secret"}


class RehearsalError(RuntimeError):
    """A rehearsed command failed, a check did not hold, or a command would have left loopback."""


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknown_types(template: Mapping[str, Any]) -> list[str]:
    """Resource types on neither list: new infrastructure nobody decided how to rehearse."""
    types = {str(resource["Type"]) for resource in template.get("Resources", {}).values()}
    return sorted(types - set(REHEARSED) - set(SKIPPED) - set(REMOVED))


def without_removed_types(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus the REMOVED types, every reference to them replaced by a fixed string."""
    resources = template.get("Resources", {})
    removed = {name for name, resource in resources.items() if resource["Type"] in REMOVED}

    def stand_in(name: str, attribute: str = "") -> str:
        return f"rehearsal-{name}" + (f"-{attribute}" if attribute else "")

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in removed:
            return stand_in(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            name, attribute = target if isinstance(target, list) else target.split(".", 1)
            if name in removed:
                return stand_in(name, attribute)
        if set(node) == {"Fn::Sub"}:
            text, variables = (node["Fn::Sub"], None) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            for name in removed:
                text = re.sub(r"\$\{" + re.escape(name) + r"(?:\.([A-Za-z]+))?\}", lambda m, n=name: stand_in(n, m.group(1) or ""), text)
            return {"Fn::Sub": text if variables is None else [text, walk(variables)]}
        return {key: walk(value) for key, value in node.items()}

    kept = {name: _named_api(resource) for name, resource in resources.items() if name not in removed}
    cleaned: dict[str, Any] = walk(template | {"Resources": kept})
    return cleaned


def _named_api(resource: dict[str, Any]) -> dict[str, Any]:
    """API Gateway names a RestApi imported from an OpenAPI body after its info.title, as SAM's
    generated one is; moto insists on a Name property, so give it the same name."""
    properties = resource.get("Properties", {})
    if resource["Type"] != "AWS::ApiGateway::RestApi" or "Name" in properties or "Body" not in properties:
        return resource
    return resource | {"Properties": properties | {"Name": properties["Body"]["info"]["title"]}}


def sam_transform(source: Path, target: Path, region: str) -> dict[str, Any]:
    """The SAM transform CloudFormation would run: aws-sam-translator, which lives in .venv-infra."""
    command = [str(INFRA_BIN / "python"), "-m", "infra.rehearsal", "transform", str(source), str(target)]
    completed = subprocess.run(command, cwd=ROOT, env=os.environ | {"AWS_DEFAULT_REGION": region}, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RehearsalError(f"the SAM transform of {source.name} failed:\n{completed.stderr.strip()}")
    transformed: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return transformed


def _transform_file(source: Path, target: Path) -> None:
    from samtranslator.translator.transform import transform  # type: ignore[import-not-found,unused-ignore]  # .venv-infra only

    class NoManagedPolicies:
        # IAM is asked for managed policy ARNs only for SAM "Policies"; Chalice's roles are inline.
        def load(self) -> dict[str, str]:
            return {}

    template = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(transform(template, {}, NoManagedPolicies())), encoding="utf-8")


@dataclass
class AwsCli:
    """Runs ``aws`` commands against one loopback endpoint, and nothing else."""

    endpoint: str
    work_dir: Path
    region: str
    log: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not is_loopback(self.endpoint):
            raise RehearsalError(f"refusing to rehearse against {self.endpoint}: not a loopback address")

    def environment(self) -> dict[str, str]:
        keep = {name: value for name, value in os.environ.items() if not name.startswith("AWS_") and "PROXY" not in name.upper()}
        trap = "http://127.0.0.1:9"  # the discard port: any client ignoring the endpoint fails at once
        return keep | FAKE_CREDENTIALS | {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": self.region,
            "HTTP_PROXY": trap,
            "HTTPS_PROXY": trap,
            "NO_PROXY": "127.0.0.1,localhost",
        }

    def command(self, command: Sequence[str]) -> list[str]:
        if not command or command[0] != "aws":
            raise RehearsalError(f"refusing to run {command[:1]}: the rehearsal runs the AWS CLI only")
        if any(word.startswith("--endpoint-url=") for word in command):
            raise RehearsalError(f"refusing {' '.join(command[:3])}: give --endpoint-url as two words, so its endpoint can be checked")
        given = deploy.option_values(command, "--endpoint-url")
        if given and not all(is_loopback(url) for url in given):
            raise RehearsalError(f"refusing {' '.join(command[:3])}: endpoint {given[0]} is not loopback")
        return [str(INFRA_BIN / "aws"), *command[1:], *([] if given else ["--endpoint-url", self.endpoint])]

    def __call__(self, command: list[str]) -> str:
        command = self._translated(command)
        argv = self.command(command)
        self.log.append(" ".join(command[:3]))
        completed = subprocess.run(argv, env=self.environment(), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        if completed.returncode != 0:
            raise RehearsalError(f"`{' '.join(command[:4])} ...` failed ({completed.returncode}):\n{completed.stderr.strip()}")
        return completed.stdout

    def _translated(self, command: list[str]) -> list[str]:
        """The app-stack deploy with its template SAM-transformed, as CloudFormation would do it."""
        templates = deploy.option_values(command, "--template-file")
        if command[1:3] != ["cloudformation", "deploy"] or not templates:
            return command
        source = ROOT / templates[0]
        if not templates[0].endswith("packaged.json"):  # the edge stack: plain CloudFormation
            self._check_types(source.name, load_fragment(source))
            return command
        target = self.work_dir / "transformed.json"
        template = sam_transform(source, target, self.region)
        self._check_types(source.name, template)
        target.write_text(json.dumps(without_removed_types(template)), encoding="utf-8")
        position = command.index("--template-file") + 1
        return [*command[:position], str(target), *command[position + 1 :]]

    @staticmethod
    def _check_types(name: str, template: Mapping[str, Any]) -> None:
        unknown = unknown_types(template)
        if unknown:
            known = "REHEARSED, SKIPPED or REMOVED in infra/rehearsal.py"
            raise RehearsalError(f"{name}: resource types the rehearsal does not know: {', '.join(unknown)} (add each to {known})")

    def json(self, *command: str) -> Any:
        return json.loads(self([*command, "--output", "json"]))


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    port = free_loopback_port()
    # "localhost", not 127.0.0.1: moto reads a TemplateURL as path-style (bucket/key) only when the
    # URL says localhost (moto/cloudformation/utils.py get_stack_from_s3_url).
    endpoint = f"http://localhost:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(DEV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - our own loopback server
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RehearsalError(f"moto_server did not start on {endpoint}: see {log_path}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass(frozen=True)
class Rehearsal:
    """What a rehearsal did, for the test and the command line to report."""

    commands: list[str]
    seconds: float
    parameters_after_update: dict[str, str]


def changed_stage(values: StageValues) -> StageValues:
    """The stage values of the second deploy: what an owner would edit in infra/stages/<stage>.json."""
    return dataclasses.replace(
        values,
        export_retention_days=values.export_retention_days % 365 + 1,
        alarm_email="rehearsal-alarms@example.com",
        tags={**values.tags, "rehearsal": "update"},
    )


def stack_parameters(cli: AwsCli, stack: str) -> dict[str, str]:
    answer = cli.json("aws", "cloudformation", "describe-stacks", "--region", cli.region, "--stack-name", stack)
    stacks = answer["Stacks"]
    if stacks[0]["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RehearsalError(f"{stack} is {stacks[0]['StackStatus']}")
    return {item["ParameterKey"]: item["ParameterValue"] for item in stacks[0].get("Parameters", [])}


def _with_web_acl(cli: AwsCli) -> Callable[[list[str]], str]:
    """The plan's runner. moto never creates the web ACL, so the edge stack's WebAclArn output is
    empty: the lookup still runs, and an empty answer becomes a well-formed ARN."""

    def run(command: list[str]) -> str:
        output = cli(command)
        if "Stacks[0].Outputs[?OutputKey=='WebAclArn'].OutputValue" in command and output.strip() in ("", "None"):
            return REHEARSAL_WEB_ACL_ARN
        return output

    return run


def rehearse(stage: str, work_dir: Path, say: Any = print) -> Rehearsal:
    started = time.monotonic()
    config = read_chalice_config()
    values = load_stage(stage)
    package_dir = f"out/{stage}/package"
    if not (ROOT / package_dir / "sam.json").exists():
        raise RehearsalError(f"{package_dir}/sam.json is missing: run `make package STAGE={stage}` first")
    work_dir.mkdir(parents=True, exist_ok=True)
    app_stack, edge_stack = deploy.stack_names(str(config["app_name"]), stage)
    with moto_server(work_dir / "moto.log") as endpoint:
        cli = AwsCli(endpoint, work_dir, values.region)
        # What the owner creates by hand before the first deploy (README): the artifact bucket.
        cli(["aws", "s3api", "create-bucket", "--region", values.region, "--bucket", values.artifact_bucket,
             "--create-bucket-configuration", f"LocationConstraint={values.region}"])  # fmt: skip
        for label, stage_values in (("create", values), ("update", changed_stage(values))):
            say(f"--- rehearsal: {label} ---")
            deploy.run_plan(deploy.deploy_plan(stage_values, config, package_dir), _with_web_acl(cli), say)
            expected = parameter_values(stage_values, config) | {"WebAclArn": REHEARSAL_WEB_ACL_ARN}
            found = stack_parameters(cli, app_stack)
            wrong = {name: (found.get(name), value) for name, value in expected.items() if found.get(name) != value}
            if wrong:
                raise RehearsalError(f"after the {label}, stack parameters differ from the stage file (found, expected): {wrong}")
        say("--- rehearsal: destroy ---")
        deploy.run_plan(deploy.destroy_plan(values, str(config["app_name"])), cli, say)
        alive = ["--stack-status-filter", "CREATE_COMPLETE", "UPDATE_COMPLETE"]
        left = cli.json("aws", "cloudformation", "list-stacks", "--region", values.region, *alive)
        if any(summary["StackName"] in (app_stack, edge_stack) for summary in left["StackSummaries"]):
            raise RehearsalError("a stack survived the destroy plan")
    return Rehearsal(commands=cli.log, seconds=time.monotonic() - started, parameters_after_update=found)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["transform"]:
        # Internal: the SAM transform run inside .venv-infra (aws-sam-translator), not a command people type.
        _transform_file(Path(arguments[1]), Path(arguments[2]))
        return 0
    import click  # the main venv's; the transform above runs where only the infra tools are installed

    @click.command(help="Run the deploy plan with the real AWS CLI against moto_server on a free loopback port.")
    @click.option("--stage", default="prod", show_default=True, help="a stage of infra/stages/")
    def rehearse_command(stage: str) -> None:
        try:
            result = rehearse(stage, ROOT / "out" / stage / "rehearsal")
        except RehearsalError as exc:
            raise click.ClickException(f"rehearsal failed: {exc}") from None
        print(f"rehearsal passed: {len(result.commands)} AWS CLI commands in {result.seconds:.1f} s")

    from tools.command_line import exit_status

    return exit_status(rehearse_command, arguments, "python -m infra.rehearsal")


if __name__ == "__main__":
    sys.exit(main())
