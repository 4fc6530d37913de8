"""The Slack app's texts and Block Kit views, built from report declarations (pure, no I/O).

``/export`` text is split like a shell line (``shlex``: quotes keep spaces) into ``name=value``
pairs parsed like the command line's ``-p``. The modal's form has one input block per declared
parameter, its element chosen from the type (date picker, select, number input, checkbox, text),
its block id ``param:<name>`` so a validation error of ``params.<name>`` is shown next to its
field (``response_action: errors``). Shapes follow Slack's Block Kit reference
(https://docs.slack.dev/reference/block-kit/blocks/input-block and the element pages); the unit
tests parse every view with slack_sdk's models, which check Slack's documented limits.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ExportServiceError, ParameterError
from chalicelib.exports.messages import clip, escape, format_params, value_text
from chalicelib.files.formats import FORMATS
from chalicelib.templating.parameters import ParameterSpec, coerce_scalar, parse_param_pairs, split_list_shorthand
from chalicelib.templating.presentation import display_value
from chalicelib.templating.template import ReportTemplate

FORM_CALLBACK = "export_form"
PICK_REPORT = "pick_report"
RUN_AGAIN = "run_again"
CHANGE_PARAMETERS = "change_parameters"
FORMAT_BLOCK = "format"
REPORT_BLOCK = "report"
_PARAM_BLOCK = "param:"
_VALUE = "value"
# Block Kit limits (reference pages of each object): option text 75, option description 75,
# label 2000 (kept short), select options 100, modal title 24, plain_text_input max_length 3000.
_OPTION_TEXT = 75
_TITLE = 24
_MAX_OPTIONS = 100
_TEXT_INPUT_MAX = 3000


@dataclass(frozen=True)
class CommandText:
    """What ``/export ...`` asks for: ``help``, the form (``report`` may pre-select one), or a run."""

    kind: str  # "help" | "form" | "run"
    report: str | None = None
    pairs: tuple[str, ...] = ()


def parse_command_text(text: str) -> CommandText:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ParameterError(f"the command could not be read: {exc} (close the quotes)", field="text") from None
    if not words:
        return CommandText("form")
    if words[0] == "help" and len(words) == 1:
        return CommandText("help")
    return CommandText("run", report=words[0], pairs=tuple(words[1:]))


def command_params(command: CommandText, template: ReportTemplate) -> dict[str, Any]:
    return parse_param_pairs(command.pairs, template.params)


def missing_required(template: ReportTemplate, supplied: Mapping[str, Any]) -> list[str]:
    """Required parameters with neither a value nor a default: the form opens for these."""
    return [name for name, spec in template.params.items() if spec.required and spec.default is None and supplied.get(name) in (None, "", [])]


# texts -------------------------------------------------------------------------------------------
def plain(text: str, limit: int = 2000) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": False}


def ephemeral(text: str) -> dict[str, Any]:
    """A slash command's immediate answer that only the requester sees."""
    return {"response_type": "ephemeral", "text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}


def help_text(templates: Sequence[ReportTemplate]) -> str:
    if not templates:
        return "There is no report you may run from Slack."
    lines = ["*Reports you may run* (`/export REPORT name=value ...`, or `/export` for a form):"]
    for template in templates:
        params = " ".join(f"{name}=…" if spec.required and spec.default is None else f"[{name}=…]" for name, spec in template.params.items())
        lines.append(f"• `{template.name}` {value_text(template.title)}: {value_text(template.description)} `{escape(params)}`".rstrip())
    return "\n".join(lines)


def accepted_text(template: ReportTemplate, params: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    title, shown, export_id = value_text(template.title), value_text(format_params(params)), escape(str(body.get("export_id")))
    if body.get("cached"):
        return f"*{title}* ({shown}) is ready from the cache: the link is in your direct messages. Export `{export_id}`."
    if body.get("deduplicated"):
        return f"*{title}* ({shown}) is already being built for someone: you will get the same file in your direct messages. Export `{export_id}`."
    return f"Queued *{title}* ({shown}): the file will arrive in your direct messages. Export `{export_id}`."


def error_text(exc: ExportServiceError) -> str:
    field = f" (`{escape(exc.field)}`)" if exc.field else ""
    return f":warning: {value_text(exc.message)}{field}"


def with_buttons(payload: Mapping[str, Any], export_id: str) -> dict[str, Any]:
    """The export's message plus Run again (same parameters, fresh data) and Change parameters."""
    actions = {
        "type": "actions",
        "block_id": "export_actions",
        "elements": [
            {"type": "button", "action_id": RUN_AGAIN, "text": plain("Run again"), "value": export_id, "style": "primary"},
            {"type": "button", "action_id": CHANGE_PARAMETERS, "text": plain("Change parameters"), "value": export_id},
        ],
    }
    return {**payload, "blocks": [*payload.get("blocks", []), actions]}


# views -------------------------------------------------------------------------------------------
def _metadata(report: str | None, channel_id: str) -> str:
    return json.dumps({"report": report, "channel": channel_id}, separators=(",", ":"))


def read_metadata(view: Mapping[str, Any]) -> tuple[str | None, str]:
    try:
        data = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        data = {}
    report = data.get("report") if isinstance(data, dict) else None
    channel = data.get("channel") if isinstance(data, dict) else None
    return (str(report) if report else None), str(channel or "")


def _report_picker(templates: Sequence[ReportTemplate], selected: str | None) -> dict[str, Any]:
    options = [_option(template.title, template.name, template.description) for template in templates[:_MAX_OPTIONS]]
    select: dict[str, Any] = {"type": "static_select", "action_id": PICK_REPORT, "placeholder": plain("Choose a report"), "options": options}
    chosen = next((option for option in options if option["value"] == selected), None)
    if chosen is not None:
        select["initial_option"] = chosen
    return {"type": "section", "block_id": REPORT_BLOCK, "text": {"type": "mrkdwn", "text": "*Report*"}, "accessory": select}


def _option(text: str, value: str, description: str = "") -> dict[str, Any]:
    option: dict[str, Any] = {"text": plain(text, _OPTION_TEXT), "value": value}
    if description:
        option["description"] = plain(description, _OPTION_TEXT)
    return option


def picker_view(templates: Sequence[ReportTemplate], channel_id: str) -> dict[str, Any]:
    """The modal ``/export`` opens: a report picker; choosing one replaces the view by its form."""
    blocks: list[dict[str, Any]] = [_report_picker(templates, None)]
    if not templates:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "There is no report you may run from Slack."}}]
    title = plain("Export a report", _TITLE)
    return {"type": "modal", "callback_id": FORM_CALLBACK, "title": title, "blocks": blocks, "private_metadata": _metadata(None, channel_id)}


def form_view(
    templates: Sequence[ReportTemplate],
    template: ReportTemplate,
    *,
    today: dt.date,
    prefill: Mapping[str, Any],
    export_format: str,
    channel_id: str,
) -> dict[str, Any]:
    """The report's parameter form, pre-filled from ``prefill`` (else the declared defaults)."""
    blocks = [_report_picker(templates, template.name)]
    if template.description:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(value_text(template.description), 2000), "verbatim": True}]})
    blocks += [parameter_block(spec, prefill.get(name), today) for name, spec in template.params.items()]
    blocks.append(format_block(export_format))
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": plain("Export a report", _TITLE),
        "submit": plain("Export"),
        "close": plain("Cancel"),
        "blocks": blocks,
        "private_metadata": _metadata(template.name, channel_id),
    }


def format_block(selected: str) -> dict[str, Any]:
    options = [_option(name, name) for name in FORMATS]
    initial = next(option for option in options if option["value"] == (selected if selected in FORMATS else "xlsx"))
    element = {"type": "static_select", "action_id": _VALUE, "options": options, "initial_option": initial}
    return {"type": "input", "block_id": FORMAT_BLOCK, "label": plain("File format"), "element": element}


def parameter_block(spec: ParameterSpec, prefill: Any, today: dt.date) -> dict[str, Any]:
    """One input block: the element for the declared type, initial value from prefill or default."""
    value = prefill if prefill not in (None, "", []) else spec.default
    block: dict[str, Any] = {
        "type": "input",
        "block_id": _PARAM_BLOCK + spec.name,
        "label": plain(spec.name.replace("_", " ").capitalize(), 2000),
        "element": _element(spec, value, today),
        "optional": not spec.required or spec.default is not None,
    }
    hint = _hint(spec)
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _hint(spec: ParameterSpec) -> str:
    parts = [spec.description] if spec.description else []
    if spec.is_list and spec.choices is None:
        parts.append(f"Several {spec.item_type} values, separated by commas.")
    if spec.type == "datetime":
        parts.append("YYYY-MM-DD HH:MM, or a relative date such as today-7d.")
    return " ".join(parts)


def _element(spec: ParameterSpec, value: Any, today: dt.date) -> dict[str, Any]:
    scalar = spec.item_type or spec.type
    if spec.choices is not None:
        return _select(spec, value)
    if spec.is_list:
        return _text_input(display_value(_as_list(value)) if value is not None else None, None, None)
    if scalar == "date":
        element: dict[str, Any] = {"type": "datepicker", "action_id": _VALUE}
        day = _initial_date(value, today)
        if day is not None:
            element["initial_date"] = day.isoformat()
        return element
    if scalar in ("integer", "decimal"):
        element = {"type": "number_input", "action_id": _VALUE, "is_decimal_allowed": scalar == "decimal"}
        for key, bound in (("min_value", spec.minimum), ("max_value", spec.maximum)):
            if bound is not None:
                element[key] = display_value(bound)
        if value is not None:
            element["initial_value"] = display_value(value)
        return element
    if scalar == "boolean":
        option = _option("Yes", "true")
        element = {"type": "checkboxes", "action_id": _VALUE, "options": [option]}
        if str(value).lower() == "true":
            element["initial_options"] = [option]
        return element
    return _text_input(None if value is None else display_value(value), spec.min_length, spec.max_length)


def _text_input(value: str | None, min_length: int | None, max_length: int | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": _VALUE}
    if max_length is not None:
        element["max_length"] = min(max_length, _TEXT_INPUT_MAX)
    if min_length:
        element["min_length"] = min_length
    if value is not None:
        element["initial_value"] = value
    return element


def _select(spec: ParameterSpec, value: Any) -> dict[str, Any]:
    assert spec.choices is not None
    options = [_option(str(choice), str(choice)) for choice in spec.choices[:_MAX_OPTIONS]]
    chosen = {str(item) for item in _as_list(value)} if value is not None else set()
    initial = [option for option in options if option["value"] in chosen]
    element: dict[str, Any] = {"type": "multi_static_select" if spec.is_list else "static_select", "action_id": _VALUE, "options": options}
    if spec.is_list and initial:
        element["initial_options"] = initial
    elif initial:
        element["initial_option"] = initial[0]
    return element


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return split_list_shorthand(value)
    return [value]


def _initial_date(value: Any, today: dt.date) -> dt.date | None:
    """A default such as ``yesterday`` resolved against the report's today; a date as itself.

    Read by the parameters' own date rule, so the picker shows what the export would use; a value
    that rule refuses leaves the picker empty (the submit then names the mistake beside the field)."""
    try:
        day = coerce_scalar("date", value, "date", today=today)
    except ParameterError:
        return None
    return day if isinstance(day, dt.date) else None


# reading a submitted form -------------------------------------------------------------------------
def submitted_values(view: Mapping[str, Any], template: ReportTemplate) -> tuple[dict[str, Any], str | None]:
    """The form's parameter values (text, lists, booleans as POST /exports takes them) and the format."""
    state = view.get("state", {}).get("values", {}) if isinstance(view.get("state"), Mapping) else {}
    params: dict[str, Any] = {}
    for name, spec in template.params.items():
        element = state.get(_PARAM_BLOCK + name, {}).get(_VALUE)
        value = _element_value(spec, element) if isinstance(element, Mapping) else None
        if value is not None:
            params[name] = value
    format_element = state.get(FORMAT_BLOCK, {}).get(_VALUE)
    export_format = _selected(format_element) if isinstance(format_element, Mapping) else None
    return params, export_format


def _selected(element: Mapping[str, Any]) -> str | None:
    option = element.get("selected_option")
    return str(option["value"]) if isinstance(option, Mapping) and "value" in option else None


def _element_value(spec: ParameterSpec, element: Mapping[str, Any]) -> Any:
    kind = element.get("type")
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "static_select":
        return _selected(element)
    if kind in ("multi_static_select", "checkboxes"):
        values = [str(option.get("value")) for option in element.get("selected_options") or [] if isinstance(option, Mapping)]
        if kind == "checkboxes":
            return "true" in values
        return values or None
    text = element.get("value")
    if text is None or not str(text).strip():
        return None
    return str(text)  # a list's "a, b" is split by resolve_parameters, as in a JSON request


def field_errors(exc: ExportServiceError, template: ReportTemplate | None) -> dict[str, str]:
    """Slack's ``response_action: errors`` map: the message next to the field it is about."""
    field = exc.field or ""
    name = field.removeprefix("params.").split("[", 1)[0]
    if template is not None and field.startswith("params.") and name in template.params:
        return {_PARAM_BLOCK + name: clip(exc.message, 150)}
    if field == "format":
        return {FORMAT_BLOCK: clip(exc.message, 150)}
    first_param = next(iter(template.params), None) if template is not None else None
    block = _PARAM_BLOCK + first_param if first_param else FORMAT_BLOCK
    return {block: clip(exc.message, 150)}


def allowed_templates(templates: Iterable[ReportTemplate], user_id: str, channel_id: str) -> list[ReportTemplate]:
    return [template for template in templates if refusal(template, user_id, channel_id) is None]


def refusal(template: ReportTemplate, user_id: str, channel_id: str) -> str | None:
    """Why this user in this channel may not run the report from Slack, or None if they may."""
    users, channels = template.options.slack_users, template.options.slack_channels
    if not users and not channels:
        return None
    if user_id in users or channel_id in channels:
        return None
    where = " or ".join(part for part in ("listed users" if users else "", "listed channels" if channels else "") if part)
    # Plain text: it is also an error beside a form field (plain_text there), and mrkdwn callers neutralise it.
    return f"{template.title} may only be run from Slack by its {where} (the report's slack_users / slack_channels)."
