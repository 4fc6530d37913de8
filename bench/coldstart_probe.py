"""One fresh process of the cold-start benchmark (``bench/coldstart.py`` starts it under a CPU quota).

Run as a script so nothing of the benchmark's own package is imported before the clock starts:
``python bench/coldstart_probe.py MODE [REQUESTS_JSON]``. Modes:

- ``boto3`` / ``botocore``: the baselines, a bare ``import boto3`` / ``import botocore.session``;
- ``import``: ``import app`` alone;
- ``setup``: ``import app``, then each piece of first-request setup timed on its own (settings,
  the clients, the first S3 and Secrets Manager calls);
- ``requests``: ``import app``, then the given API Gateway requests through the Lambda handler
  (``app.app(event, context)``, the call Lambda makes); the first is the cold answer.
- ``routes``: the routes the app has (no clock), so the runner can skip a route that does not exist.

It prints one JSON line: seconds per step.
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402  (after the clock: the interpreter's own start is not what is measured)
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class LambdaContext:
    """The attributes of Lambda's Python context object that a handler may read (AWS docs, "Lambda context object in Python")."""

    function_name = "excel-export-bench-api_handler"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:excel-export-bench-api_handler"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/excel-export-bench-api_handler"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def api_gateway_event(request: dict[str, Any]) -> dict[str, Any]:
    """A REST API (v1) proxy event, shaped like the ones API Gateway sends and Chalice reads (chalice/app.py ``Request``)."""
    headers = {"Host": "bench.execute-api.ap-northeast-2.amazonaws.com", "X-Api-Key": "bench-fake-api-key", **request.get("headers", {})}
    return {
        "resource": request["resource"],
        "path": request["path"],
        "httpMethod": request["method"],
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": request.get("path_params") or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": request["resource"],
            "httpMethod": request["method"],
            "path": f"/api{request['path']}",
            "stage": "api",
            "apiId": "bench",
            "requestId": "bench-request",
            "identity": {"sourceIp": "127.0.0.1", "apiKey": "bench-fake-api-key"},
        },
        "body": request.get("body"),
        "isBase64Encoded": False,
    }


def timed(step: dict[str, float], name: str, action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    step[name] = time.perf_counter() - started
    return result


def run_requests(requests: list[dict[str, Any]]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    application = timed(steps, "import", lambda: __import__("app")).app
    context = LambdaContext()
    answers, statuses = [], []
    for request in requests:
        event = api_gateway_event(request)
        started = time.perf_counter()
        response = application(event, context)
        answers.append(time.perf_counter() - started)
        statuses.append(response["statusCode"])
    steps.update(cold=answers[0], warm=answers[1:], statuses=statuses, body=str(response.get("body", ""))[:160])
    return steps


def run_setup() -> dict[str, Any]:
    steps: dict[str, Any] = {}
    timed(steps, "import", lambda: __import__("app"))
    from chalicelib import aws, runtime
    from chalicelib.settings import get_settings

    settings = timed(steps, "settings", get_settings)
    jobs = timed(steps, "service objects", runtime.export_jobs)
    # ``.meta`` makes the client itself (aws.client hands out a stand-in that creates it on first use).
    s3 = timed(steps, "S3 client", lambda: aws.client("s3").meta and aws.client("s3"))
    timed(steps, "Secrets Manager client", lambda: aws.client("secretsmanager").meta)
    timed(steps, "Lambda client", lambda: aws.client("lambda").meta)
    timed(steps, "first S3 call (template listing)", jobs.storage.templates.names)
    timed(steps, "second S3 call (one template)", lambda: s3.get_object(Bucket=settings.bucket, Key=f"{settings.templates_prefix}orders_range.sql"))
    secret = settings.cloudfront_key_secret_name or settings.slack_secret_name
    timed(steps, "first Secrets Manager call", lambda: aws.client("secretsmanager").get_secret_value(SecretId=secret))
    return steps


def main() -> None:
    mode = sys.argv[1]
    if mode == "boto3":
        steps: dict[str, Any] = {}
        timed(steps, "import", lambda: __import__("boto3"))
    elif mode == "botocore":
        steps = {}
        timed(steps, "import", lambda: __import__("botocore.session"))
    elif mode == "import":
        steps = {}
        steps["app_file"] = timed(steps, "import", lambda: __import__("app")).__file__
        watched = ("boto3", "botocore", "jinja2", "yaml", "sqlglot", "rsa", "s3transfer", "urllib3")
        steps["modules"] = sorted(name for name in watched if name in sys.modules)
    elif mode == "setup":
        steps = run_setup()
    elif mode == "requests":
        steps = run_requests(json.loads(sys.argv[2]))
    elif mode == "routes":
        import app

        steps = {"routes": {path: sorted(entries) for path, entries in app.app.routes.items()}}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    steps["process"] = time.perf_counter() - STARTED
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
