"""Chalice routes and the export worker: translate HTTP and Lambda events into chalicelib calls."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Request, Response

from chalicelib.errors import BadRequestError, ExportServiceError
from chalicelib.guards import remaining_time_of
from chalicelib.jobs import ExportJobs
from chalicelib.runtime import export_jobs
from chalicelib.templates import validate_report_name

app = Chalice(app_name="excel-export")
app.log.setLevel(logging.INFO)
logging.getLogger("chalicelib").setLevel(logging.INFO)


def error_response(exc: ExportServiceError) -> Response:
    return Response(body={"error": exc.to_dict()}, status_code=exc.status_code, headers={"Content-Type": "application/json"})


def answers_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the service's errors into JSON answers; Chalice would otherwise answer a bare 500."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ExportServiceError as exc:
            if exc.status_code >= 500:
                app.log.error("request failed: %s", exc.code)
            return error_response(exc)

    return wrapped


def jobs() -> ExportJobs:
    return export_jobs()


def json_body(request: Request) -> Any:
    raw = request.raw_body or b""
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}", field="body", code="malformed_json") from None


@app.route("/reports", methods=["GET"], api_key_required=True)
@answers_errors
def list_reports() -> dict[str, Any]:
    return {"reports": jobs().list_reports()}


@app.route("/reports/{name}", methods=["GET"], api_key_required=True)
@answers_errors
def describe_report(name: str) -> dict[str, Any]:
    return jobs().describe_report(validate_report_name(name, "name"))


@app.route("/exports", methods=["POST"], api_key_required=True, content_types=["application/json"])
@answers_errors
def create_export() -> Response:
    assert app.current_request is not None
    status = jobs().submit(json_body(app.current_request))
    body = {"export_id": status["export_id"], "status": status["status"], "status_url": f"/exports/{status['export_id']}"}
    return Response(body=body, status_code=202, headers={"Location": body["status_url"]})


@app.route("/exports/{export_id}", methods=["GET"], api_key_required=True)
@answers_errors
def export_status(export_id: str) -> dict[str, Any]:
    return jobs().public_status(export_id)


@app.lambda_function(name="export_worker")
def export_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    status = jobs().run(str(event.get("export_id", "")), remaining_time_of(context))
    return {"export_id": status["export_id"], "status": status["status"]}
