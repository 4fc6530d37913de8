"""The infrastructure template: every ``infra/templates/*.yaml`` fragment merged into one document.

This is the one merge point. ``chalice package --merge-template`` accepts a single file, so
``build_merge_template`` combines the fragments (sorted by file name) section by section; a
logical id defined in two fragments is an error rather than a silent override. A later fragment
(for example the generated canaries of the scheduling issue, ``infra/templates/canaries.yaml``)
only has to be dropped into the folder. Parameter defaults are filled from the stage file, and the
Chalice functions get their fixed names (the policy and the dispatcher name them) and ephemeral
storage from ``.chalice/config.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.stages import CHALICE_FUNCTIONS, ROOT, StageValues, stage_environment

FRAGMENTS_DIR = ROOT / "infra" / "templates"
SECTIONS = ("Parameters", "Conditions", "Mappings", "Resources", "Outputs")


class TemplateError(ValueError):
    """Two fragments define the same thing, or a fragment is not a CloudFormation template."""


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the short intrinsic forms (``!Ref``, ``!Sub``, ``!GetAtt``...) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_fragment(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise TemplateError(f"{path.name}: not a CloudFormation template")
    return document


def merge_fragments(fragments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    owner: dict[tuple[str, str], str] = {}
    for file_name, fragment in sorted(fragments.items()):
        unknown = set(fragment) - set(SECTIONS) - {"AWSTemplateFormatVersion", "Description"}
        if unknown:
            raise TemplateError(f"{file_name}: unsupported top-level keys {sorted(unknown)}")
        for section in SECTIONS:
            for key, value in (fragment.get(section) or {}).items():
                if (section, key) in owner:
                    raise TemplateError(f"{file_name}: {section}.{key} is already defined in {owner[(section, key)]}")
                owner[(section, key)] = file_name
                merged.setdefault(section, {})[key] = value
    return merged


def parameter_values(values: StageValues, config: dict[str, Any]) -> dict[str, str]:
    """The stage's value for every parameter a fragment may declare."""
    app_name = str(config["app_name"])
    environment = stage_environment(config, values.stage)
    return {
        "AppName": app_name,
        "Stage": values.stage,
        "ExportBucketName": values.bucket,
        "ExportsPrefix": environment["EXPORTS_PREFIX"],
        "StatePrefix": environment["STATE_PREFIX"],
        "ExportRetentionDays": str(values.export_retention_days),
        "AlarmEmail": values.alarm_email,
        "CloudFrontPublicKeyPem": values.cloudfront_public_key,
        "DbSecretName": environment["DB_SECRET_NAME"],
        "SlackSecretName": environment["SLACK_SECRET_NAME"],
        "SlackAppSecretName": environment["SLACK_APP_SECRET_NAME"],
        "CloudFrontKeySecretName": environment["CLOUDFRONT_KEY_SECRET_NAME"],
        "ApiKeySecretName": f"{app_name}/{values.stage}/api-key",
    }


def function_name(app_name: str, stage: str, config_name: str) -> str:
    # The names `chalice deploy` would give: "<app>-<stage>" for the API handler.
    return f"{app_name}-{stage}" if config_name == "api_handler" else f"{app_name}-{stage}-{config_name}"


def build_merge_template(values: StageValues, config: dict[str, Any], folder: Path = FRAGMENTS_DIR) -> dict[str, Any]:
    fragments = {path.name: load_fragment(path) for path in sorted(folder.glob("*.yaml"))}
    template = merge_fragments(fragments)
    known = parameter_values(values, config)
    for name, parameter in template.get("Parameters", {}).items():
        if name in known:
            parameter["Default"] = known[name]
    stage = config["stages"][values.stage]
    resources = template.setdefault("Resources", {})
    for logical_id, config_name in CHALICE_FUNCTIONS.items():
        properties = resources.setdefault(logical_id, {}).setdefault("Properties", {})
        properties["FunctionName"] = function_name(str(config["app_name"]), values.stage, config_name)
        storage = stage.get("lambda_functions", {}).get(config_name, {}).get("lambda_ephemeral_storage")
        if storage:
            properties["EphemeralStorage"] = {"Size": int(storage)}
    return template
