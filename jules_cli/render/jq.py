"""`--jq EXPR`: the JSON output filtered through a jq expression, as `gh` has it.

The `jq` package (the real jq, compiled) is imported here only, and this module only when
`--jq` is given, so no other run pays for it. The expression is compiled while the
command line is parsed: one that does not compile is a usage error before any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jules_cli.errors import UsageError


def _first_line(error: Exception) -> str:
    # jq's compile errors span several lines (the expression, a caret, a count): the
    # first one says what is wrong, and an error message is one line.
    text = str(error).strip()
    line = text.splitlines()[0].removeprefix("jq: error: ").rstrip(":") if text else ""
    return line or "invalid expression"


class JqFilter:
    """One compiled jq program, applied to each JSON value the command would print."""

    def __init__(self, expression: str) -> None:
        import jq

        if not expression.strip():
            raise UsageError("--jq needs an expression", "e.g. --jq '.[].id'")
        try:
            self._program = jq.compile(expression)
        except ValueError as error:
            raise UsageError(
                f"--jq {expression!r} does not compile: {_first_line(error)}",
                "see https://jqlang.org/manual/ for the syntax",
            ) from None
        self.expression = expression

    def results(self, value: Any) -> Iterator[Any]:
        """Every value the program yields for `value` (none, one or many)."""
        try:
            yield from self._program.input_value(value).all()
        except ValueError as error:
            raise UsageError(
                f"--jq {self.expression!r} failed on the data: {_first_line(error)}",
                "check the expression against the command's --json output",
            ) from None
