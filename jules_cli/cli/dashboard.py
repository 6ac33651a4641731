"""`jules dashboard`: a full-screen live view of every session, acted on from the keyboard.

Textual is imported here, inside the command, and nowhere else on any start-up path.
"""

# No `from __future__ import annotations` (see cli/session.py).

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import examples
from jules_cli.cli.status import SinceOption
from jules_cli.overview import DEFAULT_SINCE


def checked_interval(value: float) -> float:
    import math

    if not (math.isfinite(value) and value >= 1):
        from jules_cli.errors import UsageError

        raise UsageError(
            f"--interval must be at least 1 second, not {value:g}", "e.g. --interval 5"
        )
    return value


def dashboard(
    ctx: typer.Context,
    since: SinceOption = DEFAULT_SINCE,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            metavar="SEC",
            help="Read one page of sessions every SEC seconds (at least 1).",
            callback=checked_interval,
        ),
    ] = 5.0,
) -> None:
    """A full-screen live view of every session, to act on them from the keyboard.

    Keys: up/down or j/k move, enter opens a session (plan, activities live), a approves,
    r replies, d shows the diff, o opens the browser, x archives (u undoes), n starts a
    new session, / filters, ? lists the keys, escape goes back, q quits.

    Cost: one sessions.list request per interval, and ListActivities only for the open
    session and the sessions whose updateTime changed: at most 30 a minute in all.
    Without a terminal it is exit 2: use `jules status` in scripts.
    """
    import sys
    import time

    from jules_cli.errors import UsageError
    from jules_cli.follow import parse_duration

    # A real terminal on both ends (JULES_TTY does not count: a full screen needs one).
    if not (_isatty(sys.stdin) and _isatty(sys.stdout)):
        raise UsageError(
            "jules dashboard needs a terminal",
            "use `jules status` (or `jules status --json`) in scripts and pipes",
        )
    appctx = app_context(ctx)
    client = appctx.client()  # a missing key fails here, before the screen is taken
    from jules_cli.overview import Tracker
    from jules_cli.pacing import shared

    cutoff = time.time() - parse_duration(since)
    # The quota's pacer, scaled by JULES_POLL_SCALE against an emulator only, as every
    # other follower's (cli/watch.py): tests then need not wait 2 s between reads.
    tracker = Tracker(client, cutoff, pacer=shared(appctx.poll_scale))
    first = tracker.start_first_poll()  # the first page comes while Textual loads

    from jules_cli.tui.app import Dashboard

    dashboard = Dashboard(
        client,
        since=cutoff,
        since_text=since,
        pacer=tracker.pacer,
        interval=interval,
        tracker=tracker,
        first_poll=first,
        setting=appctx.setting,
    )
    dashboard.run()
    if dashboard.return_code:  # Ctrl-C: 130, as for every interrupted command
        raise typer.Exit(dashboard.return_code)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def register(app: typer.Typer) -> None:
    app.command(
        "dashboard",
        epilog=examples(
            ("Every session, live; enter opens one, ? lists the keys", "jules dashboard"),
            (
                "Ended sessions of the last week too, polled every 10 s",
                "jules dashboard --since 7d --interval 10",
            ),
            ("Try it against the built-in emulator", "jules --emulator dashboard"),
        ),
    )(dashboard)
