"""One stage-environment merge, Chalice's own: global, then stage, then the function's entry (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from tools.stage_config import merged_by_hand, read_chalice_config, stage_environment

CONFIG: dict[str, Any] = {
    "environment_variables": {"A": "global", "B": "global", "C": "global"},
    "stages": {
        "prod": {
            "environment_variables": {"B": "stage", "C": "stage"},
            "lambda_functions": {"export_worker": {"environment_variables": {"C": "worker"}}},
        }
    },
}


def test_a_function_level_variable_reaches_that_function_only() -> None:
    # The three hand-written merges this replaces all stopped at the stage and lost C=worker.
    assert stage_environment(CONFIG, "prod", "export_worker") == {"A": "global", "B": "stage", "C": "worker"}
    assert stage_environment(CONFIG, "prod") == {"A": "global", "B": "stage", "C": "stage"}


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
@pytest.mark.parametrize("function", ["api_handler", "export_worker"])
def test_the_fallback_merges_as_chalice_does(stage: str, function: str) -> None:
    for config in (CONFIG, read_chalice_config()):
        if stage in config["stages"]:
            assert merged_by_hand(config, stage, function) == stage_environment(config, stage, function)


def test_an_unknown_stage_is_an_error() -> None:
    with pytest.raises(KeyError):
        stage_environment(CONFIG, "staging")
