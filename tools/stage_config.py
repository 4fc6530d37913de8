"""The environment Chalice gives a stage's function, read the way Chalice reads it.

One definition for every reader of .chalice/config.json outside Lambda (the CLI's ``--stage``, the
deploy code, the local stack's probes, the tests): Chalice merges ``environment_variables`` from the
top level, then the stage, then the stage's ``lambda_functions.<function>`` entry (chalice/config.py
``Config._chain_merge``), so a variable set for one function only reaches that function. Where
Chalice is installed its own loader does the merge; the console command can be installed without
Chalice, and then the same three levels are merged here (a unit test holds the two equal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = PROJECT_DIR / ".chalice" / "config.json"
API_HANDLER = "api_handler"  # Chalice's name for the function behind the routes


def read_chalice_config(path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def stage_environment(config: Mapping[str, Any], stage: str, function: str = API_HANDLER) -> dict[str, str]:
    """``function``'s environment variables in ``stage`` (KeyError if the config has no such stage)."""
    if stage not in config.get("stages", {}):
        raise KeyError(stage)
    try:
        from chalice.config import Config
    except ImportError:  # the console command without Chalice
        return merged_by_hand(config, stage, function)
    # The constructor, not Config.create: create() drops function_name in Chalice 1.34.
    environment: dict[str, str] = Config(chalice_stage=stage, function_name=function, config_from_disk=dict(config)).environment_variables
    return dict(environment)


def merged_by_hand(config: Mapping[str, Any], stage: str, function: str = API_HANDLER) -> dict[str, str]:
    stage_config = config.get("stages", {}).get(stage, {})
    levels = (config, stage_config, stage_config.get("lambda_functions", {}).get(function, {}))
    merged: dict[str, str] = {}
    for level in levels:
        merged.update(level.get("environment_variables", {}))
    return merged


def local_stage_environment(function: str = API_HANDLER) -> dict[str, str]:
    """The ``local`` stage's variables from the project's own config (the local stack and the tests)."""
    return stage_environment(read_chalice_config(), "local", function)
