"""Following sessions from the command line: shared by `session` and `activities` verbs.

The polling engine (jules_cli.follow) decides; this module connects it to the output
and, in a terminal, to the user: a plan waiting for approval or a question from the agent
is answered right there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import typer

from jules_cli.cli.context import AppContext
from jules_cli.errors import ExitCode
from jules_cli.follow import Condition, parse_duration


def ask(question: str) -> str | None:
    """One line from the user, the question on stderr; None at end of input."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        # End the prompt's line, so what is printed on the way out does not follow "^C".
        sys.stderr.write("\n")
        sys.stderr.flush()
        raise
    return None if line == "" else line.strip()


def _latest(activities: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((a for a in reversed(activities) if kind in a), None)


def answer_hook(appctx: AppContext, watcher):
    """The engine's on_waiting_for_user: approve a plan or reply to the agent in place."""
    from jules_cli.render.activities import activity_details
    from jules_cli.render.output import safe_text

    client = appctx.client()
    out = watcher.out

    def hook(session: dict[str, Any], recent: list[dict[str, Any]]) -> bool:
        watcher.pause()
        keep_following = respond(session, recent)
        # The live view comes back only to go on following: after a refusal or an error
        # (Ctrl-C at the prompt) the watcher's finish() prints the final view once.
        if keep_following:
            watcher.resume()
        return keep_following

    def respond(session: dict[str, Any], recent: list[dict[str, Any]]) -> bool:
        sid = session.get("id", "")
        state = session.get("state")
        plan = _latest(recent, "planGenerated")
        approved_after = plan is not None and any(
            "planApproved" in a for a in recent[recent.index(plan) :]
        )
        if state == "AWAITING_PLAN_APPROVAL" or (plan is not None and not approved_after):
            if plan is not None:
                out.err.print("\nJules proposes this plan:", style="bold")
                for part in activity_details(plan, terminal=True):
                    out.err.print(part)
            reply = ask("Approve this plan? [Y/n, or type feedback] ")
            if reply is None:
                return False
            if reply.lower() in ("", "y", "yes"):
                client.approve_plan(sid)
                out.success("Plan approved.")
                return True
            if reply.lower() in ("n", "no"):
                out.info("Not approved.")  # the closing lines say how to approve later
                return False
            client.send_message(sid, reply)
            out.success("Feedback sent.")
            return True
        question = _latest(recent, "agentMessaged")
        if question is not None:
            text = (question.get("agentMessaged") or {}).get("agentMessage", "")
            out.err.print("\nJules asks:", style="bold yellow")
            out.err.print(safe_text(text))  # the agent's text must not drive the terminal
        elif state == "PAUSED":
            out.err.print("\nThe session is paused.", style="bold yellow")
        reply = ask("Your reply (empty to stop following): ")
        if not reply:
            return False  # the closing lines say how to reply later
        client.send_message(sid, reply)
        out.success("Reply sent.")
        return True

    return hook


@dataclass(frozen=True)
class WatchOptions:
    """--until, --timeout and --interval, checked once, before any request."""

    condition: Condition
    timeout: float | None = None
    interval: float | None = None

    @classmethod
    def parse(
        cls, until: str = "done", timeout: str | None = None, interval: float | None = None
    ) -> WatchOptions:
        from jules_cli.errors import UsageError

        if interval is not None and interval <= 0:
            raise UsageError("--interval must be a positive number of seconds")
        seconds = parse_duration(timeout) if timeout is not None else None
        return cls(Condition.parse(until), seconds, interval)


def watch(
    appctx: AppContext,
    session_id: str,
    options: WatchOptions,
    *,
    show_activities: bool,
):
    """Follow a session until the condition; returns the engine's FollowResult."""
    from jules_cli.follow import follow
    from jules_cli.render.live import Watcher, print_outcome

    out = appctx.out
    condition = options.condition
    live = show_activities and out.is_terminal and not out.json_mode
    watcher = Watcher(out, session_id, live=live)
    hook = None
    if show_activities and appctx.interactive and not condition.stops_for_user:
        hook = answer_hook(appctx, watcher)
    with watcher:
        result = follow(
            appctx.client(),
            session_id,
            condition=condition,
            timeout=options.timeout,
            interval=options.interval,
            on_activity=watcher.activity if show_activities else None,
            on_state_change=watcher.state_change,
            on_waiting_for_user=hook,
        )
    print_outcome(out, result.session, result.state, result.outcome)
    return result


def finish(result) -> None:
    """Leave with the wait's exit code (0 needs no exception)."""
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(result.exit_code)


def wait_for_reply(
    appctx: AppContext, session_id: str, text: str, options: WatchOptions
) -> tuple[dict[str, Any] | None, int]:
    """Send a message, then wait for the agent's answer (jules_cli.follow.send_and_wait)."""
    from jules_cli.follow import send_and_wait

    return send_and_wait(
        appctx.client(), session_id, text, timeout=options.timeout, interval=options.interval
    )
