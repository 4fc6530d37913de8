"""Per-account values: the one file per stage the platform owner fills (``infra/stages/<stage>.json``).

Everything that differs between AWS accounts (account id, region, VPC subnets and security
groups, bucket names, the WAF allow-list, alarm e-mail, tags) lives there and nowhere else.
``python -m infra config`` copies the values Chalice needs into ``.chalice/config.json`` and
renders ``.chalice/policy-<stage>.json``; a test fails when either is stale, so the owner never
edits those by hand. The committed files hold documentation values (account 123456789012,
TEST-NET CIDRs) that package and lint offline but are refused by ``make deploy``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import stage_config

ROOT = Path(__file__).resolve().parent.parent
STAGES_DIR = ROOT / "infra" / "stages"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
DEPLOYED_STAGES = ("dev", "prod")
# Chalice's logical ids for the functions (in the packaged template), and their config.json names.
CHALICE_FUNCTIONS = {"APIHandler": "api_handler", "ExportWorker": "export_worker", "WorkerFailures": "worker_failures"}
FUNCTIONS = tuple(CHALICE_FUNCTIONS.values())
# Values that mark a stage file as not filled in yet (AWS documentation account, RFC 5737 ranges).
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_SLACK_TEAM = "T0000000000"
_PLACEHOLDER_MARKERS = ("PLACEHOLDER", "0aaaaaaaaaaaaaaa", "0bbbbbbbbbbbbbbb", "203.0.113.", "198.51.100.")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")


class StageError(ValueError):
    """A stage file is missing, malformed or (for deploying) still holds placeholder values."""


@dataclass(frozen=True)
class StageValues:
    stage: str
    account_id: str
    region: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    bucket: str
    artifact_bucket: str
    allowed_cidrs: tuple[str, ...]
    alarm_email: str
    export_retention_days: int
    worker_reserved_concurrency: int | None
    cloudfront_public_key_file: str
    # The Slack workspace whose /export requests are served; every other workspace is refused.
    slack_team_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def cloudfront_public_key(self) -> str:
        return (ROOT / self.cloudfront_public_key_file).read_text(encoding="utf-8")

    def placeholders(self) -> list[str]:
        """Fields that still hold documentation values; deploying with any of them would fail late."""
        found = ["account_id"] if self.account_id == PLACEHOLDER_ACCOUNT else []
        for name in ("subnet_ids", "security_group_ids", "allowed_cidrs", "bucket"):
            if any(marker in json.dumps(getattr(self, name)) for marker in _PLACEHOLDER_MARKERS):
                found.append(name)
        if "BEGIN PUBLIC KEY" not in self.cloudfront_public_key:
            found.append("cloudfront_public_key_file")
        if self.slack_team_id == PLACEHOLDER_SLACK_TEAM:
            found.append("slack_team_id")
        return found


def load_stage(stage: str, folder: Path = STAGES_DIR) -> StageValues:
    path = folder / f"{stage}.json"
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"{path.name}: no such stage file (deployed stages: {', '.join(DEPLOYED_STAGES)})") from None
    except json.JSONDecodeError as exc:
        raise StageError(f"{path.name}: not valid JSON ({exc})") from None
    try:
        values = StageValues(
            stage=stage,
            account_id=str(raw["account_id"]),
            region=str(raw["region"]),
            subnet_ids=tuple(raw["subnet_ids"]),
            security_group_ids=tuple(raw["security_group_ids"]),
            bucket=str(raw["bucket"]),
            artifact_bucket=str(raw["artifact_bucket"]),
            allowed_cidrs=tuple(raw["allowed_cidrs"]),
            alarm_email=str(raw.get("alarm_email") or ""),
            export_retention_days=int(raw["export_retention_days"]),
            worker_reserved_concurrency=None if raw.get("worker_reserved_concurrency") is None else int(raw["worker_reserved_concurrency"]),
            cloudfront_public_key_file=str(raw["cloudfront_public_key_file"]),
            slack_team_id=str(raw.get("slack_team_id") or ""),
            tags={str(key): str(value) for key, value in dict(raw.get("tags") or {}).items()},
        )
    except KeyError as exc:
        raise StageError(f"{path.name}: field {exc.args[0]!r} is required") from None
    _validate(path.name, values)
    return values


def _validate(file_name: str, values: StageValues) -> None:
    problems = []
    if not re.fullmatch(r"\d{12}", values.account_id):
        problems.append("account_id must be 12 digits")
    if not values.subnet_ids or not all(_SUBNET.match(item) for item in values.subnet_ids):
        problems.append("subnet_ids must be a non-empty list of subnet-... ids")
    if not values.security_group_ids or not all(_SECURITY_GROUP.match(item) for item in values.security_group_ids):
        problems.append("security_group_ids must be a non-empty list of sg-... ids")
    if not values.allowed_cidrs or not all(_CIDR.match(item) for item in values.allowed_cidrs):
        problems.append("allowed_cidrs must be a non-empty list of IPv4 CIDRs")
    if values.slack_team_id and not re.fullmatch(r"T[A-Z0-9]{8,12}", values.slack_team_id):
        problems.append("slack_team_id must be a Slack workspace id (T followed by 8-12 capitals or digits), or empty to refuse every Slack request")
    if not 1 <= values.export_retention_days <= 365:
        problems.append("export_retention_days must be 1-365")
    if problems:
        raise StageError(f"{file_name}: " + "; ".join(problems))


def stage_tags(values: StageValues, app_name: str) -> dict[str, str]:
    return {"app": app_name, "stage": values.stage, **values.tags}


def apply_to_chalice_config(config: dict[str, Any], values: StageValues) -> dict[str, Any]:
    """Write the per-account keys of one stage into a Chalice config; every other key is kept as is."""
    stage = config["stages"][values.stage]
    stage["tags"] = stage_tags(values, str(config["app_name"]))
    environment = stage.setdefault("environment_variables", {})
    environment["EXPORT_BUCKET"] = values.bucket
    # The app states "expired" after as many days as the bucket's lifecycle rule keeps the files.
    environment["EXPORT_RETENTION_DAYS"] = str(values.export_retention_days)
    environment["SLACK_TEAM_ID"] = values.slack_team_id
    functions = stage.setdefault("lambda_functions", {})
    for name in FUNCTIONS:
        function = functions.setdefault(name, {})
        function["subnet_ids"] = list(values.subnet_ids)
        function["security_group_ids"] = list(values.security_group_ids)
    worker = functions["export_worker"]
    if values.worker_reserved_concurrency is None:
        worker.pop("reserved_concurrency", None)
    else:
        worker["reserved_concurrency"] = values.worker_reserved_concurrency
    return config


def read_chalice_config(path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    return stage_config.read_chalice_config(path)


def dump_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def stage_environment(config: dict[str, Any], stage: str, function: str = stage_config.API_HANDLER) -> dict[str, str]:
    """The environment variables Chalice gives a stage's function (tools/stage_config.py: Chalice's own merge)."""
    return stage_config.stage_environment(config, stage, function)
