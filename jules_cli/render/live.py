"""Following a session: a Rich Live view in a terminal, one line per event elsewhere."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from jules_cli.render.activities import activity_kind, as_dict, as_text, plan_steps, stream_line
from jules_cli.render.output import Output, safe_text
from jules_cli.render.sessions import (
    STATE_MEANING,
    next_action,
    print_next,
    pull_requests,
    state_text,
)
from jules_cli.sessions import failure_reason, has_change

# Columns the live panel leaves free on its right (see SessionView.__rich_console__).
LIVE_MARGIN = 3


def elapsed_text(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlanProgress:
    """The plan as a checklist, and a best guess at the step being worked on.

    The API does not say which step is current. A progress update naming a step's title
    moves the marker there; otherwise each progress update after approval moves it one
    step on, never past the last; a completed session has every step done, and a failed
    one has the step it was on marked as the one that failed.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.current = 0
        self.finished = False
        self.failed = False
        self._updates = 0

    def add(self, activity: dict[str, Any]) -> None:
        kind = activity_kind(activity)
        if kind == "planGenerated":
            self.steps = plan_steps(activity)
            self.current, self._updates = 0, 0
            self.finished = self.failed = False
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
            self.finished, self.failed = True, False
        elif kind == "sessionFailed":
            self.failed, self.finished = True, False
        elif kind in ("userMessaged", "planApproved"):
            self.failed = False  # a message reopens a failed session

    def checklist(self, limit: int | None = None):
        """The steps as lines; with `limit`, at most that many lines: a window around the
        current step, with a line saying how many steps are left out on each side."""
        from rich.text import Text

        shown = range(len(self.steps))
        if limit is not None and len(self.steps) > limit:
            room = max(limit - 2, 1)  # a line for the steps left out on each side
            first = min(max(self.current - room // 2, 0), len(self.steps) - room)
            shown = range(first, first + room)
        lines = []
        if shown.start > 0:
            lines.append(Text(f"  ... {shown.start} steps done before"))
        for index in shown:
            step = self.steps[index]
            title = safe_text(as_text(step.get("title")))
            if self.finished or index < self.current:
                line = Text(f"  [x] {index + 1}. {title}", style="green")
            elif index == self.current and self.failed:
                line = Text(f"  [!] {index + 1}. {title}", style="bold red")
                line.append("  failed here", style="red")
            elif index == self.current:
                line = Text(f"  [>] {index + 1}. {title}", style="bold")
            else:
                line = Text(f"  [ ] {index + 1}. {title}")
            lines.append(line)
        if shown.stop < len(self.steps):
            lines.append(Text(f"  ... {len(self.steps) - shown.stop} more steps"))
        return lines


class SessionView:
    """The live region: a panel with the state, elapsed time, the plan as a checklist,
    and a note on what the view waits for. The activities are not in it: they are
    printed above it, for good, as they arrive."""

    def __init__(self, session_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.session_id = session_id
        self.session: dict[str, Any] = {}
        self.state = "…"
        self.plan = PlanProgress()
        self.reason: str | None = None  # why the session failed
        self.change_activities: list[dict[str, Any]] = []  # the newest one with a patch
        self.note: str | None = None  # e.g. "waiting for Jules's answer to your feedback"
        # A slow request or a retry's pause, in the spinner's words (None: nothing slow).
        self.progress: Callable[[], str | None] | None = None
        # The last look failed even after the client's retries: (what, look again at).
        self.trouble: tuple[str, float] | None = None
        self._clock = clock
        self._started = clock()

    def update(self, session: dict[str, Any], state: str) -> None:
        self.session = session
        self.state = state
        if state == "COMPLETED":
            self.plan.finished = True
        elif state == "FAILED":
            self.plan.failed = True

    def add(self, activity: dict[str, Any]) -> None:
        self.plan.add(activity)
        kind = activity_kind(activity)
        if kind == "sessionFailed":
            self.reason = failure_reason([activity])
        if has_change({}, [activity]):
            self.change_activities = [activity]
        if kind not in ("userMessaged", "planApproved"):
            self.note = None  # Jules moved: what the view waited for came

    def header(self, width: int | None = None, height: int | None = None):
        """The panel; with `height`, no taller than that (the plan is cut to fit)."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        header = Text()
        header.append_text(state_text(self.state))
        meaning = STATE_MEANING.get(self.state)
        if meaning:
            header.append(f"  {meaning}")
        header.append(f"   elapsed {elapsed_text(self._clock() - self._started)}", style="dim")
        body: list[Any] = [header]
        if self.state == "FAILED":
            body.append(Text(safe_text(f"Reason: {self.reason or 'not given'}"), style="bold red"))
        if self.note:
            body.append(Text(safe_text(self.note), style="yellow"))
        status = self.progress() if self.progress is not None else None
        if not status and self.trouble is not None:
            what, again_at = self.trouble
            left = max(again_at - self._clock(), 0)
            status = f"retrying in {math.ceil(left)} s: {what}" if left else f"retrying: {what}"
        if status:
            # A retry is news (the service is failing); a slow answer only a sign of life.
            style = "yellow" if status.startswith("retrying") else "dim"
            body.append(Text(safe_text(status), style=style))
        if self.plan.steps:
            body.append(Text("Plan:", style="bold"))
            limit = None if height is None else max(height - len(body) - 3, 3)
            body.extend(self.plan.checklist(limit))
        title = safe_text(as_text(self.session.get("title")) or f"session {self.session_id}")
        return Panel(
            Group(*body), title=Text(title), title_align="left", expand=True, width=width
        )

    def __rich_console__(self, console, options):
        # Live, the panel stops short of the last column: the terminal echoes a typed ^C
        # where the cursor is, and after a full-width line that wraps to a new line, so
        # the panel would be erased one line short, leaving its top border behind.
        # And no taller than the screen: Rich cannot move the cursor up into the
        # scrollback to erase what scrolled off it.
        height = max(console.size.height - 2, 6)
        yield self.header(width=max(options.max_width - LIVE_MARGIN, 20), height=height)


class Watcher:
    """Receives the follow engine's events and shows them in the right form.

    In a terminal (live): each activity is printed as a line, for good, above a live
    panel that Rich redraws in place. When the user is asked something the panel is
    erased (`pause`), the question, the answer and its confirmation are printed like any
    other line, and `resume` starts a *new* live panel below them: a paused rich Live
    restarted would move the cursor up by the height it last drew, over whatever was
    printed in between, and erase it. Nothing above the panel is ever redrawn.
    Elsewhere: one line per event.
    """

    def __init__(self, out: Output, session_id: str, *, live: bool) -> None:
        self.out = out
        self.view = SessionView(session_id)
        self.is_live = live
        self._live = None
        self._echoes: list[tuple[str, str]] = []  # (kind, text) the user just did here
        # The agent's message printed last on the terminal as an activity line, while
        # nothing else followed it there (see shows_last); None otherwise.
        self._last_message: str | None = None

    def __enter__(self) -> Watcher:
        self.resume()
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.clear()  # Ctrl-C: the panel goes, the caller says what that means
        else:
            self.finish()

    def pause(self) -> None:
        """Erase the live panel (the cursor goes back to where it began)."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def resume(self) -> None:
        """Show the live panel again, below everything printed so far."""
        if not self.is_live or self._live is not None:
            return
        from rich.live import Live

        # A fresh Live each time (see the class doc); transient, so that stopping it
        # erases the panel instead of leaving a copy of it behind. No stdout/stderr
        # redirection: the prompts write to the real streams while the panel is down.
        self._live = Live(
            self.view,
            console=self.out.console,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def finish(self) -> None:
        """Replace the live panel by its final state, printed once, for good."""
        if not self.is_live:
            return
        self.pause()
        self.out.print(self.view.header())
        self.is_live = False

    def clear(self) -> None:
        """Erase the live panel for good, printing nothing (on Ctrl-C)."""
        self.pause()
        self.is_live = False

    def acted(self, kind: str, text: str = "") -> None:
        """The user just did this from the view (approved, sent `text`): its echo in the
        activity stream is not printed again, the confirmation line said it already."""
        if self.is_live:
            self._echoes.append((kind, text))

    def waiting(self, note: str | None) -> None:
        self.view.note = note

    def poll_failed(self, error: Exception | None, delay: float) -> None:
        """The engine's on_poll_error: the panel says the service is failing, and when it
        looks again, until a look succeeds (error None)."""
        if error is None:
            self.view.trouble = None
            return
        from jules_cli.render.progress import error_text

        self.view.trouble = (error_text(error), self.view._clock() + delay)

    def _is_echo(self, activity: dict[str, Any]) -> bool:
        kind = activity_kind(activity)
        text = ""
        if kind == "userMessaged":
            text = as_text(as_dict(activity.get("userMessaged")).get("userMessage")).strip()
        for echo in self._echoes:
            if echo == (kind, text):
                self._echoes.remove(echo)
                return True
        return False

    def shows_last(self, message: str) -> bool:
        """Is the agent's `message` the last line this view printed on the terminal?
        Then a question is not printed a second time: it is right above the prompt."""
        return self._last_message is not None and self._last_message == message

    def printed_elsewhere(self) -> None:
        """Something else was printed below the activity lines (a prompt, an answer)."""
        self._last_message = None

    def _printed(self, activity: dict[str, Any]) -> None:
        self._last_message = None
        if self.out.is_terminal and activity_kind(activity) == "agentMessaged":
            self._last_message = as_text(as_dict(activity.get("agentMessaged")).get("agentMessage"))

    def activity(self, activity: dict[str, Any]) -> None:
        if self.out.json_mode:
            self.out.json_line(activity)
        elif self.is_live:
            self.view.add(activity)
            if not self._is_echo(activity):
                # Printed above the live panel by Rich, which redraws the panel below it.
                self.out.print(stream_line(activity, terminal=True))
                self._printed(activity)
        else:
            self.view.add(activity)
            self.out.print(stream_line(activity, terminal=self.out.is_terminal))
            self._printed(activity)

    def state_change(self, old: str | None, new: str, session: dict[str, Any]) -> None:
        self.view.update(session, new)
        if not self.is_live:
            from rich.text import Text

            self._last_message = None  # this line goes between

            # The id is metadata (dim); the state words carry their colours.
            line = Text(safe_text(f"{as_text(session.get('id'))}: "), style="dim")
            if old:
                line.append_text(state_text(old))
                line.append(" -> ")
            line.append_text(state_text(new))
            self.out.err.print(line, soft_wrap=True)


def silence_text(seconds: float) -> str:
    """45s, 12m 5s, 2h 3m: how long a session has been silent."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def print_outcome(
    out: Output,
    session: dict[str, Any],
    state: str,
    outcome: str,
    *,
    reason: str | None = None,
    question: str | None = None,
    activities: list[dict[str, Any]] | None = None,
    silent_for: float | None = None,
) -> None:
    """The closing lines of a wait or a follow, on stderr: where the session ended up,
    why when it failed, its pull request, and what to do next.

    `reason`: why it failed (from its sessionFailed activity); `question`: what Jules
    asks, for a session waiting for an answer; `activities`: those seen,
    if any, for a hint that fits what the session did (a change to get, or none);
    `silent_for`: with the outcome "stalled", the seconds without a new activity."""
    sid = as_text(session.get("id"))
    if outcome == "timeout":
        out.warn(safe_text(f"timed out; session {sid} is still {state}"))
        return
    if outcome == "stalled":
        # One line: which session, how long, and the command that nudges it.
        silent = silence_text(silent_for or 0)
        out.err.print(
            safe_text(
                f"Session {sid} has shown no new activity for {silent} (still {state}); "
                f'nudge it with `jules session send {sid} "..."`'
            ),
            style="bold yellow",
            soft_wrap=True,
        )
        return
    if state == "FAILED":
        message = f"Session {sid} FAILED: {reason or 'no reason given'}"
        out.err.print(safe_text(message), style="bold red", soft_wrap=True)
    elif outcome == "needs_user":
        message = f"Session {sid} is {state}: {STATE_MEANING.get(state, '')}"
        out.err.print(safe_text(message), style="bold yellow", soft_wrap=True)
        if question:
            from rich.text import Text

            line = Text("Jules asks: ", style="bold yellow")
            line.append(safe_text(" ".join(question.split())), style="bold")
            out.err.print(line, soft_wrap=True)
    elif state == "COMPLETED":
        out.success(safe_text(f"Session {sid} is COMPLETED."))
    else:
        out.success(safe_text(f"Session {sid} is {state}: {STATE_MEANING.get(state, '')}"))
    print_pull_requests(out, session)
    # The state judged may differ from the API's (a plan pending on a COMPLETED).
    action = next_action({**session, "state": state}, activities)
    if action:
        print_next(out, action)


def print_interrupted(out: Output, view: SessionView, *, again: str = "tail") -> None:
    """After Ctrl-C in a live view or at its prompt: one line saying that the session
    goes on at Jules (stopping the view stops nothing there) and what to run next."""
    sid = view.session_id
    if again == "tail":
        stopped, follow = "Stopped following", f"Follow it again: `jules activities tail {sid}`"
    else:
        stopped, follow = "Stopped waiting", f"Wait for it again: `jules session wait {sid}`"
    state = view.state
    if state in ("AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED"):
        action = next_action({**view.session, "id": sid, "state": state})
        message = f"{stopped}; session {sid} still waits for you: {action}"
    elif state in ("COMPLETED", "FAILED"):
        message = f"{stopped}; session {sid} is {state}: `jules session show {sid}`"
    else:
        message = f"{stopped}; session {sid} goes on at Jules. {follow}"
    out.err.print(safe_text(message), style="yellow", soft_wrap=True)


def print_pull_requests(out: Output, session: dict[str, Any]) -> None:
    """`Pull request: URL` lines on stderr; the URL stands out (it is what one clicks)."""
    from rich.text import Text

    for pr in pull_requests(session):
        line = Text("Pull request: ")
        line.append(safe_text(as_text(pr.get("url"))), style="bold cyan")
        out.err.print(line, soft_wrap=True)
