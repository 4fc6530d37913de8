"""Export metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout.

CloudWatch Logs turns each EMF line a Lambda prints into metrics, so dashboards and alarms need no
log parsing and no PutMetricData call (no client, no network, no IAM permission on the hot path).
One line per finished export carries ``ExportsSucceeded``/``ExportsFailed`` (0 or 1, so a Sum is
a count and an Average a success rate), ``Rows``, ``Bytes``, ``Duration``, ``QueryTime`` and
``WriteTime``; one line per Slack delivery that failed carries ``SlackDeliveryFailures``. Every
metric exists per ``stage`` and ``report`` and per ``stage`` alone.

Building a record is pure (``emf_record``); ``emit`` writes it. The format is small and stable
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
so the standard library writes it; see observability.py for why Powertools is not used.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

DEFAULT_NAMESPACE = "ExcelExport"
_write_lock = threading.Lock()  # one whole line at a time, whichever worker thread writes
# Lambda turns stdout into the log, so EMF lines go there; the command line's stdout is what the
# user asked for, so it sends them to its log (stderr) instead. Looked up per line: tests swap streams.
_STDOUT: Callable[[], TextIO] = lambda: sys.stdout  # noqa: E731
_stream: Callable[[], TextIO] = _STDOUT


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str  # an EMF/CloudWatch unit: Count, Bytes, Seconds...


def namespace() -> str:
    return os.environ.get("METRICS_NAMESPACE", DEFAULT_NAMESPACE)


def emf_record(namespace: str, dimensions: Mapping[str, str], metrics: list[Metric], *, timestamp_ms: int) -> dict[str, Any]:
    """One EMF document: the metric values at the top level, described under ``_aws``."""
    names = list(dimensions)
    # Per (stage, report) for a report's dashboard, and per stage alone for service-wide alarms.
    dimension_sets = [names, names[:1]] if len(names) > 1 else [names]
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": metric.name, "Unit": metric.unit} for metric in metrics],
                }
            ],
        },
        **dimensions,
    }
    for metric in metrics:
        record[metric.name] = metric.value
    return record


def write_to(stream: Callable[[], TextIO] | None) -> None:
    """Where EMF lines go from now on (None: stdout, the Lambda log)."""
    global _stream
    _stream = stream or _STDOUT


def emit(dimensions: Mapping[str, str], metrics: list[Metric]) -> None:
    record = emf_record(namespace(), dimensions, metrics, timestamp_ms=int(time.time() * 1000))
    line = json.dumps(record, ensure_ascii=False)
    with _write_lock:
        stream = _stream()
        stream.write(line + "\n")
        stream.flush()


def export_succeeded(*, stage: str, report: str, rows: int, size_bytes: int, duration: float, query_time: float, write_time: float) -> None:
    emit(
        {"stage": stage, "report": report},
        [
            Metric("ExportsSucceeded", 1, "Count"),
            Metric("ExportsFailed", 0, "Count"),
            Metric("Rows", rows, "Count"),
            Metric("Bytes", size_bytes, "Bytes"),
            Metric("Duration", round(duration, 3), "Seconds"),
            Metric("QueryTime", round(query_time, 3), "Seconds"),
            Metric("WriteTime", round(write_time, 3), "Seconds"),
        ],
    )


def export_failed(*, stage: str, report: str, duration: float) -> None:
    emit(
        {"stage": stage, "report": report},
        [Metric("ExportsSucceeded", 0, "Count"), Metric("ExportsFailed", 1, "Count"), Metric("Duration", round(duration, 3), "Seconds")],
    )


def slack_delivery_failed(*, stage: str, report: str) -> None:
    emit({"stage": stage, "report": report}, [Metric("SlackDeliveryFailures", 1, "Count")])
