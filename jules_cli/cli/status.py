"""`jules status`: what needs you, what is running, what ended lately, in one command."""

# No `from __future__ import annotations` (see cli/session.py).

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import JqOption, JsonOption, examples
from jules_cli.overview import DEFAULT_SINCE


def checked_since(value: str) -> str:
    """--since is checked while parsing: a bad duration costs no request."""
    import math

    from jules_cli.follow import parse_duration

    if not math.isfinite(parse_duration(value)):
        from jules_cli.errors import UsageError

        raise UsageError(f"--since {value!r} is too long", "give e.g. 24h or 168h")
    return value


SinceOption = Annotated[
    str,
    typer.Option(
        "--since",
        metavar="DUR",
        help="Show what ended within DUR: seconds, or 90m, 24h, 168h.",
        callback=checked_since,
    ),
]


def status(
    ctx: typer.Context,
    since: SinceOption = DEFAULT_SINCE,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """What needs you (plan approval, a question, paused) with the command to act, what is
    running, and what ended within --since (default 24h) with its pull request or failure.

    Cost: one sessions.list request per 100 sessions, newest first, stopping after the
    first page created entirely before --since; plus one ListActivities request for each
    session that needs you and each FAILED one shown (none with --json).
    """
    import time

    from jules_cli.follow import parse_duration
    from jules_cli.overview import grouped, read_overview, sessions_since

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    now = time.time()
    cutoff = now - parse_duration(since)
    client = appctx.client()
    if json_output:
        # The Session objects alone: no activities needed.
        out.json(grouped(sessions_since(client, cutoff), cutoff).to_json())
        return
    from jules_cli.render.status import print_status

    print_status(out, read_overview(client, cutoff), since_text=since, now=now)


def register(app: typer.Typer) -> None:
    app.command(
        "status",
        epilog=examples(
            ("What needs you, what runs, and what ended today", "jules status"),
            ("The same over the last week", "jules status --since 7d"),
            ("Ids of the sessions that need you", "jules status --jq '.needsYou[].id'"),
        ),
    )(status)
