"""``python -m tools.cli``."""

from tools.cli import main

main(prog_name="excel-export")
