"""`jules session`: start, list, inspect and act on coding sessions."""

# No `from __future__ import annotations` in the command modules: Typer reads every
# command's signature at each start, and string annotations cost a compile() each there
# (some 15 ms per run for these modules); real ones cost nothing (Python >= 3.10 has `X | Y`).

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jules_cli.cli.context import AppContext, app_context
from jules_cli.cli.options import (
    DryRunOption,
    IntervalOption,
    JqOption,
    JsonLinesOption,
    JsonOption,
    LimitOption,
    OlderThanOption,
    OptionalSessionIdsArg,
    QuietOption,
    SessionArg,
    SessionIdsArg,
    StallOption,
    TimeoutOption,
    UntilOption,
    YesOption,
    examples,
)
from jules_cli.cli.prompts import confirm
from jules_cli.cli.watch import (
    WatchOptions,
    finish,
    finish_many,
    wait_for_reply,
    wait_many,
    watch,
)
from jules_cli.completion import (
    complete_branches,
    complete_source_names,
    complete_sources,
    complete_states,
    forget_sessions,
    remember_sessions,
    remember_sessions_while,
)
from jules_cli.errors import JulesError, UsageError

if TYPE_CHECKING:
    from jules_cli.render.output import Output

app = typer.Typer(
    help="Start, follow and act on Jules coding sessions.",
    no_args_is_help=True,
    epilog=examples(
        (
            "Start a session and follow it live",
            'jules session new --repo octo/app --follow "Fix the flaky date test"',
        ),
        (
            "The sessions that wait for you",
            "jules session list --state awaiting_plan_approval,awaiting_user_feedback",
        ),
        ("Apply a finished session's patch to this checkout", "jules session apply 1234"),
    ),
)

# Checked as a whole while parsing: one malformed id stops the batch before any request.
SessionIds = SessionIdsArg


ParallelOption = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        "-n",
        metavar="N",
        help="Start N sessions of one prompt (1-5); --json prints an array.",
    ),
]


def _resolve_new(appctx: AppContext, choice, prompt: str, *, branch, push, title,
                 require_approval, auto_pr, env_vars):  # fmt: skip
    """The create request for `choice` (jules_cli.target), with its notes on stderr;
    --push pushes before anything starts."""
    from jules_cli.sessions import session_request

    out = appctx.out
    for note in choice.notes:
        out.info(f"note: {note}")
    request, picked = session_request(
        appctx.client(),
        choice,
        prompt=prompt,
        setting=appctx.setting,
        branch=branch,
        push=push,
        title=title,
        require_approval=require_approval,
        auto_pr=auto_pr,
        env_vars=env_vars,
    )
    if picked is not None:
        for note in picked.notes:
            out.info(f"note: {note}")
        for warning in picked.warnings:
            out.warn(warning)
        if picked.push:
            choice.checkout.push()  # git's own output on stderr; a failure is exit 7
    return request


@app.command(
    "new",
    epilog=examples(
        (
            "Start a session on a repository and follow it live",
            'jules session new --repo octo/app --follow "Fix the flaky date test"',
        ),
        (
            "Keep its id for a script",
            'ID=$(jules session new -q --repo octo/app "Add type hints")',
        ),
        (
            "Compose the prompt in $EDITOR, approve the plan before work starts",
            "jules session new --repo . --require-approval",
        ),
        (
            "Three attempts at one task, from a file",
            "jules session new --repo octo/app --parallel 3 --prompt-file task.md",
        ),
    ),
)
def new(
    ctx: typer.Context,
    prompt: Annotated[
        str | None,
        typer.Argument(metavar="[PROMPT | -]", help="The task; `-` or piped stdin reads it."),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            "-r",
            metavar="OWNER/REPO",
            help="owner/repo, or . for the current checkout's GitHub remote "
            "(default: the profile's repo, else the checkout's).",
            autocompletion=complete_sources,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help="A source name, e.g. sources/github/o/r.",
            autocompletion=complete_source_names,
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            "-b",
            metavar="BRANCH",
            help="Starting branch (default: see above); one the API does not list is sent "
            "with a warning.",
            autocompletion=complete_branches,
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", "-t", metavar="TITLE", help="Session title.")
    ] = None,
    require_approval: Annotated[
        bool | None,
        typer.Option(
            "--require-approval/--no-require-approval",
            help="Wait for your approval of the plan (default: profile setting, else no).",
            show_default=False,
        ),
    ] = None,
    auto_pr: Annotated[
        bool | None,
        typer.Option(
            "--auto-pr/--no-auto-pr",
            help="Open a pull request when done (default: profile setting, else no).",
            show_default=False,
        ),
    ] = None,
    no_repo: Annotated[
        bool,
        typer.Option("--no-repo", help="A repoless session (no repository), only when asked."),
    ] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push",
            help="First `git push -u` the current branch to the checkout's remote, and start "
            "from it (Jules then sees your local commits).",
        ),
    ] = False,
    env_vars: Annotated[
        bool,
        typer.Option("--env-vars", help="Expose the repository's environment variables to Jules."),
    ] = False,
    prompt_file: Annotated[
        Path | None,
        typer.Option("--prompt-file", "-F", metavar="FILE", help="Read the prompt from a file."),
    ] = None,
    parallel: ParallelOption = None,
    wait: Annotated[
        # No -w: that is --web (`session show -w`), as in gh; one meaning per short flag.
        bool, typer.Option("--wait", help="Then block like `session wait`.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Then follow live like `activities tail`.")
    ] = False,
    until: UntilOption = "done",
    timeout: TimeoutOption = None,
    interval: IntervalOption = None,
    stall: StallOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
    quiet: QuietOption = False,
) -> None:
    """Start a session from a prompt (argument, stdin, --prompt-file or $EDITOR).

    The repository is --repo/--source (or --no-repo), else the profile's repo, else the
    GitHub remote (origin, else upstream) of the git checkout here, named in a note. With
    none of these it is exit 2, and a session is never repoless unless --no-repo says so.

    The starting branch is --branch, else the profile's branch (with the profile's repo),
    else, for the checkout's repository, the current branch if that remote has it (a note
    says when local commits are not on it; --push pushes them first). Else the repository's
    default branch; a --branch the API does not list is sent anyway, with a warning.
    """
    from jules_cli.prompt import read_text
    from jules_cli.sessions import check_parallel
    from jules_cli.target import choose_repo

    appctx = app_context(ctx)
    appctx.output(json_mode=json_output, quiet=quiet)
    count = check_parallel(parallel if parallel is not None else 1)
    as_array = parallel is not None  # --parallel N (even 1) answers with an array
    if wait and follow:
        raise UsageError("give either --wait or --follow, not both")
    if follow and count > 1:
        raise UsageError("--follow follows one session; use --wait with --parallel")
    options = WatchOptions.parse(until, timeout, interval, stall)  # fails before any create
    # Where it works is settled before the prompt is read and before any request.
    choice = choose_repo(
        repo=repo, source=source, no_repo=no_repo, branch=branch, push=push,
        setting=appctx.setting,
    )  # fmt: skip
    if env_vars and choice.wanted is None:
        raise UsageError("--env-vars needs a repository", "leave out --no-repo")
    text = read_text(prompt, file=prompt_file, interactive=appctx.interactive)
    request = _resolve_new(
        appctx,
        choice,
        text,
        branch=branch,
        push=push,
        title=title,
        require_approval=require_approval,
        auto_pr=auto_pr,
        env_vars=env_vars,
    )
    _start(
        appctx,
        request,
        count,
        as_array=as_array,
        wait=wait,
        follow=follow,
        options=options,
        json_output=json_output,
        quiet=quiet,
    )


def _start(
    appctx: AppContext,
    request,
    count: int,
    *,
    as_array: bool,
    wait: bool,
    follow: bool,
    options: WatchOptions,
    json_output: bool,
    quiet: bool,
) -> None:
    """Create the sessions, print them, then wait or follow: `session new` and `retry`."""
    from jules_cli.render.sessions import print_created
    from jules_cli.sessions import create_sessions

    out = appctx.out
    created: list[dict] = []
    try:
        created, failure = create_sessions(
            appctx.client(), request.to_request(), count, into=created
        )
    except KeyboardInterrupt:
        _interrupted_while_creating(out, created, count)
        raise  # main() says `Error: interrupted` with the signal's exit code
    remember_sessions(created)
    if quiet:
        out.ids(s.get("id", "") for s in created)
    elif not json_output and created:
        live = follow and out.is_terminal and failure is None  # the view shows the state
        print_created(out, created, hint=not (wait or follow) or failure is not None,
                      state=not live)  # fmt: skip
    if failure is not None:
        # The ones started are printed as for a full run; the error says what is missing.
        if json_output and created:
            out.json(created if as_array else created[0])
        if count > 1:
            failure.message = f"{count - len(created)} of {count} sessions were not started: " + (
                failure.message
            )
        raise failure
    if follow:
        finish(watch(appctx, created[0]["id"], options, show_activities=True))
    elif wait:
        # All of them at once, not one after another (one quota, one list page a cycle).
        results = wait_many(appctx, [s["id"] for s in created], options)
        if json_output:
            finals = [r.session for r in results]
            out.json(finals if as_array else finals[0])
        finish_many(results)
    elif json_output:
        out.json(created if as_array else created[0])


def _interrupted_while_creating(out, created: list[dict], count: int) -> None:
    """Ctrl-C during a create: the request may have reached Jules, and a session started
    there costs one of the day's tasks whether or not its id came back. Say so, with the
    ids that did come back and the command that shows the rest."""
    from jules_cli.render.output import safe_text

    remember_sessions(created)
    if created:
        ids = ", ".join(str(s.get("id", "")) for s in created)
        out.warn(safe_text(f"started before the interruption: {ids}"))
    if len(created) < count:
        out.warn(
            "the session being created may have started at Jules anyway; "
            "look with `jules session list --limit 5` before starting it again"
        )


@app.command(
    "retry",
    epilog=examples(
        ("The same task again, as a new session", "jules session retry 1234"),
        ("Three more attempts, waited on together", "jules session retry 1234 -n 3 --wait"),
        ("With a better prompt from a file", "jules session retry 1234 --prompt-file task.md"),
    ),
)
def retry(
    ctx: typer.Context,
    session_id: SessionArg,
    prompt: Annotated[
        str | None,
        typer.Argument(
            metavar="[PROMPT | -]",
            help="A new prompt instead of the session's (`-` reads stdin).",
            show_default=False,
        ),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file", "-F", metavar="FILE", help="Read the new prompt from a file."
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            "-b",
            metavar="BRANCH",
            help="Start from this branch instead of the session's starting branch.",
            autocompletion=complete_branches,
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", "-t", metavar="TITLE", help="Title (default: made from the prompt)."
        ),
    ] = None,
    require_approval: Annotated[
        bool | None,
        typer.Option(
            "--require-approval/--no-require-approval",
            help="Wait for your approval of the plan (default: as the session, when the API "
            "shows it, else the profile setting).",
            show_default=False,
        ),
    ] = None,
    auto_pr: Annotated[
        bool | None,
        typer.Option(
            "--auto-pr/--no-auto-pr",
            help="Open a pull request when done (default: as the session, when the API "
            "shows it, else the profile setting).",
            show_default=False,
        ),
    ] = None,
    parallel: ParallelOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Then block like `session wait`.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Then follow live like `activities tail`.")
    ] = False,
    until: UntilOption = "done",
    timeout: TimeoutOption = None,
    interval: IntervalOption = None,
    stall: StallOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
    quiet: QuietOption = False,
) -> None:
    """Start a new session with the prompt, repository and starting branch of session ID
    (and its plan-approval and auto-PR options when the API shows them); printed like
    `session new` (--parallel N: N new sessions, an array with --json)."""
    from jules_cli.prompt import read_text
    from jules_cli.sessions import check_parallel, choice_or_default, retry_session, shown_options

    appctx = app_context(ctx)
    appctx.output(json_mode=json_output, quiet=quiet)
    count = check_parallel(parallel if parallel is not None else 1)
    if wait and follow:
        raise UsageError("give either --wait or --follow, not both")
    if follow and count > 1:
        raise UsageError("--follow follows one session; use --wait with --parallel")
    options = WatchOptions.parse(until, timeout, interval, stall)
    new_prompt = None
    if prompt is not None or prompt_file is not None:
        # Only when asked: a retry never reads a stdin that merely happens to be piped.
        new_prompt = read_text(prompt, file=prompt_file, interactive=False)
    original = appctx.client().get_session(session_id)
    shown_approval, shown_auto_pr = shown_options(original)
    request = retry_session(
        original,
        prompt=new_prompt,
        require_approval=choice_or_default(
            require_approval if require_approval is not None else shown_approval,
            appctx.setting("require-approval"),
        ),
        auto_pr=choice_or_default(
            auto_pr if auto_pr is not None else shown_auto_pr, appctx.setting("auto-pr")
        ),
        branch=branch,
        title=title,
    )
    _start(
        appctx,
        request,
        count,
        as_array=parallel is not None,  # as for `session new`: --parallel N (even 1) is an array
        wait=wait,
        follow=follow,
        options=options,
        json_output=json_output,
        quiet=quiet,
    )


@app.command(
    "list",
    epilog=examples(
        ("The newest sessions", "jules session list --limit 10"),
        ("The failed ones of one repository", "jules session list --state failed --repo octo/app"),
        (
            "Ids of the sessions waiting for an answer, for a script",
            "jules session list -q --state awaiting_user_feedback",
        ),
    ),
)
def list_sessions(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            "-s",
            metavar="STATE",
            help="Only sessions in this state (repeatable, or a,b).",
            autocompletion=complete_states,
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            "-r",
            metavar="OWNER/REPO",
            help="Only sessions of owner/repo (or .).",
            autocompletion=complete_sources,
        ),
    ] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="Only archived sessions (hidden by default).")
    ] = False,
    all_sessions: Annotated[
        bool, typer.Option("--all", "-a", help="Archived and unarchived sessions.")
    ] = False,
    limit: LimitOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
    jsonl: JsonLinesOption = False,
    quiet: QuietOption = False,
) -> None:
    """Sessions, newest first (all pages unless limited).

    --json prints one JSON array, --jsonl one object per line; both stream page by page.
    """
    from jules_cli.render.sessions import print_sessions
    from jules_cli.sessions import filter_sessions, parse_states

    appctx = app_context(ctx)
    out = appctx.list_output(json_mode=json_output, json_lines=jsonl, quiet=quiet)
    states = parse_states(state or [])
    if archived and all_sessions:
        raise UsageError("give either --archived or --all, not both")
    if repo == ".":
        from jules_cli.gitremote import current_repo

        repo = current_repo()
    pages = out.paged(appctx.client().list_sessions(archived=None if all_sessions else archived))
    sessions = filter_sessions(
        remember_sessions_while(pages), states=states, repo=repo, limit=limit
    )
    out.items(sessions, print_sessions, json_lines=jsonl)


@app.command(
    "show",
    epilog=examples(
        ("State, title, branch and pull request of a session", "jules session show 1234"),
        ("Open it in the Jules web app", "jules session show 1234 --web"),
        ("Its pull request URL only", "jules session show 1234 --jq '.outputs[].pullRequest.url'"),
    ),
)
def show(
    ctx: typer.Context,
    session_id: SessionArg,
    web: Annotated[bool, typer.Option("--web", "-w", help="Open the page in a browser.")] = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """One session: state, title, source, branch, times, web URL, outputs (PR URL)."""
    from jules_cli.render.sessions import print_session, session_url

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    session = appctx.client().get_session(session_id)
    remember_sessions([session])
    if web:
        _open_url(appctx, session_url(session))
    elif json_output:
        out.json(session)
    else:
        print_session(out, session, _detail_activities(appctx, session))


def _detail_activities(appctx: AppContext, session: dict) -> list[dict] | None:
    """The activities `show` needs for a failed session or one waiting for the user (the
    reason, the question, the plan); None for other states, or when they cannot be read
    (the session itself is still shown)."""
    from jules_cli.errors import JulesError
    from jules_cli.render.sessions import STATES_WITH_DETAIL

    if session.get("state") not in STATES_WITH_DETAIL:
        return None
    try:
        return list(appctx.client().list_activities(str(session.get("id", ""))))
    except JulesError:
        return None


def _show_after(out: "Output", session: dict, what: str) -> None:
    """An action's result: the session read back (--json), or what it is now."""
    from jules_cli.render.sessions import print_state_change

    if out.json_mode:
        out.json(session)
    else:
        print_state_change(out, what, session)


@app.command(
    "approve",
    epilog=examples(
        (
            "Read the plan, then approve it",
            "jules activities list 1234 && jules session approve 1234",
        ),
        (
            "Approve and follow the work live",
            "jules session approve 1234 && jules activities tail 1234",
        ),
    ),
)
def approve(
    ctx: typer.Context,
    session_id: SessionArg,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Approve the session's pending plan."""
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    client = appctx.client()
    client.approve_plan(session_id)
    _show_after(out, client.get_session(session_id), "Plan approved")


@app.command(
    "send",
    epilog=examples(
        ("Answer the agent's question", 'jules session send 1234 "Yes, keep the old API too"'),
        ("Compose a longer message in $EDITOR", "jules session send 1234"),
        (
            "Send a follow-up task from a file and print the agent's answer",
            "jules session send 1234 -F followup.md --wait-reply",
        ),
    ),
)
def send(
    ctx: typer.Context,
    session_id: SessionArg,
    message: Annotated[
        str | None,
        typer.Argument(metavar="[MESSAGE | -]", help="The message; `-` or piped stdin reads it."),
    ] = None,
    message_file: Annotated[
        Path | None,
        typer.Option("--message-file", "-F", metavar="FILE", help="Read the message from a file."),
    ] = None,
    wait_reply: Annotated[
        bool,
        typer.Option("--wait-reply", help="Then wait for the agent's answer and print it."),
    ] = False,
    timeout: TimeoutOption = None,
    interval: IntervalOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Send a message to the session (an answer, a follow-up task).

    The message comes from the argument, stdin (`-` or piped), --message-file, or, in a
    terminal with none of these, $VISUAL/$EDITOR.
    """
    from jules_cli.prompt import read_text

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    # In a terminal with no message, the editor opens as for `session new`.
    text = read_text(message, file=message_file, interactive=appctx.interactive, what="message")
    if wait_reply:
        from jules_cli.render.activities import print_reply

        options = WatchOptions.parse(timeout=timeout, interval=interval)
        with appctx.waiting(f"Waiting for the answer of session {session_id}"):
            activity, code = wait_for_reply(appctx, session_id, text, options)
        print_reply(out, activity)
        if code:
            raise typer.Exit(code)
        return
    client = appctx.client()
    client.send_message(session_id, text)
    _show_after(out, client.get_session(session_id), "Message sent")


@app.command(
    "wait",
    epilog=examples(
        ("Deploy only when the session completes", "jules session wait 1234 && ./deploy.sh"),
        (
            "Wait until it is done or needs you, for at most 30 minutes",
            "jules session wait 1234 --until settled --timeout 30m",
        ),
        (
            "Wait on three together; exit 11 for one silent for 15 minutes",
            "jules session wait 1234 5678 9012 --stall 15m",
        ),
    ),
)
def wait(
    ctx: typer.Context,
    session_ids: SessionIds,
    until: UntilOption = "done",
    timeout: TimeoutOption = None,
    interval: IntervalOption = None,
    stall: StallOption = None,
    any_session: Annotated[
        bool, typer.Option("--any", help="With several ids: end when the first one ends.")
    ] = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Block until the sessions are done (or --until); the exit code tells the outcome.

    0 COMPLETED or the state asked for, 8 FAILED, 9 waiting for you (plan approval,
    feedback) or PAUSED, 10 --timeout passed first, 11 --stall: no new activity for that
    long. With several ids they are waited on together and the most severe code wins
    (8, 9, 10, 11, then 0); --any ends with the first one. State changes go to stderr with
    each session's id; --json prints the session as it was when its wait ended (an array
    in the order given for several ids, the one that ended with --any).
    """
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    options = WatchOptions.parse(until, timeout, interval, stall)
    results = wait_many(appctx, session_ids, options, first=any_session)
    if json_output:
        ended = [result.session for result in results if result is not None]
        out.json(ended if len(session_ids) > 1 and not any_session else ended[0])
    finish_many(results, first=any_session)


def _session_and_activities(appctx: AppContext, session_id: str):
    client = appctx.client()
    session = client.get_session(session_id)
    return session, list(client.list_activities(session_id))


OverwriteOption = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace files that already exist (-o never does without)."),
]

ActivityOption = Annotated[
    str | None,
    typer.Option(
        "--activity", metavar="ID", help="Use this activity's change set instead of the session's."
    ),
]


@app.command(
    "diff",
    epilog=examples(
        ("The session's patch, coloured", "jules session diff 1234"),
        ("Which files it changes, and how much", "jules session diff 1234 --stat"),
        ("Apply it with git yourself", "jules session diff 1234 | git apply"),
    ),
)
def diff(
    ctx: typer.Context,
    session_id: SessionArg,
    activity: ActivityOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Save the raw patch to FILE (a new file; an existing one needs --overwrite; "
            "- is stdout).",
        ),
    ] = None,
    overwrite: OverwriteOption = False,
    stat: Annotated[bool, typer.Option("--stat", help="A diffstat instead of the diff.")] = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """The session's patch as a unified diff (its output's change set, else the newest
    non-empty one among its activities).

    -o writes as a shell redirect does: a regular file is replaced atomically, an
    existing one only with --overwrite; a device, FIFO or link (/dev/stdout) is written
    through, never replaced; `-o -` is stdout.
    """
    from jules_cli.artifacts import check_patch_target, select_patch
    from jules_cli.render.artifacts import print_diff, print_stat

    to_stdout = output is not None and str(output) == "-"  # `-o -`, as curl and wget take it
    if output is not None and not to_stdout:
        check_patch_target(output, overwrite=overwrite)  # a typo in -o costs no request
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    session, activities = _session_and_activities(appctx, session_id)
    patch = select_patch(session, activities, activity)
    if to_stdout:
        print_diff(out, patch.unidiff)  # the raw patch in a pipe, shown escaped on a screen
    elif output is not None:
        from jules_cli.artifacts import save_patch

        replaced = save_patch(output, patch.unidiff, overwrite=overwrite)
        # Whether a file was replaced is said, not left to guess (--overwrite allows it).
        was = " (replacing the file that was there)" if replaced else ""
        out.success(f"Saved the patch from the {patch.origin} to {output}{was}")
    elif json_output:
        out.json(patch.change_set)
    elif stat:
        print_stat(out, patch.unidiff)
    else:
        print_diff(out, patch.unidiff)


@app.command(
    "apply",
    epilog=examples(
        ("Apply the patch to the checkout here", "jules session apply 1234"),
        (
            "On a new branch named after the session, committed",
            "jules session apply 1234 --auto-branch --commit",
        ),
        (
            "Fall back to a three-way merge where the checkout moved on",
            "jules session apply 1234 --3way",
        ),
    ),
)
def apply(
    ctx: typer.Context,
    session_id: SessionArg,
    activity: ActivityOption = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch", "-b", metavar="NAME", help="Create and check out branch NAME first."
        ),
    ] = None,
    auto_branch: Annotated[
        bool,
        typer.Option("--auto-branch", "-B", help="Create a branch named after the session first."),
    ] = False,
    commit: Annotated[
        bool, typer.Option("--commit", "-c", help="Commit with the suggested commit message.")
    ] = False,
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", metavar="TEXT", help="Commit message (with --commit)."),
    ] = None,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Apply even with uncommitted changes.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse when HEAD is not the patch's base commit."),
    ] = False,
    three_way: Annotated[
        bool, typer.Option("--3way", "-3", help="Fall back to a three-way merge.")
    ] = False,
    worktree: Annotated[
        Path | None,
        typer.Option(
            "--worktree",
            metavar="DIR",
            help="Apply and commit in a new git worktree at DIR, on a new branch from the "
            "patch's base commit; this checkout is not touched.",
        ),
    ] = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Apply the session's patch to the git checkout here, safely: checked first, never
    half-applied, optionally on a new branch and committed (or in a new worktree)."""
    from jules_cli import signals
    from jules_cli.artifacts import select_patch
    from jules_cli.gitapply import (
        apply_patch,
        check_no_operation_in_progress,
        commit_message_for,
        default_branch_name,
        worktree_root,
    )
    from jules_cli.render.artifacts import print_applied

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    if branch and auto_branch:
        raise UsageError("give either --branch NAME or --auto-branch, not both")
    if worktree is not None:
        if allow_dirty or strict or three_way:
            raise UsageError(
                "--worktree starts from the patch's base commit in a fresh folder: "
                "--allow-dirty, --strict and --3way do not apply there"
            )
        return _apply_in_worktree(appctx, session_id, worktree, activity, branch, message)
    if message and not commit:
        raise UsageError("--message needs --commit")
    # No git, not a checkout, a merge or rebase under way: say so before any request.
    check_no_operation_in_progress(worktree_root(Path.cwd()))
    session, activities = _session_and_activities(appctx, session_id)
    patch = select_patch(session, activities, activity)
    # All or nothing: a signal before the change is complete undoes it (and ends the
    # command); one that comes after it is done changes nothing, so the report stands.
    with signals.held() as section:
        result = apply_patch(
            patch,
            Path.cwd(),
            allow_dirty=allow_dirty,
            strict=strict,
            three_way=three_way,
            branch=default_branch_name(session) if auto_branch else branch,
            commit=commit,
            commit_message=message or commit_message_for(patch, session),
        )
        print_applied(out, result, patch.origin, session_id)
        section.forget()


def _apply_in_worktree(
    appctx: AppContext,
    session_id: str,
    directory: Path,
    activity: str | None,
    branch: str | None,
    message: str | None,
) -> None:
    from jules_cli import signals
    from jules_cli.artifacts import select_patch
    from jules_cli.gitapply import (
        apply_in_worktree,
        check_checkout_target,
        check_worktree_dir,
        commit_message_for,
        default_branch_name,
        session_repo,
        worktree_root,
    )
    from jules_cli.render.artifacts import print_checked_out

    root = worktree_root(Path.cwd())  # before any request: no git, not a checkout
    check_worktree_dir(directory)
    if branch is not None:
        check_checkout_target(root, branch)
    session, activities = _session_and_activities(appctx, session_id)
    patch = select_patch(session, activities, activity)
    # As for apply: a signal before the worktree is complete removes it again.
    with signals.held() as section:
        result = apply_in_worktree(
            patch,
            root,
            directory,
            branch or default_branch_name(session),
            message or commit_message_for(patch, session),
            repo=session_repo(session),
            starting_branch=_starting_branch(session),
        )
        print_checked_out(appctx.out, result, patch.origin, session_id)
        section.forget()


def _starting_branch(session: dict) -> str | None:
    context = session.get("sourceContext") or {}
    return (context.get("githubRepoContext") or {}).get("startingBranch")


@app.command(
    "checkout",
    epilog=examples(
        (
            "The session's pull request (or its patch) on a branch here",
            "jules session checkout 1234",
        ),
        ("Into a branch of your choice", "jules session checkout 1234 --branch review/1234"),
    ),
)
def checkout(
    ctx: typer.Context,
    session_id: SessionArg,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            "-b",
            metavar="NAME",
            help="The local branch (default: the pull request's head branch, else one "
            "named after the session).",
        ),
    ] = None,
    activity: ActivityOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Put the session's work on a branch here, like `gh pr checkout`: its pull request's
    head when it has one (fetched from the remote; run again, it fast-forwards the branch
    to the new head), else a new branch at the patch's base commit with the patch applied
    and committed. All or nothing, like `session apply`."""
    from jules_cli import signals
    from jules_cli.gitapply import (
        check_checkout_target,
        checkout_patch,
        checkout_pull_request,
        commit_message_for,
        default_branch_name,
        pull_request_of,
        session_repo,
        worktree_root,
    )
    from jules_cli.render.artifacts import print_checked_out

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    root = worktree_root(Path.cwd())  # before any request: no git, not a checkout
    if branch is not None:
        check_checkout_target(root, branch)
    client = appctx.client()
    session = client.get_session(session_id)
    pull = pull_request_of(session) if activity is None else None
    if pull is not None:
        name = branch or pull.head_ref or f"jules/pr-{pull.number}"
        check_checkout_target(root, name)
        # As for apply: a signal before the checkout is complete undoes it.
        with signals.held() as section:
            result = checkout_pull_request(
                root, pull, name, session_repo_name=session_repo(session)
            )
            print_checked_out(out, result, f"pull request #{pull.number}", session_id)
            section.forget()
        return
    from jules_cli.artifacts import select_patch

    patch = select_patch(session, list(client.list_activities(session_id)), activity)
    with signals.held() as section:
        result = checkout_patch(
            patch,
            root,
            branch or default_branch_name(session),
            commit_message_for(patch, session),
            repo=session_repo(session),
            starting_branch=_starting_branch(session),
        )
        print_checked_out(out, result, patch.origin, session_id)
        section.forget()


@app.command(
    "artifacts",
    epilog=examples(
        (
            "What the session produced: patches, command output, media",
            "jules session artifacts 1234",
        ),
        ("Save every artifact as files", "jules session artifacts 1234 -o artifacts/"),
    ),
)
def artifacts(
    ctx: typer.Context,
    session_id: SessionArg,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", metavar="DIR", help="Save every artifact into DIR."),
    ] = None,
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Every artifact of the session (patches, command outputs, media): listed, or saved.

    -o DIR writes each file as a shell redirect does: atomically, and nothing at all when
    a file of the same name exists in DIR, unless --overwrite; a device, FIFO or link in
    DIR is written through, never replaced.
    """
    from jules_cli.artifacts import check_artifacts_dir, iter_artifacts, save_artifacts
    from jules_cli.render.artifacts import print_artifacts

    if output_dir is not None:
        check_artifacts_dir(output_dir)  # a typo in -o costs no request
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    session, activities = _session_and_activities(appctx, session_id)
    refs = iter_artifacts(session, activities)
    if output_dir is not None:
        saved = save_artifacts(refs, output_dir, overwrite=overwrite)
        for warning in saved.warnings:
            out.warn(warning)
        if json_output:
            out.json([str(path) for path in saved.paths])
        else:
            out.ids(str(path) for path in saved.paths)
            count = len(saved.replaced)
            was = f" (replacing {count} existing file{'s' if count > 1 else ''})" if count else ""
            out.success(f"Saved {len(saved.paths)} artifacts to {output_dir}{was}")
    elif json_output:
        out.json([ref.raw for ref in refs])
    else:
        print_artifacts(out, refs)


@app.command(
    "open",
    epilog=examples(
        ("Open the session in the Jules web app", "jules session open 1234"),
        ("The newest session", 'jules session open "$(jules session list -q --limit 1)"'),
    ),
)
def open_in_browser(ctx: typer.Context, session_id: SessionArg) -> None:
    """Open the session's page in a browser (prints the URL when there is none)."""
    from jules_cli.render.sessions import session_url

    appctx = app_context(ctx)
    session = appctx.client().get_session(session_id)
    _open_url(appctx, session_url(session))


def _open_url(appctx: AppContext, url: str) -> None:
    import webbrowser

    from jules_cli.render.output import safe_text
    from jules_cli.sessions import browser_url

    # The URL is the API's: only an https:// one reaches the browser (and the screen
    # sees it escaped), so it can be neither a launcher's option nor a local file.
    url = browser_url(url)
    out = appctx.out
    opened = False
    if appctx.out.is_terminal or appctx.interactive:
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
    out.line(safe_text(url))
    if not opened:
        out.info("No browser available; open the URL above.")


def _then_get(client, action):
    """Act, then read the session back: archive's answer body is not documented (it may be
    `{}`), and --json promises the session."""

    def act(raw: str) -> dict:
        action(raw)
        return client.get_session(raw)

    return act


def _each(appctx: AppContext, ids: list[str], action, done: str, json_output: bool) -> None:
    """Run `action` on every id; go on past failures, then fail with the first error."""
    from jules_cli.render.output import safe_text

    out = appctx.out
    results, first_error, failed = [], None, 0
    for raw in ids:
        try:
            result = action(raw)
        except JulesError as exc:
            if len(ids) == 1:
                raise
            first_error, failed = first_error or exc, failed + 1
            out.err.print(safe_text(f"{raw}: {exc}"), style="red")  # it may quote the API
            continue
        results.append(result)
        if json_output:
            continue
        if getattr(result, "already_gone", False):
            # A retry found it gone: the try whose answer was lost on the way did it.
            out.success(f"{done} {raw} (already {done.lower()}: an earlier try did it)")
        else:
            out.success(f"{done} {raw}")
    if json_output and results:
        out.json(results[0] if len(ids) == 1 else results)
    if first_error is not None:
        summary = JulesError(f"{failed} of {len(ids)} sessions failed; see above")
        summary.exit_code = first_error.exit_code
        raise summary


BulkStateOption = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        "-s",
        metavar="STATE",
        help="Every session in this state (repeatable, or a,b), instead of ids.",
        autocompletion=complete_states,
    ),
]
BulkRepoOption = Annotated[
    str | None,
    typer.Option(
        "--repo",
        "-r",
        metavar="OWNER/REPO",
        help="Every session of owner/repo (or . for this checkout's), instead of ids.",
        autocompletion=complete_sources,
    ),
]


def _session_filter(verb: str, state, repo, older_than):
    from jules_cli.follow import parse_duration
    from jules_cli.sessions import SessionFilter, parse_states

    if repo is not None and not repo.strip():
        raise UsageError("--repo is empty", "give owner/repo")
    if repo == ".":
        from jules_cli.gitremote import current_repo

        repo = current_repo()
    return SessionFilter(
        states=frozenset(parse_states(state or [])),
        repo=repo,
        older_than=parse_duration(older_than) if older_than is not None else None,
        protect_running=verb == "delete",
    )


def _bulk(
    appctx: AppContext,
    verb: str,
    done_word: str,
    ids: list[str],
    session_filter,
    *,
    dry_run: bool,
    yes: bool,
    json_output: bool,
    archived: bool | None,
    act: str,
) -> None:
    """archive / unarchive / delete for ids or for every session matching the filters.

    By filter: the matching sessions are listed first (`--dry-run` stops there); then one
    confirmation for the batch in a terminal (`--yes` without one: checked before any
    request); then each is acted on in turn, printed as it is done. A failure part-way
    stops there and says what was done and what was not, with the failure's exit code.
    """
    import time

    from jules_cli.render.sessions import print_sessions
    from jules_cli.sessions import act_on_each

    if ids and session_filter.given:
        raise UsageError("give session ids or filters (--state, --repo, --older-than), not both")
    if not ids and not session_filter.given:
        raise UsageError(
            f"give the ids of the sessions to {verb}",
            "or filters instead: --state S, --repo OWNER/REPO, --older-than DUR "
            "(--dry-run shows what they match)",
        )
    by_filter = session_filter.given
    needs_yes = verb == "delete" or by_filter
    if needs_yes and not (yes or dry_run or appctx.interactive):
        what = "deleting" if verb == "delete" else f"to {verb} by filter"
        raise UsageError(
            f"{what} needs confirmation",
            f"add --yes to {verb} without asking"
            + (", or --dry-run to see the sessions first" if by_filter else ""),
        )
    out = appctx.output(json_mode=json_output)
    json_output = out.json_mode  # --jq implies --json
    client = appctx.client()
    action = getattr(client, act)
    # Archive's answer body is not documented: read the session back for --json.
    act_on = action if verb == "delete" else _then_get(client, action)
    if by_filter:
        sessions = session_filter.select(
            remember_sessions_while(client.list_sessions(archived=archived)), time.time()
        )
    elif dry_run or (json_output and verb == "delete"):
        sessions = [client.get_session(sid) for sid in ids]  # what would be (was) deleted
    else:
        sessions = [{"id": sid} for sid in ids]
    count = f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}"
    if dry_run:
        if json_output:
            out.json(sessions)
        else:
            print_sessions(out, sessions)
        out.info(f"Would {verb} {count}; nothing was changed (--dry-run).")
        return
    if by_filter and not sessions:
        if json_output:
            out.json([])
        out.info(f"No sessions match {session_filter.describe()}; nothing to {verb}.")
        return
    if needs_yes and not yes:
        if by_filter:
            what = f"{count} matching {session_filter.describe()}"
        else:
            what = f"session {ids[0]}" if len(ids) == 1 else count
        permanently = " permanently" if verb == "delete" else ""
        if not confirm(f"{verb.capitalize()} {what}{permanently}?"):
            raise JulesError(f"cancelled; nothing was {done_word.lower()}")

    if not by_filter:
        if verb == "delete" and json_output:
            # --json prints the sessions deleted, as they were (delete answers nothing).
            before = {str(session.get("id")): session for session in sessions}

            def act_on(raw: str, delete=action) -> dict:
                delete(raw)
                return before.get(raw, {"id": raw})

        try:
            _each(appctx, ids, act_on, done_word, json_output)
        finally:
            if verb == "delete":
                forget_sessions(ids)
        return

    def report(session: dict, result: dict) -> None:
        if not json_output:
            out.success(f"{done_word} {session.get('id', '')}")

    def act_on_session(session: dict) -> dict:
        result = act_on(session["id"])
        return session if verb == "delete" else result  # a deleted one: as it was

    outcome = act_on_each(sessions, act_on_session, report)
    if verb == "delete":
        forget_sessions([s.get("id", "") for s in sessions[: len(outcome.done)]])
    if json_output:
        out.json(outcome.done)
    if outcome.error is not None:
        failed_id = outcome.failed.get("id", "") if outcome.failed else ""
        left = [str(s.get("id", "")) for s in outcome.not_done]
        if left:
            out.info("Not done: " + " ".join(left))
        summary = JulesError(
            f"{done_word.lower()} {len(outcome.done)} of {count}, then {verb} failed for "
            f"{failed_id}: {outcome.error}" + (f"; {len(left)} not done" if left else ""),
            "run the same command again to act on the rest",
        )
        summary.exit_code = getattr(outcome.error, "exit_code", 1)
        raise summary


@app.command(
    "archive",
    epilog=examples(
        ("Archive two sessions", "jules session archive 1234 5678"),
        (
            "See, then archive, every completed session older than a week",
            "jules session archive --state completed --older-than 7d --dry-run",
        ),
        (
            "The same in a script (no terminal: a filter needs --yes)",
            "jules session archive --state completed --older-than 7d --yes",
        ),
    ),
)
def archive(
    ctx: typer.Context,
    session_ids: OptionalSessionIdsArg = None,
    state: BulkStateOption = None,
    repo: BulkRepoOption = None,
    older_than: OlderThanOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Archive sessions (hidden from `session list`, still readable by id): by id, or
    every session matching --state/--repo/--older-than (--dry-run lists them first)."""
    _bulk(
        app_context(ctx),
        "archive",
        "Archived",
        session_ids or [],
        _session_filter("archive", state, repo, older_than),
        dry_run=dry_run,
        yes=yes,
        json_output=json_output,
        archived=False,
        act="archive_session",
    )


@app.command(
    "unarchive",
    epilog=examples(
        (
            "Find an archived session and bring it back",
            "jules session list --archived && jules session unarchive 1234",
        ),
        (
            "Bring back every archived session that failed",
            "jules session unarchive --state failed --yes",
        ),
    ),
)
def unarchive(
    ctx: typer.Context,
    session_ids: OptionalSessionIdsArg = None,
    state: BulkStateOption = None,
    repo: BulkRepoOption = None,
    older_than: OlderThanOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Bring archived sessions back to `session list`: by id, or every archived session
    matching --state/--repo/--older-than."""
    _bulk(
        app_context(ctx),
        "unarchive",
        "Unarchived",
        session_ids or [],
        _session_filter("unarchive", state, repo, older_than),
        dry_run=dry_run,
        yes=yes,
        json_output=json_output,
        archived=True,
        act="unarchive_session",
    )


@app.command(
    "delete",
    epilog=examples(
        ("Delete a session, after a confirmation", "jules session delete 1234"),
        (
            "Delete every failed session of a repository, without asking",
            "jules session delete --state failed --repo octo/hello --yes",
        ),
    ),
)
def delete(
    ctx: typer.Context,
    session_ids: OptionalSessionIdsArg = None,
    state: BulkStateOption = None,
    repo: BulkRepoOption = None,
    older_than: OlderThanOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Delete sessions permanently (asks first in a terminal; --yes otherwise): by id, or
    every session matching --state/--repo/--older-than, never a running one (QUEUED,
    PLANNING, IN_PROGRESS) unless --state names its state."""
    _bulk(
        app_context(ctx),
        "delete",
        "Deleted",
        session_ids or [],
        _session_filter("delete", state, repo, older_than),
        dry_run=dry_run,
        yes=yes,
        json_output=json_output,
        archived=None,
        act="delete_session",
    )
