"""The conversion table's own column type codes are MySQL's, as pymysql names them.

chalicelib/files/cells.py is pure (an import-linter contract): it may not import the driver, so it
carries the protocol's numbers itself; this test is what keeps the two lists one.
"""

from __future__ import annotations

from pymysql.constants import FIELD_TYPE

from chalicelib.files.cells import FieldType


def test_every_type_code_matches_the_drivers() -> None:
    drivers = {name: value for name, value in vars(FIELD_TYPE).items() if name.isupper()}
    ours = {member.name: member.value for member in FieldType}
    assert {name: drivers[name] for name in ours} == ours
    assert set(drivers) - {"CHAR", "INTERVAL"} <= set(ours)
