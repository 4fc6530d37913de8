"""Chalice routes and the export worker: translate HTTP and Lambda events into chalicelib calls."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Request, Response, SQSEvent

from chalicelib.errors import ExportServiceError, MethodNotAllowedError
from chalicelib.exports.requests import parse_json_body
from chalicelib.exports.service import ExportJobs, history_query
from chalicelib.exports.urls import api_base_url
from chalicelib.files.guards import remaining_time_of
from chalicelib.observability import configure_logging
from chalicelib.runtime import export_jobs, slack_app
from chalicelib.templating.template import validate_report_name

if TYPE_CHECKING:
    from chalicelib.exports.slack_commands import SlackAnswer

app = Chalice(app_name="excel-export")
configure_logging(app.log)
# Chalice answers a Content-Type it was not told about with its own 415 body before our code runs;
# every route accepts any type so the answer (and its JSON shape) is always ours.
ANY_CONTENT_TYPE = ["*/*"]
# The worker's on-failure queue (infra/templates/alarms.yaml names it so). `chalice package` writes
# the name into a Fn::Sub, so the stack's own AppName and Stage parameters fill it in.
WORKER_FAILURE_QUEUE = "${AppName}-${Stage}-worker-failures"


def error_response(exc: ExportServiceError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if exc.status_code == 503:
        headers["Retry-After"] = "1"  # nothing was left half done: the same request may simply be sent again
    return Response(body={"error": {**exc.to_dict(), "retry": exc.status_code == 503}}, status_code=exc.status_code, headers=headers)


def answers_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the service's errors into JSON answers; Chalice would otherwise answer a bare 500."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ExportServiceError as exc:
            level = logging.ERROR if exc.status_code >= 500 else logging.INFO
            app.log.log(level, "request refused", extra={"status_code": exc.status_code, "error_code": exc.code, "field": exc.field})
            return error_response(exc)
        except Exception:  # Chalice's own 500 body is not our error shape; the traceback stays in the log
            app.log.exception("request failed unexpectedly")
            return error_response(ExportServiceError("the request failed unexpectedly; see the service logs"))

    return wrapped


def jobs() -> ExportJobs:
    return export_jobs()


def current_request() -> Request:
    assert app.current_request is not None
    return app.current_request


def json_body(request: Request) -> Any:
    return parse_json_body(request.raw_body, request.headers.get("content-type"))


@app.route("/reports", methods=["GET"], api_key_required=True, content_types=ANY_CONTENT_TYPE)
@answers_errors
def list_reports() -> dict[str, Any]:
    return {"reports": jobs().list_reports()}


@app.route("/reports/{name}", methods=["GET"], api_key_required=True, content_types=ANY_CONTENT_TYPE)
@answers_errors
def describe_report(name: str) -> dict[str, Any]:
    # The same field as the unknown_report answer and POST /exports: the segment names a report.
    return jobs().describe_report(validate_report_name(name, "report"))


@app.route("/exports", methods=["POST"], api_key_required=True, content_types=ANY_CONTENT_TYPE)
@answers_errors
def create_export() -> Response:
    request = current_request()
    submission = jobs().submit(json_body(request), idempotency_key=request.headers.get("idempotency-key"))
    status_url = api_base_url(request.context, request.headers) + submission.body["status_url"]
    return Response(body={**submission.body, "status_url": status_url}, status_code=submission.status_code, headers={"Location": status_url})


@app.route("/exports", methods=["GET"], api_key_required=True, content_types=ANY_CONTENT_TYPE)
@answers_errors
def list_exports() -> dict[str, Any]:
    report, limit = history_query(current_request().query_params or {})
    return {"exports": jobs().history(report, limit)}


@app.route("/exports/{export_id}", methods=["GET"], api_key_required=True, content_types=ANY_CONTENT_TYPE)
@answers_errors
def export_status(export_id: str) -> dict[str, Any]:
    return jobs().public_status(export_id)


# Slack's two request URLs (infra/slack/app-manifest.yaml): no API key, Slack's signature instead,
# checked before anything else (chalicelib/exports/slack_commands.py). The Slack modules load on first use.
@app.route("/slack/commands", methods=["POST"], content_types=ANY_CONTENT_TYPE)
@answers_errors
def slack_command() -> Response:
    request = current_request()
    return slack_response(slack_app().command(request.raw_body, request.headers))


@app.route("/slack/interactions", methods=["POST"], content_types=ANY_CONTENT_TYPE)
@answers_errors
def slack_interaction() -> Response:
    request = current_request()
    return slack_response(slack_app().interaction(request.raw_body, request.headers))


def slack_response(answer: SlackAnswer) -> Response:
    if answer.body is None:
        return Response(body="", status_code=answer.status_code, headers={"Content-Type": "text/plain"})
    return Response(body=answer.body, status_code=answer.status_code, headers={"Content-Type": "application/json"})


# Chalice answers a method a path lacks with its own body ({"Code": "MethodNotAllowedError"}); these
# routes make that answer ours. Registered after the real routes (the Slack ones included), so each
# path's methods are known; a path keeps its own key rule (Slack's paths take none, Slack signs instead).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _refuse_other_methods(path: str, view_name: str) -> None:
    allowed = sorted(app.routes[path])
    api_key_required = any(entry.api_key_required for entry in app.routes[path].values())
    others = [method for method in _METHODS if method not in allowed]

    def method_not_allowed(**_segments: str) -> Response:
        method = current_request().method
        exc = MethodNotAllowedError(f"{path} does not take {method}; allowed: {', '.join(allowed)}", field="method")
        return Response(body={"error": exc.to_dict()}, status_code=405, headers={"Content-Type": "application/json", "Allow": ", ".join(allowed)})

    app.route(path, methods=others, name=view_name, api_key_required=api_key_required, content_types=ANY_CONTENT_TYPE)(method_not_allowed)


for _path, _name in (
    ("/reports", "reports_other_methods"),
    ("/reports/{name}", "report_other_methods"),
    ("/exports", "exports_other_methods"),
    ("/exports/{export_id}", "export_other_methods"),
    ("/slack/commands", "slack_command_other_methods"),
    ("/slack/interactions", "slack_interaction_other_methods"),
):
    _refuse_other_methods(_path, _name)


@app.lambda_function(name="export_worker")
def export_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    record = jobs().worker.run(str(event.get("export_id", "")), remaining_time_of(context))
    return {"export_id": record.export_id, "status": record.state.value}


# The worker's on-failure destination (infra/templates/alarms.yaml): Lambda sends an invocation
# it gave up on (retries spent, event too old) to this queue; each record fails its export once.
@app.on_sqs_message(queue=WORKER_FAILURE_QUEUE, batch_size=1, name="worker_failures")
def worker_failures(event: SQSEvent) -> None:
    for message in event:
        jobs().worker.handle_failed_invocation(json.loads(message.body))
