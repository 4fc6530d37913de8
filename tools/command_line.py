"""Running a click group as a function that returns its exit status (the local stack's and the deploy
code's ``main(argv)``, which the Makefile runs and tests call)."""

from __future__ import annotations

from collections.abc import Sequence

import click


def exit_status(group: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """0, a command's ``ctx.exit`` status, 2 for a usage mistake, 1 for any other click error."""
    try:
        # Without standalone mode click returns a command's ctx.exit() status instead of exiting.
        status = group.main(args=list(argv) if argv is not None else None, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    return status if isinstance(status, int) else 0
