"""The Slack app: ``/export`` slash commands and interactions, answered through ``ExportJobs``.

Slack posts form-encoded bodies signed with the app's signing secret; nothing is read or run before
the signature and its timestamp (five minutes, against replays) are checked with slack_sdk's
``SignatureVerifier`` (https://docs.slack.dev/authentication/verifying-requests-from-slack). Then
the workspace must be the configured one and the report's ``slack_users`` / ``slack_channels``
(if set) must name the user or the channel. An export is asked for with the same
``ExportJobs.submit`` as ``POST /exports`` (validation, cache, single-flight, limits), with
``requested_by`` set here from the verified user, never from a body.

Slack waits 3 seconds for an answer (https://docs.slack.dev/interactivity/handling-user-interaction):
every handler only validates, records and dispatches; the query runs in the worker. The result goes
to the requester's DM with the bot (``deliver``, the worker's message hook), and to everyone who
asked for the same export while it ran (subscribers, recorded by the ledger under the state prefix).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.errors import BadRequestError, DeliveryError, ExportServiceError, NotFoundError
from chalicelib.exports import messages
from chalicelib.exports.lifecycle import ExportRecord, ExportState, utc_now
from chalicelib.exports.requests import MAX_BODY_BYTES  # any request's limit; Slack's payloads are a few KB
from chalicelib.exports.service import ExportJobs, Requester
from chalicelib.exports.slack_forms import (
    CHANGE_PARAMETERS,
    FORM_CALLBACK,
    PICK_REPORT,
    RUN_AGAIN,
    CommandText,
    accepted_text,
    allowed_templates,
    command_params,
    ephemeral,
    error_text,
    field_errors,
    form_view,
    help_text,
    missing_required,
    parse_command_text,
    picker_view,
    read_metadata,
    refusal,
    submitted_values,
    with_buttons,
)
from chalicelib.observability import log_event
from chalicelib.secrets import SlackAppCredentials
from chalicelib.slack_web import SlackWebApi
from chalicelib.templating.template import ReportTemplate

logger = logging.getLogger(__name__)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds in ASCII digits (str.isdigit takes any Unicode digit)


class SlackSignatureError(ExportServiceError):
    status_code = 401
    code = "invalid_signature"


@dataclass(frozen=True)
class SlackAnswer:
    """What the endpoint answers Slack: 200 with a JSON body, or an empty 200 (acknowledged)."""

    body: dict[str, Any] | None = None
    status_code: int = 200


@dataclass(frozen=True)
class SlackUser:
    user_id: str
    name: str
    team_id: str
    channel_id: str

    @property
    def requester(self) -> Requester:
        requested_by = f"slack:{self.user_id} ({self.name})"[:100]
        return Requester(requested_by=requested_by, notify_slack_user=self.user_id, slack_channel=self.channel_id or None)


class SlackApp:
    def __init__(self, jobs: ExportJobs, team_id: str, credentials: Callable[[], SlackAppCredentials], web: SlackWebApi) -> None:
        self.jobs = jobs
        self.team_id = team_id
        self._credentials = credentials
        self.web = web

    # verification --------------------------------------------------------------------------------
    def verified_form(self, raw_body: bytes | str, headers: Mapping[str, str]) -> dict[str, str]:
        """The request's form fields, after Slack's signature and timestamp are checked (401 otherwise)."""
        from slack_sdk.signature import SignatureVerifier  # the Slack path only (cold start)

        raw_body = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
        timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        if not timestamp or not _TIMESTAMP.fullmatch(timestamp) or not signature or len(raw_body) > MAX_BODY_BYTES:
            raise SlackSignatureError("missing or malformed Slack signature headers", field="X-Slack-Signature")
        try:
            body = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise SlackSignatureError("the body is not UTF-8", field="body") from None
        if not SignatureVerifier(self._credentials().signing_secret).is_valid(body, timestamp, signature):
            raise SlackSignatureError("the Slack signature does not match, or its timestamp is more than five minutes off", field="X-Slack-Signature")
        return {name: values[0] for name, values in urllib.parse.parse_qs(body, keep_blank_values=True).items()}

    def _foreign(self, team_id: str) -> bool:
        return not self.team_id or team_id != self.team_id

    # the slash command ---------------------------------------------------------------------------
    def command(self, raw_body: bytes | str, headers: Mapping[str, str]) -> SlackAnswer:
        form = self.verified_form(raw_body, headers)
        user = SlackUser(form.get("user_id", ""), form.get("user_name", ""), form.get("team_id", ""), form.get("channel_id", ""))
        if self._foreign(user.team_id):
            log_event("slack_refused", "Slack request from another workspace refused", team_id=user.team_id)
            return SlackAnswer(ephemeral(":no_entry: This export service answers one Slack workspace only; this is not it."))
        try:
            return self._command(parse_command_text(form.get("text", "")), user, form.get("trigger_id", ""))
        except ExportServiceError as exc:
            if exc.status_code >= 500:
                logger.warning("Slack command failed", extra={"error_code": exc.code})
            return SlackAnswer(ephemeral(error_text(exc)))

    def _command(self, command: CommandText, user: SlackUser, trigger_id: str) -> SlackAnswer:
        if command.kind == "help":
            return SlackAnswer(ephemeral(help_text(allowed_templates(self._templates(), user.user_id, user.channel_id))))
        if command.kind == "form":
            templates = allowed_templates(self._templates(), user.user_id, user.channel_id)
            return self._open(trigger_id, picker_view(templates, user.channel_id))
        assert command.report is not None
        template = self.jobs.pipeline.load_template(command.report)
        why_not = refusal(template, user.user_id, user.channel_id)
        if why_not:
            return SlackAnswer(ephemeral(f":no_entry: {messages.value_text(why_not)}"))
        pairs = [pair for pair in command.pairs if not (pair.startswith("format=") and "format" not in template.params)]
        export_format = next((pair.partition("=")[2] for pair in command.pairs if pair not in pairs), None)
        params = command_params(CommandText("run", command.report, tuple(pairs)), template)
        if missing_required(template, params):
            return self._open(trigger_id, self._form(template, params, export_format, user.channel_id))
        try:
            text = self.submit(template, params, export_format, user)
        except BadRequestError as exc:
            # Not valid as typed: the form opens pre-filled, and the reason is shown beside it.
            self._open(trigger_id, self._form(template, params, export_format, user.channel_id))
            return SlackAnswer(ephemeral(error_text(exc)))
        return SlackAnswer(ephemeral(text))

    def _open(self, trigger_id: str, view: dict[str, Any]) -> SlackAnswer:
        try:
            self.web.open_view(trigger_id, view)
        except DeliveryError as exc:
            log_event("slack_view_failed", "views.open failed", level=logging.WARNING, error_code=exc.code)
            return SlackAnswer(ephemeral(f":warning: The form could not be opened ({exc.code.removeprefix('slack_')}); run /export again."))
        return SlackAnswer()

    def _templates(self) -> list[ReportTemplate]:
        # Read in parallel: the picker and help must answer inside Slack's 3 seconds, and one S3
        # read per template in a row would not, with dozens of reports.
        with ThreadPoolExecutor(max_workers=8) as pool:
            loaded = list(pool.map(self._template_or_none, self.jobs.storage.templates.names()))
        return [template for template in loaded if template is not None]

    def _template_or_none(self, name: str) -> ReportTemplate | None:
        try:
            return self.jobs.pipeline.load_template(name)
        except ExportServiceError:
            return None  # a broken template is reported by GET /reports and `reports check`, not offered here

    def _form(self, template: ReportTemplate, prefill: Mapping[str, Any], export_format: str | None, channel_id: str) -> dict[str, Any]:
        today = self.jobs.pipeline.report_today(template, utc_now())  # the day resolve() gives "today"
        chosen = export_format or template.options.format or "xlsx"
        templates = [template] + [other for other in self._templates() if other.name != template.name]
        return form_view(templates, template, today=today, prefill=prefill, export_format=chosen, channel_id=channel_id)

    # one code path with POST /exports --------------------------------------------------------------
    def submit(
        self, template: ReportTemplate, params: Mapping[str, Any], export_format: str | None, user: SlackUser, *, refresh: bool = False
    ) -> str:
        """Ask for the export as POST /exports would; the text of the requester's "queued" note."""
        body: dict[str, Any] = {"report": template.name, "params": dict(params), "refresh": refresh}
        if export_format:
            body["format"] = export_format
        answer = self.jobs.submit(body, requester=user.requester).body
        export_id = str(answer["export_id"])
        requested_by = user.requester.requested_by
        log_event("slack_requested", "export asked for from Slack", export_id=export_id, report=template.name, requested_by=requested_by)
        if answer.get("cached"):
            self._deliver_now(export_id, user.user_id)
        elif answer.get("deduplicated"):
            self._subscribe(export_id, user.user_id)
        return accepted_text(template, params, answer)

    # interactions ----------------------------------------------------------------------------------
    def interaction(self, raw_body: bytes | str, headers: Mapping[str, str]) -> SlackAnswer:
        form = self.verified_form(raw_body, headers)
        try:
            payload = json.loads(form.get("payload", ""))
        except ValueError:
            raise BadRequestError("the interaction has no JSON payload", field="payload") from None
        if not isinstance(payload, dict):
            raise BadRequestError("the interaction payload is not an object", field="payload")
        user = _interaction_user(payload)
        if self._foreign(user.team_id):
            log_event("slack_refused", "Slack interaction from another workspace refused", team_id=user.team_id)
            return SlackAnswer()
        if payload.get("type") == "view_submission" and payload.get("view", {}).get("callback_id") == FORM_CALLBACK:
            return self._submitted(payload["view"], user)
        if payload.get("type") == "block_actions":
            for action in payload.get("actions") or []:
                self._action(action, payload, user)
        return SlackAnswer()

    def _action(self, action: Mapping[str, Any], payload: Mapping[str, Any], user: SlackUser) -> None:
        action_id = action.get("action_id")
        try:
            if action_id == PICK_REPORT:
                self._picked(str(action.get("selected_option", {}).get("value", "")), payload, user)
            elif action_id in (RUN_AGAIN, CHANGE_PARAMETERS):
                self._button(str(action_id), str(action.get("value", "")), str(payload.get("trigger_id", "")), user)
        except ExportServiceError as exc:
            self._note(user, error_text(exc))

    def _picked(self, report: str, payload: Mapping[str, Any], user: SlackUser) -> None:
        view = payload.get("view") or {}
        _, channel_id = read_metadata(view)  # the channel /export was typed in, kept by the modal
        user = replace(user, channel_id=channel_id or user.channel_id)
        template = self.jobs.pipeline.load_template(report)
        why_not = refusal(template, user.user_id, user.channel_id)
        if why_not:
            raise BadRequestError(why_not, field="report")
        self.web.update_view(str(view.get("id", "")), self._form(template, {}, None, user.channel_id), str(view.get("hash") or "") or None)

    def _button(self, action_id: str, export_id: str, trigger_id: str, user: SlackUser) -> None:
        record = self.jobs.record(export_id)
        template = self.jobs.pipeline.load_template(record.report)
        why_not = refusal(template, user.user_id, user.channel_id)
        asked_in = record.slack_channel or ""
        asker = user
        if why_not and asked_in and refusal(template, user.user_id, asked_in) is None and self._was_sent(export_id, user.user_id):
            # A button in the DM the export was sent to, asked for in an allowed channel: as if pressed there.
            why_not, asker = None, replace(user, channel_id=asked_in)
        if why_not:
            raise BadRequestError(why_not, field="report")
        params = {name: value for name, value in record.params.items() if value is not None}
        if action_id == CHANGE_PARAMETERS:
            self.web.open_view(trigger_id, self._form(template, params, record.format, asker.channel_id))
            return
        self._note(user, self.submit(template, params, record.format, asker, refresh=True))

    def _submitted(self, view: Mapping[str, Any], user: SlackUser) -> SlackAnswer:
        report, channel_id = read_metadata(view)
        user = replace(user, channel_id=channel_id or user.channel_id)
        template: ReportTemplate | None = None
        try:
            template = self.jobs.pipeline.load_template(report or "")
            why_not = refusal(template, user.user_id, user.channel_id)
            if why_not:
                raise BadRequestError(why_not, field="report")
            params, export_format = submitted_values(view, template)
            text = self.submit(template, params, export_format, user)
        except ExportServiceError as exc:
            # Even a failure of ours is shown in the form (Slack would show a generic error otherwise).
            if exc.status_code >= 500:
                logger.warning("Slack form submission failed", extra={"error_code": exc.code})
            return SlackAnswer({"response_action": "errors", "errors": field_errors(exc, template)})
        self._note(user, text)
        return SlackAnswer({"response_action": "clear"})

    def _note(self, user: SlackUser, text: str) -> None:
        """An ephemeral note where the user is; their DM with the bot if that channel refuses it."""
        try:
            if not user.channel_id:
                raise DeliveryError("no channel", transient=False)
            self.web.post_ephemeral(user.channel_id, user.user_id, text)
        except DeliveryError:
            try:
                self.web.post_direct_message(user.user_id, {"text": text})
            except DeliveryError as exc:
                log_event("slack_note_failed", "the requester's note could not be delivered", level=logging.WARNING, error_code=exc.code)

    # delivering results ------------------------------------------------------------------------------
    def deliver(self, status: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
        """The worker's message hook: DM the requester and the subscribers; True when no webhook is wanted."""
        export_id = str(status["export_id"])
        owner = status.get("notify_slack_user")
        users = ([str(owner)] if owner else []) + self._subscribers(export_id)
        failures = self._send(export_id, users, with_buttons(payload, export_id))
        if owner and failures:
            raise failures[0]  # recorded on the export (notify_error); the file stays downloadable
        return bool(owner)

    def _send(self, export_id: str, users: list[str], message: Mapping[str, Any]) -> list[DeliveryError]:
        failures = []
        for user_id in dict.fromkeys(users):
            if not self._claim_delivery(export_id, user_id):
                continue
            try:
                self.web.post_direct_message(user_id, message)
                log_event("slack_dm", "result sent as a direct message", export_id=export_id, slack_user=user_id)
            except DeliveryError as exc:
                log_event("slack_dm_failed", "direct message not delivered", level=logging.WARNING, export_id=export_id, error_code=exc.code)
                failures.append(exc)
        return failures

    def _claim_delivery(self, export_id: str, user_id: str) -> bool:
        # A conditional create: one caller wins (the record store serialises the local endpoint's).
        return self.jobs.ledger.claim_delivery(export_id, user_id)

    def _was_sent(self, export_id: str, user_id: str) -> bool:
        return self.jobs.ledger.was_delivered(export_id, user_id)

    def _subscribers(self, export_id: str) -> list[str]:
        return self.jobs.ledger.subscribers(export_id)

    def _subscribe(self, export_id: str, user_id: str) -> None:
        """Someone asked for an export already in flight: they get its message too.

        Written before the status is read: if the export has not finished by then, the worker lists
        subscribers after finishing and sees this one; if it has, we send it (the delivery marker
        makes sure only one of the two does).
        """
        self.jobs.ledger.subscribe(export_id, user_id)
        if self.jobs.record(export_id).state.finished:
            self._deliver_now(export_id, user_id)

    def _deliver_now(self, export_id: str, user_id: str) -> None:
        try:
            record = self.jobs.record(export_id)
            failures = self._send(export_id, [user_id], with_buttons(self._message(record), export_id))
        except (DeliveryError, NotFoundError) as exc:
            failures = [exc] if isinstance(exc, DeliveryError) else []
        if failures:
            logger.warning("cached result not delivered", extra={"export_id": export_id, "error_code": failures[0].code})

    def _message(self, record: ExportRecord) -> dict[str, Any]:
        # The worker's message (ExportWorker.message) for a finished export whose file is still
        # there; one whose file is gone (retention) says so.
        if record.state is ExportState.SUCCEEDED and self.jobs.public_status(record.export_id).get("download_url"):
            return self.jobs.worker.message(record)[1]
        if record.state is ExportState.FAILED:
            return self.jobs.worker.message(record)[1]
        status = record.to_json()
        return messages.failure_message({**status, "error": {"code": "expired", "message": "the file is gone; ask for a new export"}})


def _interaction_user(payload: Mapping[str, Any]) -> SlackUser:
    user = payload.get("user") or {}
    team = payload.get("team") or {}
    channel = payload.get("channel") or {}
    return SlackUser(
        user_id=str(user.get("id", "")),
        name=str(user.get("username") or user.get("name") or ""),
        team_id=str(team.get("id") or user.get("team_id") or ""),
        channel_id=str(channel.get("id", "")),
    )
