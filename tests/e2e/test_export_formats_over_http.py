"""CSV and csv.gz exports over HTTP: asked for per request, or set in the report's header."""

from __future__ import annotations

import csv
import gzip
import io
import urllib.request
from typing import Any

import pytest

from devstack import stack
from tests.helpers import wait_for_export

pytestmark = pytest.mark.stack


def export(config: stack.StackConfig, body: dict[str, Any]) -> dict[str, Any]:
    code, accepted = stack.http_json("POST", f"{config.api_url}/exports", body)
    assert code == 202, accepted
    status = wait_for_export(config.api_url, accepted["export_id"])
    assert status["status"] == "succeeded", status
    return status


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read()), str(response.headers["Content-Type"])


def test_csv_gz_on_request_holds_the_same_rows_as_xlsx_in_utf8_with_bom(local_stack: stack.StackConfig) -> None:
    body = {"report": "orders_range", "params": {"date_from": "today-90d", "date_to": "tomorrow"}, "format": "csv.gz"}
    status = export(local_stack, body)
    assert status["format"] == "csv.gz" and status["file_name"].endswith(".csv.gz")
    data, content_type = fetch(status["download_url"])
    assert content_type == "application/gzip"
    text = gzip.decompress(data)
    assert text.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["Order", "Created", "Customer"]
    assert len(rows) - 1 == status["row_count"] == 3000
    memos = {row[-1] for row in rows[1:]}
    assert "'=SUM(A1:A9)" in memos and "주문 메모 ✅ 😀" in memos and "=SUM(A1:A9)" not in memos


def test_a_report_can_default_to_csv_and_a_request_can_still_ask_for_xlsx(local_stack: stack.StackConfig) -> None:
    s3 = stack.aws_client(local_stack, "s3")
    template = "{#---\ntitle: Big dump\nformat: csv\n---#}\nSELECT id AS `Order`, memo AS `Memo` FROM orders ORDER BY id\n"
    s3.put_object(Bucket=stack.BUCKET, Key="templates/big_dump.sql", Body=template.encode())
    try:
        as_csv = export(local_stack, {"report": "big_dump"})
        as_xlsx = export(local_stack, {"report": "big_dump", "format": "xlsx"})
    finally:
        s3.delete_object(Bucket=stack.BUCKET, Key="templates/big_dump.sql")
    data, content_type = fetch(as_csv["download_url"])
    assert as_csv["format"] == "csv" and content_type == "text/csv; charset=utf-8"
    assert data.startswith(b"\xef\xbb\xbfOrder,Memo\r\n1,")
    assert as_xlsx["format"] == "xlsx" and as_xlsx["file_name"].endswith(".xlsx")


@pytest.mark.parametrize("bad_format", ["xls", "CSV", 5, ["csv"]])
def test_an_unknown_format_is_a_400_naming_the_field(local_stack: stack.StackConfig, bad_format: Any) -> None:
    body = {"report": "sales_by_product", "format": bad_format}
    code, answer = stack.http_json("POST", f"{local_stack.api_url}/exports", body)
    assert code == 400
    assert answer["error"]["field"] == "format" and answer["error"]["code"] == "invalid_format"
