"""The Slack app's pure parts: command text, generated views, submitted values, field errors, access.

Every generated view and message is parsed with slack_sdk's Block Kit models, which encode
Slack's documented limits (a 24-character modal title, 75-character option texts, known element
keys): a view that round-trips unchanged is one Slack accepts.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from chalicelib.errors import ParameterError
from chalicelib.exports.messages import success_message
from chalicelib.exports.slack_forms import (
    field_errors,
    form_view,
    parse_command_text,
    picker_view,
    refusal,
    submitted_values,
    with_buttons,
)
from chalicelib.templating.parameters import resolve_parameters
from chalicelib.templating.template import ReportTemplate, parse_template
from tests.e2e.test_slack_app_over_http import FORM_TYPES, RESTRICTED

ROOT = Path(__file__).resolve().parent.parent.parent
TODAY = dt.date(2026, 12, 1)


def repository_reports() -> list[ReportTemplate]:
    return [parse_template(path.stem, path.read_text()) for path in sorted((ROOT / "reports").glob("*.sql"))]


def form_types() -> ReportTemplate:
    return parse_template("slack_form_types", FORM_TYPES)


def test_command_text_is_split_like_a_shell_line() -> None:
    assert parse_command_text("").kind == "form"
    assert parse_command_text("  help ").kind == "help"
    command = parse_command_text("customers since=2026-01-01 'name_contains=Kim Lee' cities=Seoul,Busan")
    assert (command.kind, command.report, command.pairs) == ("run", "customers", ("since=2026-01-01", "name_contains=Kim Lee", "cities=Seoul,Busan"))
    with pytest.raises(ParameterError, match="close the quotes"):
        parse_command_text("customers 'name_contains=Kim")


@pytest.mark.parametrize("template", [*repository_reports(), form_types()], ids=lambda template: template.name)
def test_every_generated_form_is_a_view_slacks_models_accept_unchanged(template: ReportTemplate) -> None:
    templates = [*repository_reports(), form_types()]
    view = form_view(templates, template, today=TODAY, prefill={}, export_format="xlsx", channel_id="C0LOCAL01")
    assert View(**view).to_dict() == view
    assert View(**picker_view(templates, "C0LOCAL01")).to_dict() == picker_view(templates, "C0LOCAL01")


def test_relative_date_defaults_are_resolved_against_the_reports_today() -> None:
    template = next(report for report in repository_reports() if report.name == "orders_range")
    view = form_view([template], template, today=TODAY, prefill={}, export_format="xlsx", channel_id="")
    dates = {
        block["block_id"]: block["element"].get("initial_date") for block in view["blocks"] if block.get("element", {}).get("type") == "datepicker"
    }
    assert dates == {"param:date_from": "2026-11-01", "param:date_to": "2026-12-01"}  # today-30d, today


def test_the_dm_with_buttons_is_a_message_slacks_models_accept() -> None:
    export_id = "20261201-120000-0123456789"
    status: dict[str, Any] = {"export_id": export_id, "report": "orders_by_day", "title": "Orders by day", "params": {"day": "2026-11-30"}}
    message = with_buttons(
        success_message({**status, "row_count": 3}, download_url="https://example.invalid/f.xlsx", expires_at="soon"), status["export_id"]
    )
    assert [block.to_dict() for block in Block.parse_all(message["blocks"])] == message["blocks"]
    assert [element["action_id"] for element in message["blocks"][-1]["elements"]] == ["run_again", "change_parameters"]


def state(**elements: Any) -> dict[str, Any]:
    return {"state": {"values": {block: {"value": element} for block, element in elements.items()}}}


def test_submitted_values_are_read_per_element_type_and_validate_like_post_exports() -> None:
    template = form_types()
    view = state(
        **{
            "param:day": {"type": "datepicker", "selected_date": "2026-11-30"},
            "param:top": {"type": "number_input", "value": "25"},
            "param:only_paid": {"type": "checkboxes", "selected_options": [{"value": "true"}]},
            "param:name_contains": {"type": "plain_text_input", "value": "  "},
            "param:status": {"type": "static_select", "selected_option": {"value": "paid"}},
            "param:statuses": {"type": "multi_static_select", "selected_options": []},
            "param:cities": {"type": "plain_text_input", "value": "Seoul, Busan"},
            "format": {"type": "static_select", "selected_option": {"value": "csv.gz"}},
        }
    )
    params, export_format = submitted_values(view, template)
    assert export_format == "csv.gz"
    # A list typed as text goes on as the text: parameters.py's one list shorthand splits it, as for JSON.
    assert params == {"day": "2026-11-30", "top": "25", "only_paid": True, "status": "paid", "cities": "Seoul, Busan"}
    resolved = resolve_parameters(template.params, params, today=TODAY)
    assert resolved["top"] == 25 and resolved["day"] == dt.date(2026, 11, 30) and resolved["cities"] == ["Seoul", "Busan"]


def test_a_parameter_error_is_placed_on_its_fields_block() -> None:
    template = form_types()
    error = ParameterError("parameter 'top' must be at most 500", field="params.top")
    assert field_errors(error, template) == {"param:top": "parameter 'top' must be at most 500"}
    item_error = ParameterError("bad item", field="params.statuses[1]")
    assert field_errors(item_error, template) == {"param:statuses": "bad item"}
    assert field_errors(ParameterError("format must be one of xlsx, csv, csv.gz", field="format"), template) == {
        "format": "format must be one of xlsx, csv, csv.gz"
    }


def test_reports_are_open_to_the_workspace_unless_their_header_lists_users_or_channels() -> None:
    open_report = form_types()
    restricted = parse_template("slack_restricted", RESTRICTED)
    assert refusal(open_report, "U0ANYONE1", "C0ANY0001") is None
    assert refusal(restricted, "U0ALICE01", "C0ANY0001") is None
    assert refusal(restricted, "U0BOB0001", "C0FINANCE") is None
    assert refusal(restricted, "U0BOB0001", "C0ANY0001") is not None


def test_importing_the_app_loads_neither_slack_sdk_nor_the_slack_modules() -> None:
    prefixes = "('slack_sdk', 'chalicelib.slack_', 'chalicelib.exports.slack_')"
    probe = f"import sys, app; print(sorted(name for name in sys.modules if name.startswith({prefixes})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
