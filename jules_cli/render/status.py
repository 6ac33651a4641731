"""`jules status` for people (records per group) and for pipes (one tab-separated line each)."""

from __future__ import annotations

import time
from typing import Any

from jules_cli.overview import ENDED, GROUPS, NEEDS_YOU, RUNNING, Detail, Overview, updated_at
from jules_cli.render.activities import as_text
from jules_cli.render.output import Output, safe_text
from jules_cli.render.sessions import STATE_STYLE, repo_of
from jules_cli.times import parse_time

PIPE_GROUP = {NEEDS_YOU: "needs-you", RUNNING: "running", ENDED: "ended"}


def span(seconds: float) -> str:
    """A duration in one short word: 45s, 12m, 3h, 2d."""
    seconds = max(seconds, 0.0)
    for limit, unit, size in ((60, "s", 1), (3600, "m", 60), (86400 * 2, "h", 3600)):
        if seconds < limit:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 86400)}d"


def _ago(value: Any, now: float) -> str:
    stamp = parse_time(value)
    return "" if stamp is None else f"{span(now - stamp)} ago"


def heading(group: str, since_text: str) -> str:
    if group == NEEDS_YOU:
        return "Needs you"
    if group == RUNNING:
        return "Running"
    return f"Ended in the last {since_text}"


def _running_line(session: dict[str, Any], now: float) -> str:
    created = parse_time(session.get("createTime"))
    updated = updated_at(session)
    parts = []
    if created is not None:
        parts.append(f"running for {span(now - created)}")
    if updated is not None:
        parts.append(f"last activity {span(now - updated)} ago")
    return ", ".join(parts)


def print_status(
    out: Output, overview: Overview, *, since_text: str, now: float | None = None
) -> None:
    now = time.time() if now is None else now
    if not out.is_terminal:
        _print_plain(out, overview)
        return
    from rich.padding import Padding
    from rich.text import Text

    def indented(text: Text, by: int) -> None:
        # Wrapped lines keep the indent (a long title or question stays readable).
        out.console.print(Padding(text, (0, 0, 0, by), expand=False))

    for index, group in enumerate(GROUPS):
        sessions = overview.group(group)
        if index:
            out.print()
        title = Text(heading(group, since_text), style="bold")
        title.append(f" ({len(sessions)})" if sessions else "", style="bold")
        out.print(title)
        if not sessions:
            empty = {NEEDS_YOU: "nothing waits for you", RUNNING: "nothing is running"}
            out.print(Text(f"  {empty.get(group, 'nothing ended')}", style="dim"))
            continue
        for session in sessions:
            sid = as_text(session.get("id"))
            state = as_text(session.get("state"))
            # The title first (what people recognise), then where, when and which id;
            # below it the state and what it waits for or how it ended.
            line = Text()
            title = " ".join(as_text(session.get("title") or session.get("prompt")).split())
            line.append(safe_text(title) or "(untitled)", style="bold")
            age = _ago(session.get("createTime"), now)
            where = [repo_of(session), age if group != RUNNING else "", sid]
            line.append("  " + "  ".join(safe_text(w) for w in where if w), style="dim")
            indented(line, 2)
            detail = overview.details.get(sid, Detail())
            below = detail.text if group != RUNNING else _running_line(session, now)
            state_line = Text(safe_text(state), style=STATE_STYLE.get(state, ""))
            if below:
                state_line.append("  " + safe_text(below))
            indented(state_line, 4)
            if group == NEEDS_YOU and detail.command:
                # One unbroken line, so that it copies and pastes whole.
                out.console.print(
                    Text("    " + safe_text(detail.command), style="cyan"), soft_wrap=True
                )
    for sid, error in overview.errors.items():
        out.warn(safe_text(f"could not read the activities of {sid}: {error}"))


def _print_plain(out: Output, overview: Overview) -> None:
    """GROUP ID STATE REPO TITLE CREATED UPDATED DETAIL COMMAND, tab-separated, one
    session a line, times as the API wrote them: made for `grep`, `cut` and `awk`."""
    rows = []
    for group in GROUPS:
        for session in overview.group(group):
            sid = as_text(session.get("id"))
            detail = overview.details.get(sid, Detail())
            rows.append(
                [
                    PIPE_GROUP[group],
                    sid,
                    as_text(session.get("state")),
                    repo_of(session),
                    as_text(session.get("title")),
                    as_text(session.get("createTime")),
                    as_text(session.get("updateTime")),
                    detail.text,
                    detail.command or "",
                ]
            )
    out.table([], rows, empty=None)
    if not rows:
        out.info("Nothing needs you, nothing is running, nothing ended in that time.")
    for sid, error in overview.errors.items():
        out.warn(safe_text(f"could not read the activities of {sid}: {error}"))
