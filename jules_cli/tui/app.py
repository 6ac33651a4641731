"""`jules dashboard`: every session live in one table, acted on from the keyboard.

The data comes from jules_cli.overview.Tracker (the domain's live overview: one sessions
page per interval, activities only for the open session and the ones that changed, paced
by jules_cli.pacing), the actions from the API client and the domain modules (sessions,
sources, artifacts, diffstat, gitremote). Requests run in worker threads, so the screen
never waits on the network; a failure is one line in the status bar and the view goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen

# Only the widgets of the first screen: the form's (TextArea, Select, Checkbox, Button)
# are imported when the form opens, so that they do not delay the first table.
from textual.widgets import DataTable, Header, Input, Static

from jules_cli.errors import JulesError, RateLimited, Unavailable
from jules_cli.overview import (
    ENDED,
    GROUP_TITLES,
    GROUPS,
    NEEDS_YOU,
    Detail,
    Tracker,
    answer_to,
    matches,
    plan_progress,
    question,
)
from jules_cli.render.activities import KIND_LABEL, KIND_STYLE, activity_kind, activity_summary
from jules_cli.render.output import safe_text
from jules_cli.render.sessions import STATE_STYLE, repo_of, session_url
from jules_cli.render.times import relative
from jules_cli.times import parse_time

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient

DEFAULT_INTERVAL = 5.0
HEADER_PREFIX = "#"  # row keys of the group headings; never a session id (ids are [\w-])
WIDE = 110  # from this width the table shows each session's one line too
MAX_PACER_WAIT = 8.0  # seconds a poll may wait for the pacer's turns

# Short enough that each fits beside its key in the 64-column box at 80 columns.
KEYS = [
    ("up/down, j/k", "move"),
    ("enter", "open it: plan, question, activities live"),
    ("a", "approve its plan"),
    ("r", "message it; its answer shows when it comes"),
    ("d", "its diff, with the diffstat"),
    ("o", "open it in a browser"),
    ("x", "archive it"),
    ("u", "undo the last archive"),
    ("n", "start a new session"),
    ("/", "filter: words, state:S, repo:R"),
    ("?", "these keys"),
    ("escape", "back (or clear the filter)"),
    ("q", "quit"),
]


def describe_error(error: Exception, *, polling: bool = True) -> str:
    """One line for the status bar, saying what kind of trouble it is (and, for a poll,
    that the view goes on: a failed key press is over, nothing goes on after it)."""
    text = safe_text(str(error)).splitlines()[0] if str(error) else type(error).__name__
    more = "; still polling" if polling else ""
    if isinstance(error, RateLimited):
        return f"rate limited (429): {text}{more}"
    if isinstance(error, Unavailable):
        return f"service unavailable: {text}{more}"
    if not isinstance(error, JulesError):
        return f"unexpected {type(error).__name__}: {text}"
    return text


_STATE_CELLS: dict[str, Text] = {}


def state_cell(state: str) -> Text:
    """One shared cell per state: 10,000 rows hold 9 of them, not 10,000."""
    cell = _STATE_CELLS.get(state)
    if cell is None:
        cell = _STATE_CELLS[state] = Text(safe_text(state), style=STATE_STYLE.get(state, ""))
    return cell


def age_of(session: dict[str, Any], now: float) -> str:
    created = parse_time(session.get("createTime"))
    return "" if created is None else relative(now - created)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` with an ellipsis, so a cut title shows that it is cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_repo(repo: str, width: int) -> str:
    """owner/repo, or just the repo's name when both do not fit (the name tells more)."""
    if len(repo) <= width:
        return repo
    return fit(repo.rsplit("/", 1)[-1], width)


def one_line(value: Any) -> str:
    return safe_text(" ".join(str(value or "").split()))


class KeyLine(Static):
    """The bottom line: the keys of the screen it is on (its bindings marked shown, then
    the app's). One Static, not Textual's Footer of one widget per key: it is drawn in
    the first frame of every screen, and that frame is the start-up time."""

    DEFAULT_CSS = "KeyLine { height: 1; background: $panel; }"

    def on_mount(self) -> None:
        text = Text()
        bindings = list(getattr(self.screen, "BINDINGS", []))
        if getattr(self.screen, "APP_KEYS", True):
            bindings += Dashboard.BINDINGS
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.show:
                continue
            key = {"slash": "/", "question_mark": "?", "escape": "esc"}.get(
                binding.key, binding.key
            )
            text.append(f" {key} ", style="bold")
            text.append(f"{binding.description} ")
        self.update(text)


class StatusLine(Static):
    """Above the keys: errors in red, outcomes in green, both replaced by the next (up to
    3 lines: a long one wraps, whole, rather than being cut at the edge)."""

    def say(self, message: str, *, error: bool = False) -> None:
        self.update(Text(message, style="bold red" if error else "green"))


# -- the actions every screen offers on "its" session ----------------------------------


class SessionActions:
    """Key actions on the selected (or open) session; each says why when it cannot."""

    app: Dashboard

    def current_id(self) -> str | None:  # pragma: no cover - each screen defines it
        raise NotImplementedError

    def _session_or_say(self, key: str) -> dict[str, Any] | None:
        sid = self.current_id()
        session = self.app.session(sid) if sid else None
        if session is None:
            self.app.say(f"{key}: no session selected", error=True)
        return session

    def action_approve(self) -> None:
        session = self._session_or_say("a")
        if session is None:
            return
        state = session.get("state")
        if state != "AWAITING_PLAN_APPROVAL":
            self.app.say(
                f"a: session {session.get('id')} is {state}: no plan waits for approval",
                error=True,
            )
            return
        self.app.approve(str(session.get("id")))

    def action_reply(self) -> None:
        session = self._session_or_say("r")
        if session is None:
            return
        box = self.query_one("#reply", Input)  # type: ignore[attr-defined]
        # The message goes to the session it was started for, named in the input line,
        # even if the rows move (or that session goes) while it is being typed.
        self._reply_to = str(session.get("id"))
        box.placeholder = f"message to {self._reply_to} (enter sends, escape cancels)"
        box.display = True
        box.focus()

    def send_reply(self, text: str) -> None:
        box = self.query_one("#reply", Input)  # type: ignore[attr-defined]
        sid = getattr(self, "_reply_to", None)
        box.value = ""
        box.display = False
        self.focus_main()
        if sid is None or self.app.session(sid) is None:
            self.app.say(f"r: session {sid} is no longer listed; nothing was sent", error=True)
            return
        if not text.strip():
            self.app.say("r: the message is empty; nothing was sent", error=True)
            return
        self.app.send(sid, text)

    def focus_main(self) -> None:
        pass

    def action_diff(self) -> None:
        session = self._session_or_say("d")
        if session is not None:
            self.app.show_diff(str(session.get("id")))

    def action_browser(self) -> None:
        session = self._session_or_say("o")
        if session is not None:
            self.app.open_in_browser(session)

    def action_archive(self) -> None:
        session = self._session_or_say("x")
        if session is not None:
            self.app.archive(session)

    def action_undo(self) -> None:
        self.app.undo_archive()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reply":
            event.stop()
            self.send_reply(event.value)

    def hide_reply(self) -> bool:
        box = self.query_one("#reply", Input)  # type: ignore[attr-defined]
        if box.display:
            box.value = ""
            box.display = False
            self.focus_main()
            return True
        return False


# The footer shows the most used keys (it has 80 columns at worst); `?` lists them all.
ACTION_BINDINGS = [
    Binding("a", "approve", "Approve"),
    Binding("r", "reply", "Reply"),
    Binding("d", "diff", "Diff"),
    Binding("o", "browser", "Browser", show=False),
    Binding("x", "archive", "Archive", show=False),
    Binding("u", "undo", "Undo", show=False),
]


# -- the table of every session ----------------------------------------------------------


class SessionsScreen(SessionActions, Screen):
    BINDINGS = [
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        *ACTION_BINDINGS,
        Binding("n", "new", "New"),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "back", "Back", show=False),
        Binding("enter", "open", "Open", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown_version = -1
        self._shown_minute = -1
        self._wide: bool | None = None
        self._last_row = 0
        self._keys: list[str] = []
        self._width = -1
        self._cells: dict[str, list[Any]] = {}
        self._wanted: str | None = None  # the session to put the cursor on at the next draw

    def want(self, sid: str) -> None:
        """Put the cursor on `sid` when it is next drawn (a session brought back by u)."""
        self._wanted = sid

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=False)
        with Vertical(classes="bottom"):
            yield Input(id="filter", placeholder="filter: words, state:S, repo:R (enter keeps it)")
            yield Input(id="reply")
            yield StatusLine(id="status")
            yield KeyLine()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#reply", Input).display = False
        if self.app.first_page_ready():
            self.refresh_data()  # the page read during start-up, in the very first frame

    def on_resize(self) -> None:
        self.refresh_data()  # new columns when the width changed, else nothing to do

    def on_screen_resume(self) -> None:
        self.refresh_data()
        self.focus_main()

    def focus_main(self) -> None:
        self.query_one("#sessions", DataTable).focus()

    def current_id(self) -> str | None:
        table = self.query_one("#sessions", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None
        return None if not key or key.startswith(HEADER_PREFIX) else key

    # -- drawing --------------------------------------------------------------------

    def _columns(self, table: DataTable, width: int) -> None:
        wide = width >= WIDE
        table.clear(columns=True)
        state_w, age_w, repo_w = 22, 8, 22 if wide else 18
        # Each column takes its width plus 2 of padding; the title (and, when wide, the
        # one line of what the session is at) share what is left.
        left = max(width - (state_w + age_w + repo_w) - 2 * (5 if wide else 4) - 2, 20)
        title_w = left * 11 // 20 if wide else left
        note_w = left - title_w
        table.add_column("STATE", width=state_w, key="state")
        table.add_column("AGE", width=age_w, key="age")
        table.add_column("REPO", width=repo_w, key="repo")
        self._repo_width, self._title_width, self._note_width = repo_w, title_w, note_w
        table.add_column("TITLE", width=title_w, key="title")
        if wide:
            table.add_column("NOW", width=note_w, key="note")
        self._wide = wide

    def refresh_data(self, *, force: bool = False) -> None:
        app = self.app
        version = app.tracker.version
        table = self.query_one("#sessions", DataTable)
        width = self.size.width or app.size.width
        columns_changed = width != self._width
        # The AGE column says "5m ago": it is redrawn once a minute even when nothing
        # else changed, so that it stays true in a view left open.
        minute = int(app.clock() // 60)
        if (
            not force
            and not columns_changed
            and version == self._shown_version
            and minute == self._shown_minute
        ):
            return
        self._shown_minute = minute
        if columns_changed:
            self._columns(table, width)
            self._width = width
        keep, self._wanted = self._wanted or self.current_id(), None
        overview = app.snapshot()
        now = app.clock()
        query = app.filter_text
        rows: list[tuple[str, list[Any]]] = []
        row_of: dict[str, int] = {}
        blank = [""] * (len(table.columns) - 1)
        for group in GROUPS:
            sessions = [s for s in overview.group(group) if not query or matches(s, query)]
            if not sessions and group != NEEDS_YOU:
                continue
            title = f"{GROUP_TITLES[group]} ({len(sessions)})"
            if group == ENDED:
                title = f"Ended within {app.since_text} ({len(sessions)})"
            rows.append((HEADER_PREFIX + group, [Text(title, style="bold underline"), *blank]))
            for session in sessions:
                sid = str(session.get("id"))
                state = str(session.get("state") or "")
                row = [
                    state_cell(state),
                    age_of(session, now),
                    fit_repo(one_line(repo_of(session)), self._repo_width),
                    fit(one_line(session.get("title") or session.get("prompt")), self._title_width),
                ]
                if self._wide:
                    note = one_line(overview.details.get(sid, Detail()).text)
                    row.append(fit(note, self._note_width))
                row_of[sid] = len(rows)
                rows.append((sid, row))
        if not row_of and app.tracker.loaded:
            empty = "nothing matches" if query else "no sessions"
            rows.append(("#empty", [Text(empty, style="dim"), *blank]))
        self._draw(table, rows, rebuild=columns_changed)
        self._shown_version = version
        target = row_of.get(keep) if keep else None
        if target is None:
            # The session under the cursor is gone (archived, filtered out): the one that
            # took its place, else the last one.
            places = list(row_of.values())
            target = next((r for r in places if r >= self._last_row), places[-1] if places else 0)
        table.move_cursor(row=target, animate=False)
        self._last_row = target
        self.sub_title = self._subtitle(overview, len(row_of))

    def _draw(self, table: DataTable, rows: list[tuple[str, list[Any]]], *, rebuild: bool) -> None:
        """The rows into the table: cell by cell when the same rows are shown in the same
        order (a poll mostly changes a few cells; redrawing 10,000 rows would not be
        cheap), else all of them anew."""
        keys = [key for key, _ in rows]
        if rebuild or keys != self._keys:
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
        else:
            columns = list(table.columns)
            for key, cells in rows:
                if self._cells.get(key) == cells:
                    continue
                for column, cell in zip(columns, cells, strict=False):
                    table.update_cell(key, column, cell)
        self._keys = keys
        self._cells = dict(rows)

    def _subtitle(self, overview, shown: int) -> str:
        if not self.app.tracker.loaded:
            return "reading the sessions..."  # not "0 need you": nothing is known yet
        if self.app.filter_text:
            return f"filter: {self.app.filter_text} ({shown} of {len(overview)})"
        parts = [
            f"{len(overview.needs_you)} need you",
            f"{len(overview.running)} running",
            f"{len(overview.ended)} ended",
        ]
        if not self.app.tracker.complete:
            parts.append("reading older pages")
        return ", ".join(parts)

    # -- moving (group headings are skipped) -------------------------------------------

    def _move(self, step: int) -> None:
        table = self.query_one("#sessions", DataTable)
        row = table.cursor_row
        for _ in range(table.row_count):
            row += step
            if not 0 <= row < table.row_count:
                return
            key = table.coordinate_to_cell_key((row, 0)).row_key.value or ""
            if not key.startswith(HEADER_PREFIX):
                table.move_cursor(row=row)
                self._last_row = row
                return

    def action_down(self) -> None:
        self._move(1)

    def action_up(self) -> None:
        self._move(-1)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The event may be stale: a redraw (table.clear(), then the cursor put back on
        # the session it was on) posts highlights of rows the cursor has already left.
        # Acting on the event's row would step from where the cursor is NOW and land on
        # a neighbour, and the next `x` would archive a session nobody selected. So
        # look at the cursor as it is now, and step off a heading only if it is on one.
        table = event.data_table
        row = table.cursor_row
        if not 0 <= row < table.row_count:
            return
        key = table.coordinate_to_cell_key((row, 0)).row_key.value or ""
        if key.startswith(HEADER_PREFIX) and key != "#empty":
            step = 1 if row >= self._last_row else -1
            self._last_row = row
            self._move(step)
            if table.cursor_row == row and step == -1:
                self._move(1)  # the heading at the top: go to the first session
        else:
            self._last_row = row

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        session = self._session_or_say("enter")
        if session is not None:
            self.app.open_session(str(session.get("id")))

    def action_new(self) -> None:
        self.app.push_screen(NewSessionScreen())

    # -- filtering --------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.app.filter_text
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.app.filter_text = event.value.strip()
            self.refresh_data(force=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # The filter only: Textual calls every class's handler along the MRO, so
        # SessionActions.on_input_submitted sends the reply by itself (calling it here
        # too sent every message typed in the table twice).
        if event.input.id == "filter":
            event.stop()
            event.input.display = False
            self.focus_main()

    def action_back(self) -> None:
        if self.hide_reply():
            return
        box = self.query_one("#filter", Input)
        if box.display or self.app.filter_text:
            box.value = ""
            box.display = False
            self.app.filter_text = ""
            self.refresh_data(force=True)
            self.focus_main()


# -- one session ---------------------------------------------------------------------------


class SessionScreen(SessionActions, Screen):
    BINDINGS = [*ACTION_BINDINGS, Binding("escape", "back", "Back")]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self._shown_activities = 0

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="body"):
            yield Static(id="head")
            yield Static(id="question")
            yield Static(id="plan")
            yield Static(id="activities")
        with Vertical(classes="bottom"):
            yield Input(id="reply")
            yield StatusLine(id="status")
            yield KeyLine()

    def on_mount(self) -> None:
        self.query_one("#reply", Input).display = False
        self.refresh_data()

    def current_id(self) -> str | None:
        return self.session_id

    def focus_main(self) -> None:
        self.query_one("#body").focus()

    def action_back(self) -> None:
        if not self.hide_reply():
            self.app.close_session()

    def refresh_data(self, *, force: bool = False) -> None:
        app = self.app
        session = app.session(self.session_id)
        if session is None:
            self.query_one("#head", Static).update(
                Text(f"Session {self.session_id} is no longer listed.", style="dim")
            )
            return
        activities = app.activities_of(self.session_id)
        state = str(session.get("state") or "")
        self.sub_title = f"{self.session_id}  {state}"
        head = Text()
        head.append(one_line(session.get("title") or session.get("prompt")), style="bold")
        head.append("\n")
        head.append_text(state_cell(state).copy())
        head.append(f"  {one_line(repo_of(session))}  {session_url(session)}", style="dim")
        detail = app.snapshot_detail(self.session_id)
        if detail.command:
            head.append(f"\n{detail.command}", style="cyan")
        self.query_one("#head", Static).update(head)

        asked = Text()
        if state in ("AWAITING_USER_FEEDBACK", "PAUSED"):
            text = question(activities)
            if text:
                asked.append("Jules asks:\n", style="bold yellow")
                asked.append(safe_text(text.strip()))
        self._show("#question", asked)

        steps, current = plan_progress(activities, state)
        plan = Text()
        if steps:
            plan.append("Plan\n", style="bold")
            for number, step in enumerate(steps):
                if current is None:
                    mark, style = "[ ]", ""
                elif number < current:
                    mark, style = "[x]", "green"
                elif number == current:
                    mark, style = "[>]", "bold yellow"
                else:
                    mark, style = "[ ]", ""
                plan.append(f"{mark} {number + 1}. {one_line(step.get('title'))}\n", style=style)
            if current is None:
                plan.append("waits for your approval: press a\n", style="yellow")
        self._show("#plan", plan)

        if activities:
            from rich.console import Group
            from rich.table import Table

            # Time, kind, what it says: a summary that wraps stays in its own column.
            rows = Table.grid(padding=(0, 1))
            rows.add_column(style="dim", no_wrap=True)
            rows.add_column(no_wrap=True)
            rows.add_column()
            for activity in activities[-100:]:
                kind = activity_kind(activity)
                rows.add_row(
                    str(activity.get("createTime") or "")[11:19],
                    Text(KIND_LABEL.get(kind, kind), style=KIND_STYLE.get(kind, "dim")),
                    safe_text(activity_summary(activity)),
                )
            lines: Any = Group(Text("Activities", style="bold"), rows)
        else:
            reading = app.tracker_reading(self.session_id)
            lines = Text("reading activities..." if reading else "")
        body = self.query_one("#body", VerticalScroll)
        at_end = body.scroll_y >= body.max_scroll_y - 1
        self._show("#activities", lines)
        if self._shown_activities and len(activities) != self._shown_activities and at_end:
            # New activities arrive at the bottom: follow them, unless scrolled back.
            self.call_after_refresh(body.scroll_end, animate=False)
        self._shown_activities = len(activities)

    def _show(self, selector: str, text: Any) -> None:
        """Text (hidden when empty) or another renderable into the widget."""
        widget = self.query_one(selector, Static)
        if isinstance(text, Text):
            text.rstrip()
            widget.display = bool(text.plain)
        else:
            widget.display = True
        widget.update(text)


# -- the diff ------------------------------------------------------------------------------


class DiffScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def __init__(self, session_id: str, stat: str, unidiff: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.stat = stat
        self.unidiff = unidiff

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="diff"):
            yield Static(Text(safe_text(self.stat), style="bold"), id="stat")
            yield Static(colour_diff(self.unidiff), id="patch")
        with Vertical(classes="bottom"):
            yield StatusLine(id="status")
            yield KeyLine()

    def on_mount(self) -> None:
        self.sub_title = f"diff of {self.session_id}"
        self.query_one("#diff").focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_scroll_down(self) -> None:
        self.query_one("#diff", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#diff", VerticalScroll).scroll_up()


def colour_diff(unidiff: str) -> Text:
    text = Text()
    for line in unidiff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("diff "):
            style = "bold yellow"
        text.append(safe_text(line) + "\n", style=style)
    return text


# -- a new session ------------------------------------------------------------------------


NO_REPO = "-"  # the Select value of "no repository" (never a source name)


class NewSessionScreen(Screen):
    # The prompt takes q and ? as text: the key line does not offer them here.
    APP_KEYS = False
    BINDINGS = [
        Binding("escape", "back", "Cancel"),
        Binding("ctrl+s", "create", "Create"),
    ]

    def compose(self) -> ComposeResult:
        from textual.widgets import Button, Checkbox, Select, TextArea

        yield Header(show_clock=False)
        with Vertical(id="form"):
            yield Static("Prompt", classes="label")
            yield TextArea(id="prompt")
            yield Static("Repository", classes="label")
            yield Select([], id="repo", prompt="reading the connected repositories...")
            yield Input(id="branch", placeholder="branch (default: the repository's default)")
            with Horizontal(id="checks"):
                yield Checkbox("Require plan approval", id="approval")
                yield Checkbox("Open a pull request (auto PR)", id="autopr")
            yield Button("Create (ctrl+s)", id="create", variant="primary")
        with Vertical(classes="bottom"):
            yield StatusLine(id="status")
            yield KeyLine()

    def on_mount(self) -> None:
        from textual.widgets import Checkbox

        from jules_cli.sessions import choice_or_default

        self.sub_title = "new session"
        self.sources: dict[str, dict[str, Any]] = {}
        # The profile's defaults, as `session new` takes them when no option is given.
        setting = self.app.setting
        approval = choice_or_default(None, setting("require-approval"))
        self.query_one("#approval", Checkbox).value = approval
        self.query_one("#autopr", Checkbox).value = choice_or_default(None, setting("auto-pr"))
        self.query_one("#prompt").focus()
        self.app.load_sources(self)

    def sources_loaded(
        self, sources: list[dict[str, Any]], preselect: str | None, branch: str | None = None
    ) -> None:
        """The repositories to pick from, `preselect` (owner/repo) picked when it is one of
        them, with `branch` (the profile's, which goes with the profile's repo)."""
        from textual.widgets import Select

        from jules_cli.sources import repo_label

        self.sources = {str(s.get("name")): s for s in sources if s.get("name")}
        options = [(repo_label(s), name) for name, s in self.sources.items()]
        options.append(("(no repository)", NO_REPO))
        select = self.query_one("#repo", Select)
        select.set_options(options)
        select.prompt = "pick a repository"
        if preselect:
            wanted = preselect.lower().removeprefix("sources/").removeprefix("github/")
            for name, source in self.sources.items():
                if repo_label(source).lower() == wanted:
                    select.value = name
                    if branch:
                        self.query_one("#branch", Input).value = branch
                    break
            else:
                self.app.say(f"n: {preselect} is not among the connected repositories: pick one")

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_button_pressed(self, event: Any) -> None:
        if event.button.id == "create":
            self.action_create()

    def action_create(self) -> None:
        from textual.widgets import Checkbox, Select, TextArea

        from jules_cli.sessions import NewSession
        from jules_cli.sources import default_branch

        prompt = self.query_one("#prompt", TextArea).text.strip()
        if not prompt:
            self.app.say("n: the prompt is empty", error=True)
            return
        value = self.query_one("#repo", Select).value
        if value is Select.BLANK or value is None:
            self.app.say("n: pick a repository (or '(no repository)')", error=True)
            return
        request = NewSession(
            prompt=prompt,
            require_approval=self.query_one("#approval", Checkbox).value,
            auto_pr=self.query_one("#autopr", Checkbox).value,
        )
        if value != NO_REPO:
            source = self.sources[str(value)]
            request.source = source
            request.branch = self.query_one("#branch", Input).value.strip() or default_branch(
                source
            )
        self.app.create(request.to_request())


# -- the keys -------------------------------------------------------------------------------


class HelpScreen(ModalScreen):
    # escape or ? again closes it; q quits, as everywhere (a modal screen does not pass
    # keys on to the app's bindings, so it says so itself).
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        from rich.console import Group
        from rich.table import Table

        # Two columns, so that a description that wraps at 80 columns stays beside its key.
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for key, what in KEYS:
            keys.add_row(key, what)
        yield Static(Group(Text("Keys\n", style="bold"), keys), id="help")

    def action_close(self) -> None:
        self.app.pop_screen()


# -- the app ---------------------------------------------------------------------------------


class Dashboard(App):
    TITLE = "jules dashboard"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #sessions { height: 1fr; }
    /* The input lines, the status line and the keys, stacked at the bottom. The status
       line grows to 3 lines for a long message (an error, a URL to copy) at 80 columns
       rather than cutting it off. */
    .bottom { dock: bottom; height: auto; }
    #status { height: auto; min-height: 1; max-height: 3; padding: 0 1; }
    #body { height: 1fr; padding: 0 1; }
    #head, #question, #plan { margin-bottom: 1; }
    #diff { height: 1fr; padding: 0 1; }
    #form { height: 1fr; padding: 0 1; }
    #prompt { height: 6; }
    #checks { height: 3; }
    .label { color: $text-muted; }
    HelpScreen { align: center middle; }
    #help { width: 64; height: auto; border: round $accent; padding: 1 2; background: $panel; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "keys", "Keys"),
        # Ctrl-C ends the view at once, as it ends every jules command, with the exit code
        # of an interrupt (CLI.md: 130), not Textual's "press ctrl+q to quit" notice.
        Binding("ctrl+c", "interrupt", "Interrupt", show=False, priority=True),
    ]

    def __init__(
        self,
        client: JulesClient,
        *,
        since: float,
        since_text: str = "24h",
        pacer: Any,
        interval: float = DEFAULT_INTERVAL,
        open_url: Callable[[str], bool] | None = None,
        tracker: Tracker | None = None,
        first_poll: threading.Thread | None = None,
        current_repo: Callable[[], str | None] | None = None,
        setting: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.client = client
        # The profile's settings (require-approval, auto-pr, repo) for the form's defaults.
        self.setting: Callable[[str], Any] = setting or (lambda name: None)
        # A tracker whose first page is already on its way (first_poll), or a new one.
        self.tracker = tracker or Tracker(client, since, pacer=pacer)
        self._first_poll = first_poll
        self.since_text = since_text
        self.interval = interval
        self.open_url = open_url or self._browse
        self.current_repo = current_repo or _checkout_repo
        self.clock = clock
        self.filter_text = ""
        self.open_id: str | None = None
        self.archived: list[dict[str, Any]] = []
        self._asked: dict[str, str] = {}  # session id: the message sent to it with r
        self._archiving: set[str] = set()  # archives sent, not answered yet
        self.first_table = threading.Event()  # set once the first page is in the table
        self._drawn = threading.Event()  # ... and drawn on the screen
        self._polling = False
        self._last_error: str | None = None

    # -- data, shared with the worker threads under one lock --------------------------

    def snapshot(self):
        return self.tracker.overview()

    def snapshot_detail(self, sid: str) -> Detail:
        return self.tracker.detail(sid)

    def session(self, sid: str | None) -> dict[str, Any] | None:
        return self.tracker.session(sid)

    def activities_of(self, sid: str) -> list[dict[str, Any]]:
        return self.tracker.activities_of(sid)

    def tracker_reading(self, sid: str) -> bool:
        with self.tracker.lock:
            return sid not in self.tracker.activities

    # -- life cycle --------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        # The table is the app's own screen (not one pushed over an empty default): one
        # screen to lay out and draw before the first table shows.
        return SessionsScreen()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.interval, self.poll)

    def first_page_ready(self) -> bool:
        """Has the page read while the app started arrived already?"""
        first = self._first_poll
        return first is not None and not first.is_alive() and self.tracker.loaded

    def say(self, message: str, *, error: bool = False) -> None:
        for line in self.screen.query("#status"):
            if isinstance(line, StatusLine):
                line.say(message, error=error)

    def poll(self, *, sessions: bool = True) -> None:
        """A sessions page, then activities as the pacer allows; with sessions=False only
        the open session's activities (a session just opened: one page per interval)."""
        if self._polling:
            return  # the previous poll is still waiting on the network
        self._polling = True
        self._poll(sessions)

    @work(thread=True, group="poll")
    def _poll(self, sessions: bool = True) -> None:
        # Whatever goes wrong, the view goes on: the next interval polls again.
        error: str | None = None
        first, self._first_poll = self._first_poll, None
        most = 12 if sessions or first is not None else 1
        try:
            if first is not None:
                first.join()  # the page read while the app was starting
                if self.tracker.first_error is not None:
                    raise self.tracker.first_error
            elif sessions:
                self.tracker.poll_sessions()
        except Exception as exc:
            error = describe_error(exc)
        # The table first (the first page is the first complete table), activities after
        # it is on the screen: they would only compete with drawing it.
        self.call_from_thread(self._polled, error, False)
        self._drawn.wait(timeout=2.0)
        try:
            # Wait for the pacer's turns during most of the interval, not only the free
            # one: a busy view then uses its whole share (30 a minute), never more.
            deadline = time.monotonic() + min(self.interval * 0.8, MAX_PACER_WAIT)
            for sid in list(self._asked):
                self.tracker.touch(sid)  # its answer moves no updateTime: read it anyway
            # The open session is asked at every turn: one opened meanwhile goes first.
            self.tracker.poll_activities(lambda: self.open_id, most=most, deadline=deadline)
        except Exception as exc:
            error = error or describe_error(exc)
        self.call_from_thread(self._polled, error, True)

    def _polled(self, error: str | None, final: bool) -> None:
        self.refresh_screens()
        if self._asked:
            self._show_answers()
        if self.tracker.loaded and not self.first_table.is_set():
            self.first_table.set()
            self.call_after_refresh(self._drawn.set)
        elif not self.tracker.loaded:
            self._drawn.set()  # nothing to draw yet: do not hold the activities back
        if not final:
            return
        self._polling = False
        if error:
            self.say(error, error=True)
        elif self._last_error:
            self.say("connected again")
        self._last_error = error

    def refresh_screens(self) -> None:
        screen = self.screen
        refresh = getattr(screen, "refresh_data", None)
        if refresh is not None:
            refresh()

    # -- actions (each in a worker; the outcome lands in the status line) --------------

    def _run(self, what: str, call: Callable[[], Any], done: Callable[[Any], None]) -> None:
        def body() -> None:
            try:
                result = call()
            except JulesError as exc:
                said = describe_error(exc, polling=False)
                self.call_from_thread(self.say, f"{what} failed: {said}", error=True)
                return
            self.call_from_thread(done, result)

        self.run_worker(body, thread=True, group="actions")

    def _after(self, message: str) -> Callable[[dict[str, Any]], None]:
        def done(session: dict[str, Any]) -> None:
            self.tracker.put(session)
            self.say(message)
            self.refresh_screens()

        return done

    def approve(self, sid: str) -> None:
        def call() -> dict[str, Any]:
            self.client.approve_plan(sid)
            return self.client.get_session(sid)

        self._run(f"approving {sid}", call, self._after(f"Plan of {sid} approved"))

    def send(self, sid: str, text: str) -> None:
        def call() -> dict[str, Any]:
            self.client.send_message(sid, text)
            return self.client.get_session(sid)

        said = self._after(f"Message sent to {sid}; the answer shows when it comes")

        def done(session: dict[str, Any]) -> None:
            self._asked[sid] = text  # its answer goes to the status line when it comes
            said(session)

        self._run(f"sending to {sid}", call, done)

    def _show_answers(self) -> None:
        """Answers to the messages sent with r, in the status line as they arrive, so
        that they show in the table too (the open session's view lists them anyway)."""
        for sid, text in list(self._asked.items()):
            if self.session(sid) is None:
                del self._asked[sid]  # archived or gone
                continue
            answer = answer_to(self.activities_of(sid), text)
            if answer is not None:
                del self._asked[sid]
                self.say(f"Answer from {sid}: {safe_text(answer)}")

    def archive(self, session: dict[str, Any]) -> None:
        sid = str(session.get("id"))
        if sid in self._archiving:
            return  # x pressed again before the first answer: one archive, one undo
        self._archiving.add(sid)

        def call() -> Any:
            try:
                return self.client.archive_session(sid)
            finally:
                self._archiving.discard(sid)

        def done(_: Any) -> None:
            self.tracker.hide(sid)
            self.archived.append(session)
            if self.open_id == sid:
                self.close_session()  # first: the message goes on the table it returns to
            self.say(f"Archived {sid}: press u to undo")
            self.refresh_screens()

        self._run(f"archiving {sid}", call, done)

    def undo_archive(self) -> None:
        if not self.archived:
            self.say("u: nothing to undo", error=True)
            return
        session = self.archived.pop()
        sid = str(session.get("id"))

        def call() -> dict[str, Any]:
            self.client.unarchive_session(sid)
            return self.client.get_session(sid)

        def done(fresh: dict[str, Any]) -> None:
            self.tracker.unhide(fresh)
            if isinstance(self.screen, SessionsScreen):
                self.screen.want(sid)  # the cursor back on what came back
            self.say(f"Unarchived {sid}")
            self.refresh_screens()

        def failed_call() -> dict[str, Any]:
            try:
                return call()
            except JulesError:
                self.archived.append(session)  # still undoable
                raise

        self._run(f"unarchiving {sid}", failed_call, done)

    def create(self, body: dict[str, Any]) -> None:
        def done(session: dict[str, Any]) -> None:
            self.tracker.put(session)
            if isinstance(self.screen, NewSessionScreen):
                self.pop_screen()
            if isinstance(self.screen, SessionsScreen):
                self.screen.want(str(session.get("id")))  # the cursor on the new one
            self.say(f"Created session {session.get('id')}")
            self.refresh_screens()

        self._run("creating the session", lambda: self.client.create_session(body), done)

    def load_sources(self, form: NewSessionScreen) -> None:
        def call() -> tuple[list[dict[str, Any]], str | None, str | None]:
            sources = list(self.client.list_sources())
            # The repository `session new` would take: the profile's (with the profile's
            # branch), else the checkout's.
            profile = self.setting("repo")
            branch = self.setting("branch")
            branch = branch.strip() if isinstance(branch, str) and branch.strip() else None
            if isinstance(profile, str) and profile.strip() and profile.strip() != ".":
                return sources, profile.strip(), branch
            return sources, self.current_repo(), branch if profile == "." else None

        self._run("reading the repositories", call, lambda found: form.sources_loaded(*found))

    def open_in_browser(self, session: dict[str, Any]) -> None:
        from jules_cli.errors import JulesError
        from jules_cli.sessions import browser_url

        try:
            # The URL is the API's: only an https:// one is given to a browser.
            url = browser_url(session_url(session))
        except JulesError as refused:
            self.say(f"o: {refused}", error=True)
            return
        try:
            opened = self.open_url(url)
        except Exception:  # webbrowser.Error, or a browser that fails to start
            opened = False
        if opened:
            self.say(f"Opened {url}")
        else:
            self.say(f"o: no browser available; the page is {url}", error=True)

    def _browse(self, url: str) -> bool:
        """The system's browser; one that runs in the terminal gets the terminal while it
        runs (the dashboard is suspended, as lazygit does for an editor), instead of both
        drawing on one screen and the keys going to both."""
        import webbrowser

        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            return False
        if not runs_in_the_terminal(browser):
            return browser.open(url)
        from textual.app import SuspendNotSupported

        try:
            with self.suspend():
                return browser.open(url)
        except SuspendNotSupported:
            return False

    def show_diff(self, sid: str) -> None:
        from jules_cli.artifacts import select_patch
        from jules_cli.diffstat import diffstat, format_stat

        def call() -> tuple[str, str]:
            session = self.client.get_session(sid)
            if self.tracker.pacer.try_acquire():
                self.tracker.read_activities(sid)
            activities = self.tracker.activities_of(sid)
            patch = select_patch(session, activities, None)
            width = max(self.size.width - 4, 40)
            return format_stat(diffstat(patch.unidiff), width), patch.unidiff

        self._run(
            f"d: the diff of {sid}", call, lambda found: self.push_screen(DiffScreen(sid, *found))
        )

    def open_session(self, sid: str) -> None:
        self.open_id = sid
        self.push_screen(SessionScreen(sid))
        # Its activities at once, not at the next interval (the pacer still decides);
        # no extra sessions page: that stays one per interval.
        self.poll(sessions=False)

    def close_session(self) -> None:
        self.open_id = None
        if isinstance(self.screen, SessionScreen):
            self.pop_screen()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.tracker.stop.set()  # a poll waiting for the pacer gives up at once
        super().exit(*args, **kwargs)

    def action_interrupt(self) -> None:
        from jules_cli.errors import ExitCode

        self.exit(return_code=int(ExitCode.INTERRUPTED))

    def action_keys(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def runs_in_the_terminal(browser: Any) -> bool:
    """Is `browser` (a webbrowser controller) one that runs in this terminal and waits
    until it is closed (lynx, w3m, links, www-browser, or $BROWSER without `&`)? Python
    registers those as GenericBrowser itself; GUI browsers are subclasses of it that
    start in the background (BackgroundBrowser, xdg-open's, Chrome's, ...)."""
    import webbrowser

    return type(browser) is webbrowser.GenericBrowser


def _checkout_repo() -> str | None:
    """owner/repo of the git checkout here, to preselect in the new-session form."""
    from jules_cli.errors import UsageError
    from jules_cli.gitremote import current_repo

    try:
        return current_repo()
    except (UsageError, OSError):
        return None

