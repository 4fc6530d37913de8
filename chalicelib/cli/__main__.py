"""``python -m chalicelib.cli``."""

from chalicelib.cli import main

main(prog_name="excel-export")
