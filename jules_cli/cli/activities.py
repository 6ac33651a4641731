"""`jules activities`: what happened in a session, as a list, one by one, or live."""

# No `from __future__ import annotations` in the command modules: Typer reads every
# command's signature at each start, and string annotations cost a compile() each there
# (some 15 ms per run for these modules); real ones cost nothing (Python >= 3.10 has `X | Y`).

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import (
    IntervalOption,
    JqOption,
    JsonLinesOption,
    JsonOption,
    LimitOption,
    QuietOption,
    SessionArg,
    StallOption,
    TimeoutOption,
    UntilOption,
    examples,
    json_or_jq,
)

app = typer.Typer(
    help="A session's activities: plans, messages, progress.",
    no_args_is_help=True,
    epilog=examples(
        ("Everything a session did so far", "jules activities list 1234"),
        ("Follow it live until it is done", "jules activities tail 1234"),
    ),
)


@app.command(
    "list",
    epilog=examples(
        ("A session's activities, oldest first", "jules activities list 1234"),
        ("Only those after a moment", "jules activities list 1234 --since 2026-01-10T09:00:00Z"),
        (
            "The agent's messages",
            "jules activities list 1234 --jq '.[].agentMessaged.agentMessage // empty'",
        ),
    ),
)
def list_activities(
    ctx: typer.Context,
    session_id: SessionArg,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only newer ones: an RFC 3339 time, or a duration like 15m.",
        ),
    ] = None,
    limit: LimitOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
    jsonl: JsonLinesOption = False,
    quiet: QuietOption = False,
) -> None:
    """A session's activities, oldest first.

    --json prints one JSON array, --jsonl one object per line; both stream page by page.
    """
    from jules_cli.render.activities import print_activities

    appctx = app_context(ctx)
    out = appctx.list_output(json_mode=json_output, json_lines=jsonl, quiet=quiet)
    from jules_cli.times import since_time

    activities = appctx.client().list_activities(session_id, since=since_time(since), limit=limit)
    out.items(out.paged(activities), print_activities, json_lines=jsonl)


@app.command(
    "show",
    epilog=examples(
        ("One activity with its artifacts", "jules activities show 1234 a1b2c3d4"),
        ("As the API's JSON", "jules activities show 1234 a1b2c3d4 --json"),
    ),
)
def show(
    ctx: typer.Context,
    session_id: SessionArg,
    activity_id: Annotated[str, typer.Argument(metavar="ACTIVITY", help="Activity id.")],
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """One activity with its artifacts."""
    from jules_cli.api import names
    from jules_cli.errors import UsageError
    from jules_cli.render.activities import print_activity

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    owner, activity = names.activity_id(activity_id)
    if owner is not None and owner != names.session_id(session_id):
        raise UsageError(f"activity {activity_id} belongs to session {owner}, not {session_id}")
    found = appctx.client().get_activity(session_id, activity)
    out.item(found, print_activity)


@app.command(
    "tail",
    epilog=examples(
        ("Follow a session live until it is done", "jules activities tail 1234"),
        ("The activities so far, then stop", "jules activities tail 1234 --no-follow"),
        (
            "JSON Lines for a script, for at most an hour",
            "jules activities tail 1234 --json --timeout 1h",
        ),
    ),
)
def tail(
    ctx: typer.Context,
    session_id: SessionArg,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Stop after the activities so far.")
    ] = False,
    until: UntilOption = "done",
    timeout: TimeoutOption = None,
    interval: IntervalOption = None,
    stall: StallOption = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="JSON Lines: one activity per line, flushed at once.",
            callback=json_or_jq,
        ),
    ] = False,
    jq: JqOption = None,
) -> None:
    """The activities so far, then new ones live until the session is done.

    In a terminal: a live view with the state, elapsed time and the plan as a checklist,
    and when the session waits for you, the plan to approve or the question to answer.
    Elsewhere: one line per activity (or JSON Lines). The exit code is that of
    `session wait`.
    """
    from jules_cli.cli.watch import WatchOptions, finish, watch
    from jules_cli.render.activities import stream_line

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    options = WatchOptions.parse(until, timeout, interval, stall)
    if no_follow:
        for activity in appctx.client().list_activities(session_id):
            if json_output:
                out.json_line(activity)
            else:
                out.print(stream_line(activity, terminal=out.is_terminal))
        return
    finish(watch(appctx, session_id, options, show_activities=True))
