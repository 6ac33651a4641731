"""Option definitions shared by many commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

from jules_cli.completion import complete_session_ids, complete_until

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON objects unchanged.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids, one per line.")]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-L", min=1, help="Stop after N items (default: all pages)."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SessionArg = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        help="Session id, bare (1234) or sessions/1234.",
        autocompletion=complete_session_ids,
    ),
]
UntilOption = Annotated[
    str,
    typer.Option(
        "--until",
        "-u",
        help="done (COMPLETED or FAILED), settled (done, or waiting for you), or a state name.",
        autocompletion=complete_until,
    ),
]
TimeoutOption = Annotated[
    str | None,
    typer.Option("--timeout", help="Give up after this long: seconds, or 90s, 15m, 2h (exit 10)."),
]
IntervalOption = Annotated[
    float | None,
    typer.Option("--interval", help="Poll every SEC seconds (default: adaptive, 1-10 s)."),
]
