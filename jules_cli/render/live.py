"""Following a session: a Rich Live view in a terminal, one line per event elsewhere."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jules_cli.render.activities import activity_kind, as_dict, as_text, plan_steps, stream_line
from jules_cli.render.output import Output, safe_text
from jules_cli.render.sessions import STATE_MEANING, next_action, pull_requests, state_text

RECENT_LINES = 12


def elapsed_text(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlanProgress:
    """The plan as a checklist, and a best guess at the step being worked on.

    The API does not say which step is current. A progress update naming a step's title
    moves the marker there; otherwise each progress update after approval moves it one
    step on, never past the last; a completed session has every step done.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.current = 0
        self.finished = False
        self._updates = 0

    def add(self, activity: dict[str, Any]) -> None:
        kind = activity_kind(activity)
        if kind == "planGenerated":
            self.steps = plan_steps(activity)
            self.current, self._updates, self.finished = 0, 0, False
        elif kind == "progressUpdated" and self.steps:
            body = as_dict(activity.get("progressUpdated"))
            text = f"{as_text(body.get('title'))} {as_text(body.get('description'))}".lower()
            for index, step in enumerate(self.steps):
                title = as_text(step.get("title")).lower()
                if title and title in text:
                    self.current = max(self.current, index)
                    return
            self._updates += 1
            self.current = max(self.current, min(self._updates - 1, len(self.steps) - 1))
        elif kind == "sessionCompleted":
            self.finished = True

    def checklist(self):
        from rich.text import Text

        lines = []
        for index, step in enumerate(self.steps):
            if self.finished or index < self.current:
                mark, style = "[x]", "green"
            elif index == self.current:
                mark, style = "[>]", "bold"
            else:
                mark, style = "[ ]", "dim"
            title = safe_text(as_text(step.get("title")))
            lines.append(Text(f"  {mark} {index + 1}. {title}", style=style))
        return lines


class SessionView:
    """What the live view shows: a header (state, elapsed, plan) above recent activity."""

    def __init__(self, session_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.session_id = session_id
        self.session: dict[str, Any] = {}
        self.state = "…"
        self.plan = PlanProgress()
        self.recent: deque = deque(maxlen=RECENT_LINES)
        self.lines: list[Any] = []  # the whole stream, printed for good when following ends
        self._clock = clock
        self._started = clock()

    def update(self, session: dict[str, Any], state: str) -> None:
        self.session = session
        self.state = state
        if state == "COMPLETED":
            self.plan.finished = True

    def add(self, activity: dict[str, Any]) -> None:
        self.plan.add(activity)
        line = stream_line(activity, terminal=True)
        self.recent.append(line)
        self.lines.append(line)

    def header(self):
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        header = Text()
        header.append_text(state_text(self.state))
        meaning = STATE_MEANING.get(self.state)
        if meaning:
            header.append(f"  {meaning}", style="dim")
        header.append(f"   elapsed {elapsed_text(self._clock() - self._started)}", style="dim")
        body: list[Any] = [header]
        if self.plan.steps:
            body.append(Text("Plan:", style="bold"))
            body.extend(self.plan.checklist())
        title = safe_text(as_text(self.session.get("title")) or f"session {self.session_id}")
        return Panel(Group(*body), title=Text(title), title_align="left", expand=True)

    def __rich__(self):
        from rich.console import Group

        return Group(self.header(), *self.recent)


class Watcher:
    """Receives the follow engine's events and shows them in the right form."""

    def __init__(self, out: Output, session_id: str, *, live: bool) -> None:
        self.out = out
        self.view = SessionView(session_id)
        self._live = None
        if live:
            from rich.live import Live

            # Transient: the moving window is erased at the end and replaced by the
            # whole stream, so nothing that scrolled out of the window is lost.
            self._live = Live(self.view, console=out.console, refresh_per_second=4, transient=True)

    def __enter__(self) -> Watcher:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def pause(self) -> None:
        """Hide the live view while the user is asked something."""
        if self._live is not None and self._live.is_started:
            self._live.stop()

    def finish(self) -> None:
        if self._live is None:
            return
        self.pause()
        for line in self.view.lines:
            self.out.print(line)
        self.out.print(self.view.header())
        self._live = None

    def resume(self) -> None:
        if self._live is not None and not self._live.is_started:
            self._live.start()

    def activity(self, activity: dict[str, Any]) -> None:
        if self.out.json_mode:
            self.out.json_line(activity)
        elif self._live is not None:
            self.view.add(activity)
        else:
            self.view.plan.add(activity)
            self.out.print(stream_line(activity, terminal=self.out.is_terminal))

    def state_change(self, old: str | None, new: str, session: dict[str, Any]) -> None:
        self.view.update(session, new)
        if self._live is None:
            change = f"{old} -> {new}" if old else new
            self.out.info(safe_text(f"{as_text(session.get('id'))}: {change}"))


def print_outcome(out: Output, session: dict[str, Any], state: str, outcome: str) -> None:
    """The closing lines of a wait or a follow, on stderr."""
    sid = as_text(session.get("id"))
    if outcome == "timeout":
        out.warn(safe_text(f"timed out; session {sid} is still {state}"))
        return
    message = safe_text(f"Session {sid} is {state}: {STATE_MEANING.get(state, '')}")
    if state == "FAILED":
        out.err.print(message, style="bold red", soft_wrap=True)
    elif outcome == "needs_user":
        out.err.print(message, style="bold yellow", soft_wrap=True)
        # The state judged may differ from the API's (a plan pending on a COMPLETED).
        action = next_action({**session, "state": state})
        if action:
            out.info(safe_text(f"Next: {action}"))
    else:
        out.success(message)
    for pr in pull_requests(session):
        out.info(safe_text(f"Pull request: {as_text(pr.get('url'))}"))
