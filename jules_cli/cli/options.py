"""Option definitions shared by many commands, defined once.

The callbacks check values while the command line is parsed, so a malformed id, duration
or condition is a usage error (exit 2) before the command body runs: before the API key
is looked up, a prompt is read or any request is sent.
"""

# No `from __future__ import annotations`: Typer reads the callbacks' signatures at every
# start, and string annotations would cost a compile() each (see cli/session.py).

import math
from typing import Annotated

import typer

from jules_cli.completion import complete_session_ids, complete_until


def checked_session_id(value: str) -> str:
    """The bare session id (`sessions/1234`, the session URL -> `1234`), or a UsageError."""
    from jules_cli.api import names

    return names.session_id(value)


def checked_session_ids(values: list[str] | None) -> list[str]:
    """Every id checked before the first request, so one typo stops a whole batch."""
    return [checked_session_id(value) for value in values or []]


def checked_until(value: str) -> str:
    from jules_cli.follow import Condition

    Condition.parse(value)
    return value


def checked_timeout(value: str | None) -> str | None:
    if value is not None:
        from jules_cli.follow import parse_duration

        if not math.isfinite(parse_duration(value)):
            from jules_cli.errors import UsageError

            raise UsageError(f"--timeout {value!r} is too long", "give at most a few days")
    return value


# Below one poll a second an interval only burns the API's shared quota (120
# ListActivities a minute per project; each follower is held to 30 anyway).
MIN_INTERVAL = 1.0
INTERVAL_ERROR = "--interval must be at least 1 second, not {value}"
INTERVAL_HINT = "followers poll at most 30 times a minute anyway; e.g. --interval 5"


def checked_interval(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= MIN_INTERVAL):
        from jules_cli.errors import UsageError

        raise UsageError(INTERVAL_ERROR.format(value=value), INTERVAL_HINT)
    return value


def checked_jq(ctx: typer.Context, value: str | None) -> str | None:
    """Compile --jq EXPR while parsing (a bad one is exit 2 before any request) and keep
    the program on the AppContext, whose outputs then filter their JSON through it."""
    if value is not None:
        from jules_cli.cli.context import app_context
        from jules_cli.render.jq import JqFilter

        app_context(ctx).jq = JqFilter(value)
    return value


def json_or_jq(ctx: typer.Context, value: bool) -> bool:
    """--jq implies --json. Click handles the options given on the command line before the
    others, so when --jq is given and --json is not, --jq has been compiled by now."""
    from jules_cli.cli.context import app_context

    return value or app_context(ctx).jq is not None


JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the API's JSON objects unchanged.", callback=json_or_jq),
]
JqOption = Annotated[
    str | None,
    typer.Option(
        "--jq",
        metavar="EXPR",
        help="Filter the JSON output through the jq expression EXPR (implies --json); "
        "strings print raw. A list gives EXPR the whole array; --jsonl and streams, each "
        "object in turn.",
        callback=checked_jq,
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids, one per line.")]
JsonLinesOption = Annotated[
    bool,
    typer.Option(
        "--jsonl",
        help="JSON Lines: each API object compact on its own line, written page by page as "
        "the pages arrive (a failure part-way exits non-zero after the lines written).",
    ),
]
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit", "-L", min=1, metavar="N", help="Stop after N items (default: all pages)."
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
SessionArg = Annotated[
    str,
    typer.Argument(
        metavar="ID",
        help="Session id: 1234, sessions/1234 or its URL https://jules.google.com/session/1234 "
        "(letters, digits, - and _).",
        autocompletion=complete_session_ids,
        callback=checked_session_id,
    ),
]
SessionIdsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="ID...",
        help="Session ids: ID, sessions/ID or https://jules.google.com/session/ID.",
        autocompletion=complete_session_ids,
        callback=checked_session_ids,
    ),
]
# archive / unarchive / delete: ids, or filters instead (checked together in the command).
OptionalSessionIdsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[ID...]",
        help="Session ids, bare or sessions/ID (or filters instead: --state, --repo, "
        "--older-than).",
        autocompletion=complete_session_ids,
        callback=checked_session_ids,
        show_default=False,
    ),
]


def checked_older_than(value: str | None) -> str | None:
    if value is not None:
        from jules_cli.follow import parse_duration

        if not math.isfinite(parse_duration(value)):
            from jules_cli.errors import UsageError

            raise UsageError(f"--older-than {value!r} is too long", "e.g. --older-than 7d")
    return value


OlderThanOption = Annotated[
    str | None,
    typer.Option(
        "--older-than",
        metavar="DUR",
        help="Every session not updated for DUR, e.g. 7d or 12h (by updateTime).",
        callback=checked_older_than,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="List the sessions it would act on, and change nothing."),
]
UntilOption = Annotated[
    str,
    typer.Option(
        "--until",
        "-u",
        metavar="COND",
        help="done (COMPLETED or FAILED), settled (done, or waiting for you), or a state name.",
        autocompletion=complete_until,
        callback=checked_until,
    ),
]
TimeoutOption = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        metavar="DUR",
        help="Give up after this long: seconds, or 90s, 15m, 2h (exit 10).",
        callback=checked_timeout,
    ),
]
def checked_stall(value: str | None) -> str | None:
    if value is not None:
        from jules_cli.follow import parse_duration

        seconds = parse_duration(value)
        if not (math.isfinite(seconds) and seconds > 0):
            from jules_cli.errors import UsageError

            raise UsageError(f"--stall must be longer than 0, not {value!r}", "e.g. --stall 10m")
    return value


StallOption = Annotated[
    str | None,
    typer.Option(
        "--stall",
        metavar="DUR",
        help="End with exit 11 when the session shows no new activity for DUR "
        "(while it is not waiting for you).",
        callback=checked_stall,
    ),
]
IntervalOption = Annotated[
    float | None,
    typer.Option(
        "--interval",
        metavar="SEC",
        help="Poll every SEC seconds, at least 1 (default: adaptive, 2-10 s); "
        "never more than 30 calls a minute.",
        callback=checked_interval,
    ),
]


def examples(*pairs: tuple[str, str]) -> str:
    """A command's help epilog: 2-4 examples, each what it does and the command line.

    Shown by `--help` (cli._help) and in the man pages; `\\b` keeps the lines as they are."""
    lines = [line for what, command in pairs for line in (f"# {what}", f"$ {command}")]
    return "Examples:\n\n\b\n" + "\n".join(lines)
