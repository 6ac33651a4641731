"""Following sessions from the command line: shared by `session` and `activities` verbs.

The polling engine (jules_cli.follow) decides; this module connects it to the output
and, in a terminal, to the user: a plan waiting for approval or a question from the agent
is answered right there.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import typer

from jules_cli.cli.context import AppContext
from jules_cli.cli.options import INTERVAL_ERROR, INTERVAL_HINT, MIN_INTERVAL
from jules_cli.cli.prompts import ask
from jules_cli.errors import ExitCode
from jules_cli.follow import Condition, parse_duration

# How long after --timeout the last look at the session (or the error that replaced it)
# may take: a wait ends within about a second of its deadline, whatever the server does.
FINAL_LOOK_SECONDS = 1.0


def answer_hook(appctx: AppContext, watcher):
    """The engine's on_waiting_for_user: approve a plan or reply to the agent in place.

    Everything it prints stays in the scrollback: the plan or question, the prompt with
    the answer typed, and one confirmation line; then the live view goes on below.
    Feedback on a plan is confirmed at once; the view then waits for Jules's answer or a
    new plan (the engine calls again only when one arrives), shows it, and asks again: a
    new plan in full, the same plan by reference to the one above."""
    from jules_cli.render.activities import plan_lines
    from jules_cli.render.output import safe_text
    from jules_cli.sessions import pending_plan, pending_question

    client = appctx.client()
    out = watcher.out
    shown_plans: set[str] = set()

    def hook(session: dict[str, Any], recent: list[dict[str, Any]]) -> bool:
        watcher.pause()
        keep_following = respond(session, recent)
        watcher.printed_elsewhere()  # the prompt and its answer are below the last line
        # The live view comes back only to go on following: after a refusal the
        # watcher's finish() prints the final view once.
        if keep_following:
            watcher.resume()
        return keep_following

    def respond(session: dict[str, Any], recent: list[dict[str, Any]]) -> bool:
        sid = session.get("id", "")
        state = session.get("state")
        plan = pending_plan(recent)
        if state == "AWAITING_PLAN_APPROVAL" or plan is not None:
            question = "Approve this plan? [Y/n, or type feedback] "
            key = str(plan.get("id") or plan.get("name") or id(plan)) if plan else ""
            if plan is not None and key not in shown_plans:
                heading = "a new plan" if shown_plans else "this plan"
                heading = f"Jules proposes {heading}:"
                out.err.print(f"\n{heading}", style="bold")
                for line in plan_lines(plan):
                    out.err.print(line)
                shown_plans.add(key)
            elif plan is not None:
                question = "Approve the plan above? [Y/n, or type more feedback] "
            reply = ask(question)
            if reply is None:
                return False
            if reply.lower() in ("", "y", "yes"):
                client.approve_plan(sid)
                watcher.acted("planApproved")
                out.success("Plan approved.")
                watcher.waiting(None)
                return True
            if reply.lower() in ("n", "no"):
                out.info("Not approved.")  # the closing lines say how to approve later
                return False
            client.send_message(sid, reply)
            watcher.acted("userMessaged", reply)
            out.success(safe_text(f"Feedback sent: {reply}"))
            watcher.waiting("Waiting for Jules's answer to your feedback…")
            return True
        question = pending_question(recent)
        if question is not None and watcher.shows_last(question):
            # The question is the activity line right above: said once, then the prompt.
            waits = "\nJules waits for your answer to the question above."
            out.err.print(waits, style="bold yellow")
        elif question is not None:
            out.err.print("\nJules asks:", style="bold yellow")
            out.err.print(safe_text(question), style="bold")  # shown, never obeyed
        elif state == "PAUSED":
            out.err.print("\nThe session is paused.", style="bold yellow")
        reply = ask("Your reply (empty to stop following): ")
        if not reply:
            return False  # the closing lines say how to reply later
        client.send_message(sid, reply)
        watcher.acted("userMessaged", reply)
        out.success("Reply sent.")
        watcher.waiting("Waiting for Jules to go on…")
        return True

    return hook


@dataclass(frozen=True)
class WatchOptions:
    """--until, --timeout, --interval and --stall, checked once, before any request."""

    condition: Condition
    timeout: float | None = None
    interval: float | None = None
    stall: float | None = None

    @classmethod
    def parse(
        cls,
        until: str = "done",
        timeout: str | None = None,
        interval: float | None = None,
        stall: str | None = None,
    ) -> WatchOptions:
        from jules_cli.errors import UsageError

        if interval is not None and not interval >= MIN_INTERVAL:
            raise UsageError(INTERVAL_ERROR.format(value=interval), INTERVAL_HINT)
        seconds = parse_duration(timeout) if timeout is not None else None
        stall_seconds = parse_duration(stall) if stall is not None else None
        if stall_seconds is not None and not stall_seconds > 0:
            raise UsageError(f"--stall must be longer than 0, not {stall!r}", "e.g. --stall 10m")
        return cls(Condition.parse(until), seconds, interval, stall_seconds)


def follower_pacing(appctx: AppContext, interval: float | None) -> dict[str, Any]:
    """The pauses and the quota of a follower: the process's one ListActivities pacer
    (jules_cli.pacing.shared), so that every follower in this process shares it."""
    from jules_cli.follow import Backoff
    from jules_cli.pacing import shared

    scale = appctx.poll_scale
    return {"pacer": shared(scale), "backoff": Backoff.scaled(interval, scale)}


def watch(
    appctx: AppContext,
    session_id: str,
    options: WatchOptions,
    *,
    show_activities: bool,
):
    """Follow a session until the condition; returns the engine's FollowResult."""
    from jules_cli.follow import follow
    from jules_cli.render.live import Watcher, print_interrupted, print_outcome

    out = appctx.out
    condition = options.condition
    live = show_activities and out.is_terminal and not out.json_mode
    watcher = Watcher(out, session_id, live=live)
    if live:
        # The spinner keeps off the screen the live view owns: the panel says it instead.
        watcher.view.progress = appctx.progress_status
    hook = None
    if show_activities and appctx.interactive and not condition.stops_for_user:
        hook = answer_hook(appctx, watcher)
    # A wait with no live view: a spinner says what it waits for, and for how long.
    held = appctx.waiting(
        lambda: (
            f"Waiting for session {session_id}"
            + (f": {watcher.view.state}" if watcher.view.session else "")
        )
    )
    # --timeout bounds everything, the client's retries and their pauses included; the
    # margin leaves time for the last look at the session at the deadline.
    limit = None if options.timeout is None else options.timeout + FINAL_LOOK_SECONDS
    try:
        with watcher, held if not live else nullcontext(), appctx.client().time_limit(limit):
            result = follow(
                appctx.client(),
                session_id,
                condition=condition,
                timeout=options.timeout,
                **follower_pacing(appctx, options.interval),
                on_activity=watcher.activity if show_activities else None,
                on_state_change=watcher.state_change,
                on_waiting_for_user=hook,
                stall=options.stall,
                on_poll_error=watcher.poll_failed if live else None,
            )
    except KeyboardInterrupt:
        if not out.err_is_terminal:
            raise  # a script's log gets the usual one line, `Error: interrupted`
        from jules_cli.errors import Interrupted

        # The live panel is gone (Watcher.__exit__); say what stopping means.
        print_interrupted(out, watcher.view, again="tail" if show_activities else "wait")
        raise Interrupted(reported=True) from None
    from jules_cli.sessions import failure_reason, pending_question

    reason, question = watcher.view.reason, None
    asks = result.state == "AWAITING_USER_FEEDBACK" and not show_activities
    if (result.state == "FAILED" and reason is None) or asks:
        # A wait that did not list the activities: one list, for why it failed or what
        # Jules asks (None when they cannot be read; the exit code says it anyway).
        activities = _activities(appctx, session_id)
        reason = reason or failure_reason(activities)
        question = pending_question(activities) if asks else None
    print_outcome(
        out,
        result.session,
        result.state,
        result.outcome,
        reason=reason,
        question=question,
        activities=watcher.view.change_activities,
        silent_for=result.silent_for,
    )
    return result


def _activities(appctx: AppContext, session_id: str) -> list[dict[str, Any]]:
    """The session's activities, or none when they cannot be read."""
    from jules_cli.errors import JulesError

    try:
        pacer = follower_pacing(appctx, None)["pacer"]  # still the follower's quota
        return list(appctx.client().list_activities(session_id, pacer=pacer))
    except JulesError:
        return []


def wait_many(
    appctx: AppContext, session_ids: list[str], options: WatchOptions, *, first: bool = False
) -> list:
    """Wait on several sessions at once (`session wait A B C`, `new --parallel N --wait`).

    Returns one FollowResult per id (None for those still open when `first` ended it).
    Each session's state changes go to stderr with its id, and its closing line as it ends.
    """
    from jules_cli.follow import follow_many
    from jules_cli.render.live import print_outcome
    from jules_cli.render.output import safe_text

    out = appctx.out
    unique = list(dict.fromkeys(session_ids))
    states: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (state, session) as last seen
    ended_ids: set[str] = set()

    def changed(sid: str, old: str | None, new: str, session: dict[str, Any]) -> None:
        states[sid] = (new, session)
        out.info(safe_text(f"{sid}: {old} -> {new}" if old else f"{sid}: {new}"))

    def ended(sid: str, result) -> None:
        from jules_cli.sessions import failure_reason, pending_question

        ended_ids.add(sid)
        session = {"id": sid, **result.session}
        reason = question = None
        asks = result.state == "AWAITING_USER_FEEDBACK"
        if result.state == "FAILED" or asks:
            # As for one session: why it failed, or what Jules asks (one list, paced).
            activities = _activities(appctx, sid)
            reason = failure_reason(activities)
            question = pending_question(activities) if asks else None
        print_outcome(
            out,
            session,
            result.state,
            result.outcome,
            reason=reason,
            question=question,
            silent_for=result.silent_for,
        )

    def spinner_text() -> str:
        if len(unique) == 1:
            state = states.get(unique[0])
            return f"Waiting for session {unique[0]}" + (f": {state[0]}" if state else "")
        return f"Waiting for {len(unique) - len(ended_ids)} of {len(unique)} sessions"

    # As in watch(): --timeout bounds everything, the client's retries included.
    limit = None if options.timeout is None else options.timeout + FINAL_LOOK_SECONDS
    try:
        with appctx.waiting(spinner_text), appctx.client().time_limit(limit):
            return follow_many(
                appctx.client(),
                session_ids,
                condition=options.condition,
                timeout=options.timeout,
                stall=options.stall,
                first=first,
                # The process's one ListActivities quota, whatever the number of sessions.
                **follower_pacing(appctx, options.interval),
                on_state_change=changed,
                on_end=ended,
            )
    except KeyboardInterrupt:
        if not out.err_is_terminal:
            raise  # a script's log gets the usual one line, `Error: interrupted`
        from jules_cli.errors import Interrupted
        from jules_cli.render.live import SessionView, print_interrupted

        # Stopping the wait stops nothing at Jules: say so for each one still open.
        for sid in unique:
            if sid in ended_ids:
                continue
            view = SessionView(sid)
            if sid in states:
                view.update(states[sid][1], states[sid][0])
            print_interrupted(out, view, again="wait")
        raise Interrupted(reported=True) from None


def finish_many(results: list, *, first: bool = False) -> None:
    """Leave with the exit code of several waits: the most severe (8, 9, 10, 11, 0), or,
    with `first` (--any), the code of the one that ended."""
    from jules_cli.follow import most_severe

    ended = [result for result in results if result is not None]
    code = ended[0].exit_code if first else most_severe(r.exit_code for r in ended)
    if code != ExitCode.OK:
        raise typer.Exit(code)


def finish(result) -> None:
    """Leave with the wait's exit code (0 needs no exception)."""
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(result.exit_code)


def wait_for_reply(
    appctx: AppContext, session_id: str, text: str, options: WatchOptions
) -> tuple[dict[str, Any] | None, int]:
    """Send a message, then wait for the agent's answer (jules_cli.follow.send_and_wait)."""
    from jules_cli.follow import send_and_wait

    seconds = options.timeout
    limit = None if seconds is None else seconds + FINAL_LOOK_SECONDS
    with appctx.client().time_limit(limit):  # as in watch(): retries included
        return send_and_wait(
            appctx.client(),
            session_id,
            text,
            timeout=seconds,
            **follower_pacing(appctx, options.interval),
        )
