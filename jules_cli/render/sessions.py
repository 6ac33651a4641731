"""Sessions for people: coloured states in plain words, the next action, the PR URL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jules_cli.render.activities import as_dict, as_list, as_text
from jules_cli.render.output import Column, Output, safe_text
from jules_cli.render.times import show_time

STATE_STYLE = {
    "QUEUED": "cyan",
    "PLANNING": "cyan",
    "IN_PROGRESS": "blue",
    "AWAITING_PLAN_APPROVAL": "bold yellow",
    "AWAITING_USER_FEEDBACK": "bold yellow",
    "PAUSED": "yellow",
    "COMPLETED": "green",
    "FAILED": "bold red",
}

STATE_MEANING = {
    "STATE_UNSPECIFIED": "state not reported",
    "QUEUED": "waiting to start",
    "PLANNING": "Jules is writing a plan",
    "AWAITING_PLAN_APPROVAL": "the plan is ready and waits for your approval",
    "AWAITING_USER_FEEDBACK": "Jules asked a question and waits for your answer",
    "IN_PROGRESS": "Jules is working",
    "PAUSED": "paused; send a message to resume",
    "COMPLETED": "finished",
    "FAILED": "Jules stopped without finishing",
}


def state_of(session: dict[str, Any]) -> str:
    return as_text(session.get("state")) or "STATE_UNSPECIFIED"


def state_text(state: Any):
    from rich.text import Text

    state = as_text(state) or "STATE_UNSPECIFIED"
    return Text(safe_text(state), style=STATE_STYLE.get(state, ""))


def source_of(session: dict[str, Any]) -> str:
    return as_text(as_dict(session.get("sourceContext")).get("source"))


def repo_of(session: dict[str, Any]) -> str:
    """`owner/repo` of the session's source, or `-` for a repoless session."""
    source = source_of(session)
    if not source:
        return "-"
    parts = source.split("/")
    if len(parts) >= 4 and parts[0] == "sources" and parts[1] == "github":
        return "/".join(parts[2:])
    return source.removeprefix("sources/")


def branch_of(session: dict[str, Any]) -> str | None:
    context = as_dict(session.get("sourceContext"))
    return as_text(as_dict(context.get("githubRepoContext")).get("startingBranch")) or None


def pull_requests(session: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        output["pullRequest"]
        for output in as_list(session.get("outputs"))
        if isinstance(output, dict) and isinstance(output.get("pullRequest"), dict)
    ]


def session_url(session: dict[str, Any]) -> str:
    url = as_text(session.get("url"))
    return url or f"https://jules.google.com/session/{as_text(session.get('id'))}"


def next_action(
    session: dict[str, Any], activities: Iterable[dict[str, Any]] | None = None
) -> str | None:
    """What the user can do now, given the session's state and what it produced.

    `activities`, when known, count for "did it make a change" besides the session's
    outputs (the API puts the final change set there when there is one)."""
    from jules_cli.sessions import has_change

    sid = as_text(session.get("id")) or "ID"
    state = session.get("state")
    if state == "AWAITING_PLAN_APPROVAL":
        return (
            f"approve the plan with `jules session approve {sid}`, "
            f'or ask for changes with `jules session send {sid} "..."`'
        )
    if state == "AWAITING_USER_FEEDBACK":
        return f'answer with `jules session send {sid} "your reply"`'
    if state == "PAUSED":
        return f'resume with `jules session send {sid} "continue"`'
    if state in ("QUEUED", "PLANNING", "IN_PROGRESS"):
        return f"follow it with `jules activities tail {sid}`"
    if state == "FAILED":
        return (
            f'a message reopens it: `jules session send {sid} "..."`; '
            f"or start over with `jules session retry {sid}`"
        )
    if state == "COMPLETED" and not pull_requests(session):
        if has_change(session, activities or ()):
            return f"get the change with `jules session diff {sid}` or `jules session apply {sid}`"
        return f'it made no change; ask for more with `jules session send {sid} "..."`'
    return None


def print_next(out: Output, action: str) -> None:
    """`Next: ...` on stderr, on one unbroken line (the command in it is copied)."""
    from rich.text import Text

    line = Text("Next: ", style="bold")
    line.append(safe_text(action))
    out.err.print(line, soft_wrap=True)


# In a narrow terminal the title is cut first, then CREATED and REPO are left out.
SESSION_COLUMNS = [
    Column("ID", no_wrap=True),
    Column("STATE", no_wrap=True),
    Column("TITLE"),
    Column("REPO", no_wrap=True, drop=1),
    Column("CREATED", no_wrap=True, drop=2),
]


def session_row(session: dict[str, Any], *, relative: bool) -> list[Any]:
    return [
        as_text(session.get("id")),
        state_text(session.get("state")),
        as_text(session.get("title")),
        repo_of(session),
        show_time(as_text(session.get("createTime")), relative_to_now=relative),
    ]


def print_sessions(out: Output, sessions: Iterable[dict[str, Any]]) -> int:
    relative = out.is_terminal
    rows = (session_row(s, relative=relative) for s in sessions)
    return out.table(SESSION_COLUMNS, rows, empty="No sessions.")


# The states in which `session show` reads the activities too: what the session waits on
# (the question, the plan) and why it failed are not in the Session object.
STATES_WITH_DETAIL = ("FAILED", "AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED")


def print_session(
    out: Output, session: dict[str, Any], activities: list[dict[str, Any]] | None = None
) -> None:
    """One session as label/value lines; with its `activities`, also why it failed, or
    the question or plan it waits on, and the command to answer (`Next:`)."""
    from rich.text import Text

    from jules_cli.render.activities import plan_lines, plan_steps
    from jules_cli.sessions import pending_plan, pending_question

    relative = out.is_terminal
    state = state_of(session)
    state_line = state_text(state)
    if out.is_terminal:
        state_line.append(f"  ({STATE_MEANING.get(state, 'unknown state')})", style="dim")
    context = as_dict(session.get("sourceContext"))
    fields: list[tuple[str, Any]] = [
        ("ID", as_text(session.get("id"))),
        ("Title", as_text(session.get("title"))),
        ("State", state_line if out.is_terminal else state),
        ("Reason", _reason_field(session, activities, out.is_terminal)),
        ("Repo", repo_of(session)),
        ("Source", source_of(session)),
        ("Branch", branch_of(session)),
        ("Working branch", as_text(context.get("workingBranch"))),
        ("Created", show_time(as_text(session.get("createTime")), relative_to_now=relative)),
        ("Updated", show_time(as_text(session.get("updateTime")), relative_to_now=relative)),
        ("URL", session_url(session)),
    ]
    for pr in pull_requests(session):
        url = as_text(pr.get("url"))
        # What one clicks stands out; a pipe gets the plain URL.
        shown = Text(safe_text(url), style="bold cyan") if out.is_terminal else url
        fields.append(("Pull request", shown))
    if session.get("archived"):
        fields.append(("Archived", "yes"))
    patch = _output_patch_stat(session)
    if patch:
        fields.append(("Change", patch))
    fields.append(("Prompt", _prompt_text(session.get("prompt"), out.is_terminal)))
    question = plan = None
    if activities is not None and state in ("AWAITING_USER_FEEDBACK", "PAUSED"):
        question = pending_question(activities)
    if activities is not None and state == "AWAITING_PLAN_APPROVAL":
        plan = pending_plan(activities)
    if not out.is_terminal:
        # A pipe: one line per field, so `grep ^Question` or `cut -f2` works.
        if question:
            fields.append(("Question", " ".join(question.split())))
        if plan:
            steps = [as_text(step.get("title")) for step in plan_steps(plan)]
            fields.append(("Plan", "; ".join(f"{n}. {t}" for n, t in enumerate(steps, 1))))
    out.fields(fields)
    if out.is_terminal and question:
        out.print(Text("\nJules asks:", style="bold yellow"))
        out.print(Text(safe_text(question), style="bold"))
    if out.is_terminal and plan:
        out.print(Text("\nThe plan waiting for your approval:", style="bold yellow"))
        for line in plan_lines(plan):
            out.print(line)
    if out.is_terminal and state == "FAILED" and activities:
        _print_failed_checklist(out, activities)
    action = next_action(session, activities)
    if action and out.is_terminal:
        line = Text("\nNext: ", style="bold")
        line.append(safe_text(action))
        out.console.print(line, soft_wrap=True)  # one unbroken line: it is copied
    elif action:
        out.info(safe_text(f"Next: {action}"))


def _print_failed_checklist(out: Output, activities: list[dict[str, Any]]) -> None:
    """The plan as the live view's checklist: the steps done, and the one it failed on."""
    from rich.text import Text

    from jules_cli.render.live import PlanProgress  # here: render.live imports this module

    progress = PlanProgress()
    for activity in activities:
        progress.add(activity)
    if not progress.steps:
        return
    progress.failed, progress.finished = True, False  # FAILED, whatever came last
    out.print(Text("\nPlan:", style="bold"))
    for line in progress.checklist():
        out.print(line)


def _reason_field(
    session: dict[str, Any], activities: list[dict[str, Any]] | None, terminal: bool
) -> Any:
    """Why a FAILED session failed, for `session show` (None for any other state)."""
    from rich.text import Text

    from jules_cli.sessions import failure_reason

    if state_of(session) != "FAILED" or activities is None:
        return None
    reason = failure_reason(activities) or "not given"
    return Text(safe_text(reason), style="bold red") if terminal else reason


def _prompt_text(value: Any, terminal: bool) -> str | None:
    prompt = as_text(value)
    if not prompt:
        return None
    # In a pipe every field stays on one line so `cut -f2` works.
    return prompt if terminal else " ".join(prompt.split())


def _output_patch_stat(session: dict[str, Any]) -> str | None:
    from jules_cli.diffstat import diffstat

    for output in as_list(session.get("outputs")):
        patch = as_dict(as_dict(as_dict(output).get("changeSet")).get("gitPatch"))
        unidiff = patch.get("unidiffPatch")
        if unidiff and isinstance(unidiff, str):
            stats = diffstat(unidiff)
            added = sum(s.added for s in stats)
            removed = sum(s.removed for s in stats)
            files = "file" if len(stats) == 1 else "files"
            return f"{len(stats)} {files} changed, +{added} -{removed}"
    return None


def print_created(
    out: Output, sessions: list[dict[str, Any]], *, hint: bool = True, state: bool = True
) -> None:
    """What `session new` prints: id, title and URL of each, then the next step.

    `state=False` leaves the state out: a live view below shows it as it changes, and a
    `State QUEUED` line above it would stay there, stale, for the whole follow."""
    for index, session in enumerate(sessions):
        if index:
            out.line()  # a blank line between records, so `--parallel N` output parses
        out.fields(
            [
                ("ID", as_text(session.get("id"))),
                ("Title", as_text(session.get("title"))),
                ("State", as_text(session.get("state")) if state else None),
                ("URL", session_url(session)),
            ]
        )
    if not hint:
        return
    ids = [as_text(session.get("id")) or "ID" for session in sessions]
    if len(ids) == 1:
        next_step = (
            f"Next: follow it with `jules activities tail {ids[0]}`, "
            f"or `jules session wait {ids[0]}`"
        )
    else:  # --parallel N: the one command that waits on all of them together
        next_step = f"Next: wait on them together with `jules session wait {' '.join(ids)}`"
    out.info(safe_text(next_step))


def print_state_change(out: Output, what: str, session: dict[str, Any]) -> None:
    """After `approve` or `send`: what was done, the session as read back, what next.

    The action sets the session moving, but the state read right after it may still be
    the one before (AWAITING_PLAN_APPROVAL just after approving, COMPLETED just after a
    message reopened it): the next step is to follow it, whatever that state says."""
    from rich.text import Text

    state = state_of(session)
    sid = as_text(session.get("id"))
    meaning = STATE_MEANING.get(state, "")
    line = Text(safe_text(f"{what}: "), style="green")
    line.append(safe_text(f"session {sid} is "))
    line.append_text(state_text(state))
    line.append(safe_text(f" ({meaning})"))
    out.err.print(line, soft_wrap=True)
    print_next(out, f"follow it with `jules activities tail {sid or 'ID'}`")
