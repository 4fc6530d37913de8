"""Every .xlsx writer writes what the XlsxWriter reference writer writes (tests/conformance.py).

The rows are server text, exactly as the export's cursor hands them over with pymysql's decoders
off (chalicelib/database.py); the reference writer decodes them the stock pymysql way first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.cells import EXCEL_MAX_STRING, TRUNCATION_MARKER
from chalicelib.files.fastbook import SheetLimitReached, fast_writer_can_write
from chalicelib.files.workbook import SheetLayout
from chalicelib.templating.options import ColumnFormat
from tests.conformance import WRITERS, differences, read_book, spec_differences, text_source, write_with

HOSTILE_COLUMNS = [
    Column("id", FIELD_TYPE.LONGLONG, 0, length=20),
    Column("small", FIELD_TYPE.LONG, 0),
    Column("money", FIELD_TYPE.NEWDECIMAL, 4, length=32),
    Column("price", FIELD_TYPE.NEWDECIMAL, 2, length=12),
    Column("ratio", FIELD_TYPE.DOUBLE, 31),
    Column("single", FIELD_TYPE.FLOAT, 31),
    Column("day", FIELD_TYPE.DATE, 0),
    Column("moment", FIELD_TYPE.DATETIME, 6),
    Column("stamp", FIELD_TYPE.TIMESTAMP, 0),
    Column("took", FIELD_TYPE.TIME, 6),
    Column("flags", FIELD_TYPE.BIT, 0),  # bytes from the server, but not a string type: database.describe_columns
    Column("text", FIELD_TYPE.VAR_STRING, 0),
    Column("raw", FIELD_TYPE.BLOB, 0, binary=True),
    Column("doc", FIELD_TYPE.JSON, 0),
    Column("yr", FIELD_TYPE.YEAR, 0),
]
TEXTS = [
    "=SUM(A1:A2)",
    '=HYPERLINK("http://x.invalid","x")',
    "+82-10-1234-5678",
    "-1",
    "@channel",
    "\tTab",
    "\rCR",
    "{=A1}",
    "https://example.invalid/a?b=c",
    "mailto:someone@example.invalid",
    "김민준 😀 ✅",
    "",
    " leading space",
    "trailing space ",
    "line\nbreak",
    "<b>&amp;</b>",
    "0123",
    "1e5",
    "TRUE",
    "#N/A",
    "x" * EXCEL_MAX_STRING,
    "y" * (EXCEL_MAX_STRING + 1),
    "😀" * (EXCEL_MAX_STRING // 2 + 1),
    "z" * 100_000,
]
INTEGERS = [
    "0",
    "-1",
    "2147483647",
    str(2**53 - 1),
    str(-(2**53) + 1),
    str(2**53),
    str(-(2**53)),
    str(2**63 - 1),
    str(-(2**63)),
    "18446744073709551615",
]
DECIMALS = ["0.0000", "-0.5000", "12345678901.2345", "123456789012.3456", "99999999999999999999999999.9999", "-1234.5000", "0.0001"]
DAYS = ["1000-01-01", "1899-12-31", "1900-01-01", "1900-02-28", "1900-03-01", "2026-01-02", "9999-12-31", "0000-00-00", "2026-00-00"]
MOMENTS = [
    "1000-01-01 00:00:00.000000",
    "1899-12-31 23:59:59.999999",
    "1900-01-01 00:00:00.000000",
    "1900-02-28 12:00:00.500000",
    "1900-03-01 00:00:00.000001",
    "2026-01-02 03:04:05.123456",
    "9999-12-31 23:59:59.999999",
    "0000-00-00 00:00:00.000000",
]
TIMES = ["00:00:00.000000", "26:03:00.500000", "838:59:59.000000", "-838:59:59.000000", "-00:00:01.000000", "-00:00:00.500000", "12:00:00.000001"]
FLOATS = ["0", "0.1", "-2.25", "1e300", "-1e-300", "1.7976931348623157e308", "5e-324", "123456789012345680000"]
BITS = [b"\x00", b"\x01", b"\x02\xaa", b"\xff" * 8]
RAWS = [b"", b"\x00\xff", b"\x01" * 64, b"\x02" * 65]


def hostile_rows() -> list[tuple[Any, ...]]:
    longest = max(len(TEXTS), len(INTEGERS), len(DECIMALS), len(DAYS), len(MOMENTS), len(TIMES), len(FLOATS))

    def pick(values: Sequence[Any], index: int) -> Any:
        return values[index % len(values)]

    rows: list[tuple[Any, ...]] = [
        (
            pick(INTEGERS, i),
            str(i - 5),
            pick(DECIMALS, i),
            f"{i * 1.25:.2f}",
            pick(FLOATS, i),
            pick(FLOATS, i + 3),
            pick(DAYS, i),
            pick(MOMENTS, i),
            pick(MOMENTS, i + 2)[:19],
            pick(TIMES, i),
            pick(BITS, i),
            pick(TEXTS, i),
            pick(RAWS, i),
            '{"a": [1, "=x"]}',
            "2026",
        )
        for i in range(longest)
    ]
    rows.append((None,) * len(HOSTILE_COLUMNS))
    return rows


def both(tmp_path: Path, make_sources: Any, **options: Any) -> dict[str, Path]:
    paths = {}
    for engine in WRITERS:
        path = tmp_path / f"{engine}.xlsx"
        write_with(engine, path, make_sources(), **options)
        paths[engine] = path
    return paths


# 9999-12-31 23:59:59.999999 is serial 2958465.99999999: openpyxl reads it back as an error, and says so.
@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date but the serial value:UserWarning")
def test_the_hostile_sample_lands_the_same_in_every_writer(tmp_path: Path) -> None:
    rows = hostile_rows()
    paths = both(tmp_path, lambda: [text_source("Hostile", HOSTILE_COLUMNS, rows)])
    reference, fast = read_book(paths["xlsxwriter"]), read_book(paths["rustpy-xlsxwriter"])
    assert differences(reference, fast) == []
    cells = fast[0].cells
    assert len(cells) > 300  # the comparison saw every cell, not an empty sheet
    text_column = [c.name for c in HOSTILE_COLUMNS].index("text") + 1
    long_cells = [value for (row, col), (value, _t, _f) in cells.items() if col == text_column and len(str(value)) > 30_000]
    assert long_cells and all(len(value) <= EXCEL_MAX_STRING for value in long_cells)
    assert any(str(value).endswith(TRUNCATION_MARKER) for value in long_cells)
    assert fast[0].noted_columns == {1, 3, 11}  # BIGINT and BIT beyond 2^53, DECIMAL beyond 15 digits: kept as text


def test_a_value_the_fast_writer_would_refuse_never_aborts_the_file(tmp_path: Path) -> None:
    # Fed raw, rustpy-xlsxwriter aborts the whole file on text over 32,767 characters or a date
    # before 1900 (FACTS.md): converted first, each is a cell like any other.
    columns = [Column("text", FIELD_TYPE.VAR_STRING, 0), Column("day", FIELD_TYPE.DATE, 0), Column("moment", FIELD_TYPE.DATETIME, 0)]
    rows = [("a" * 40_000, "1000-01-01", "1899-12-31 23:59:59")]
    engine = write_with("rustpy-xlsxwriter", tmp_path / "x.xlsx", [text_source("S", columns, rows)])
    assert engine == "rustpy-xlsxwriter"
    cells = read_book(tmp_path / "x.xlsx")[0].cells
    assert cells[(2, 2)][0] == "1000-01-01" and cells[(2, 3)][0] == "1899-12-31 23:59:59"
    assert str(cells[(2, 1)][0]).endswith(TRUNCATION_MARKER)


LAYOUT_COLUMNS = [
    Column("Order id", FIELD_TYPE.LONGLONG, 0),
    Column("Amount", FIELD_TYPE.NEWDECIMAL, 2, length=12),
    Column("Created", FIELD_TYPE.DATETIME, 0),
    Column("Shipped", FIELD_TYPE.DATE, 0),
    Column("Took", FIELD_TYPE.TIME, 0),
    Column("Customer", FIELD_TYPE.VAR_STRING, 0),
    Column("Share", FIELD_TYPE.DOUBLE, 31),
]
LAYOUT_ROWS = [
    (str(i), f"{i}.50", f"2026-01-{1 + i % 28:02d} 10:00:00", None if i % 4 else "2026-02-01", "01:30:00", f"고객 {i}" * (1 + i % 3), str(i / 7))
    for i in range(40)
]
LAYOUTS = {
    "default": SheetLayout(),
    "no freeze, no filter": SheetLayout(freeze_header=False, autofilter=False),
    "frozen at a cell": SheetLayout(freeze_cell="C3"),
    "formats and widths": SheetLayout(
        columns={"Amount": ColumnFormat(number_format="0.000"), "Customer": ColumnFormat(width=33), "Share": ColumnFormat(number_format="0.0%")}
    ),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layouts_the_fast_writer_takes_match_the_reference(tmp_path: Path, name: str) -> None:
    layout = LAYOUTS[name]
    assert fast_writer_can_write([layout])
    paths = both(tmp_path, lambda: [text_source("Orders", LAYOUT_COLUMNS, LAYOUT_ROWS, layout)])
    assert differences(read_book(paths["xlsxwriter"]), read_book(paths["rustpy-xlsxwriter"])) == []


@pytest.mark.parametrize(
    "engine",
    ["rustpy-xlsxwriter", "xlsxwriter"],
)
def test_every_writer_follows_the_layout_spec(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "spec.xlsx"
    write_with(engine, path, [text_source("Orders", LAYOUT_COLUMNS, LAYOUT_ROWS)], export_id="20261201-101010-0123456789")
    assert spec_differences(read_book(path), export_id="20261201-101010-0123456789", visible_columns=len(LAYOUT_COLUMNS)) == []
    narrow = tmp_path / "narrow.xlsx"
    write_with(engine, narrow, [text_source("Orders", LAYOUT_COLUMNS[:3], [row[:3] for row in LAYOUT_ROWS])], export_id="20261201-101010-0123456789")
    assert spec_differences(read_book(narrow), export_id="20261201-101010-0123456789", visible_columns=3) == []


@pytest.mark.parametrize(
    "layout",
    [SheetLayout(title="Orders (from: 2026-01-01)"), SheetLayout(columns={"Customer": ColumnFormat(hidden=True)})],
    ids=["title row", "hidden column"],
)
def test_layouts_the_fast_writer_cannot_honour_go_to_the_reference(tmp_path: Path, layout: SheetLayout) -> None:
    assert not fast_writer_can_write([layout])
    assert not fast_writer_can_write([SheetLayout(), SheetLayout()])  # several sheets: its sheet list is fixed up front


def test_duplicate_column_names_and_empty_results_go_to_the_reference(tmp_path: Path) -> None:
    duplicated = [Column("x", FIELD_TYPE.LONG, 0), Column("x", FIELD_TYPE.LONG, 0)]
    paths = both(tmp_path, lambda: [text_source("S", duplicated, [("1", "2")])])
    assert write_with("rustpy-xlsxwriter", tmp_path / "d.xlsx", [text_source("S", duplicated, [("1", "2")])]) == "xlsxwriter"
    assert differences(read_book(paths["xlsxwriter"]), read_book(tmp_path / "d.xlsx")) == []
    assert write_with("rustpy-xlsxwriter", tmp_path / "e.xlsx", [text_source("S", LAYOUT_COLUMNS, [])]) == "xlsxwriter"
    assert read_book(tmp_path / "e.xlsx")[0].cells[(1, 1)][0] == "Order id"  # the header is there with no rows


def test_past_the_row_limit_the_fast_writer_hands_over(tmp_path: Path) -> None:
    # The pipeline catches this and writes the file again with the reference writer, which splits
    # (tests/functional/test_mysql_types.py runs that end to end).
    with pytest.raises(SheetLimitReached):
        write_with("rustpy-xlsxwriter", tmp_path / "x.xlsx", [text_source("S", LAYOUT_COLUMNS, LAYOUT_ROWS)], rows_per_sheet=39)
    assert not (tmp_path / "x.xlsx").exists()  # no stale file for the /tmp guard to count while the reference writes
    assert (
        write_with("rustpy-xlsxwriter", tmp_path / "y.xlsx", [text_source("S", LAYOUT_COLUMNS, LAYOUT_ROWS)], rows_per_sheet=40)
        == "rustpy-xlsxwriter"
    )


def test_the_writer_is_chosen_per_file_from_its_layouts(tmp_path: Path) -> None:
    from chalicelib.files.formats import CSV_GZ, XLSX, open_writer

    def engine(**options: Any) -> str:
        return open_writer(XLSX, str(tmp_path / "x.xlsx"), tmp_dir=str(tmp_path), **options).engine

    assert engine(layouts=[SheetLayout()]) == "rustpy-xlsxwriter"
    assert engine(layouts=[SheetLayout()], fast=False) == "xlsxwriter"
    assert engine(layouts=[SheetLayout(title="Orders")]) == "xlsxwriter"
    assert engine(layouts=[SheetLayout(), SheetLayout()]) == "xlsxwriter"
    assert engine() == "xlsxwriter"  # no layouts known: the writer that can take anything
    with open_writer(CSV_GZ, str(tmp_path / "x.csv.gz"), tmp_dir=str(tmp_path)) as csv_writer:
        assert csv_writer.engine == "csv"
