"""Option definitions shared by many commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON objects unchanged.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids, one per line.")]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-L", min=1, help="Stop after N items (default: all pages)."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SessionArg = Annotated[
    str, typer.Argument(metavar="ID", help="Session id, bare (1234) or sessions/1234.")
]
