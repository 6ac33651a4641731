"""Times as people read them in a terminal, and as scripts want them in a pipe."""

from __future__ import annotations

import time


def relative(seconds_ago: float) -> str:
    if seconds_ago < 0:
        seconds_ago = 0
    if seconds_ago < 45:
        return "just now"
    for limit, unit, size in (
        (3600, "m", 60),
        (86400, "h", 3600),
        (86400 * 30, "d", 86400),
        (86400 * 365, "mo", 86400 * 30),
    ):
        if seconds_ago < limit:
            return f"{max(1, round(seconds_ago / size))}{unit} ago"
    return f"{round(seconds_ago / (86400 * 365))}y ago"


def show_time(value: str | None, *, relative_to_now: bool, now: float | None = None) -> str:
    """`3m ago` in a terminal; the API's RFC 3339 text unchanged in a pipe."""
    if not value:
        return ""
    if not relative_to_now:
        return value
    from jules_cli.times import parse_time

    stamp = parse_time(value)
    if stamp is None:
        return value
    return relative((now if now is not None else time.time()) - stamp)
