"""`jules mcp serve`: the Model Context Protocol server, a front-end beside cli/ and tui/.

Coding agents call the tools that CLI.md fixes (names and arguments); each result is the
API's JSON object unchanged, as structured content (lists as `{"sources": [...]}` and
the like, the API's own list shape, since structured content is always an object). A
failure is a tool error whose text is the one line the command would print
(`Error: ... - ...`). The server never asks anything and never writes the key: errors are
redacted as everywhere, and nothing else is written to stdout, which carries the protocol.

Like the command-line verbs, every tool is a few lines over the domain modules (sessions,
sources, follow, artifacts) and the one API client; none calls a Typer command.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ValidationError

from jules_cli import __version__
from jules_cli.api import names
from jules_cli.errors import JulesError, redact
from jules_cli.render.output import safe_text

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient

INSTRUCTIONS = """\
Drive Google's Jules coding agent: list the connected GitHub repositories (list_sources),
start a coding session from a prompt (create_session), follow it (get_session,
list_activities, wait_for_session), approve its plan (approve_plan), answer its questions
(send_message) and take its result (get_diff). Every session costs one of the account's
daily tasks: never create one without being asked to. Session arguments accept an id,
sessions/ID or the session's web URL."""

# wait_for_session's outcome: the exit code `jules session wait` would give, by name
# (0 completed, also when the state asked for in `until` was reached; 8 failed;
# 9 waiting, the session needs the user; 10 timeout).
OUTCOMES = {
    "reached": "completed",
    "completed": "completed",
    "failed": "failed",
    "needs_user": "waiting",
    "timeout": "timeout",
}
DEFAULT_WAIT_SECONDS = 600.0
MAX_WAIT_SECONDS = 6 * 3600.0
# A wait's requests, retries and pauses end this long after its timeout at the latest:
# time for the last look at the session (as `jules session wait --timeout` allows).
FINAL_LOOK_SECONDS = 1.0

CHANGING_TOOLS = ("create_session", "approve_plan", "send_message", "archive_session")


def error_result(text: str) -> CallToolResult:
    """A failed call whose text is one `Error: ...` line, as the command prints it:
    redacted, control characters shown (not obeyed), line breaks folded."""
    line = " ".join(safe_text(redact(text)).splitlines())
    return CallToolResult(is_error=True, content=[TextContent(type="text", text=f"Error: {line}")])


def tool_error(error: JulesError) -> CallToolResult:
    """A JulesError as the command's one-line error. Returned rather than raised as
    ToolError, which the SDK would prefix with "Error executing tool NAME: "."""
    return error_result(str(error))


def _arguments_error(name: str, error: ValidationError) -> str:
    """The SDK's pydantic report (several lines, a URL) as one line naming each argument
    and what is wrong with it, never the value given."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "arguments"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return f"invalid arguments to {name}: {'; '.join(problems)} - see the tool's input schema"


class JulesMCPServer(MCPServer):
    """MCPServer whose every failed call is one `Error: ...` line, like the command's:
    also an unknown tool, arguments that do not fit the schema, and a bug (the SDK would
    give a pydantic report over several lines, or no reason at all)."""

    def __init__(self, *args: Any, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_only = read_only

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except MCPError:
            raise  # a protocol error, answered as such
        except ToolError as error:
            cause = error.__cause__
            if isinstance(cause, ValidationError):
                return error_result(_arguments_error(name, cause))
            if isinstance(cause, JulesError):
                return tool_error(cause)
            if cause is None and self._tool_manager.get_tool(name) is None:
                if self.read_only and name in CHANGING_TOOLS:
                    return error_result(
                        f"{name} is not served: this server is read-only (--read-only) "
                        "- restart it without --read-only to let the agent change sessions"
                    )
                return error_result(f"unknown tool {name!r} - list the tools with tools/list")
            if cause is not None:
                return error_result(
                    f"unexpected {type(cause).__name__}: {cause} - report it, with the "
                    "server's --debug output"
                )
            return error_result(str(error))


def _reported(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every JulesError (bad argument, API refusal, outage) becomes a tool error."""

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except JulesError as error:
            return tool_error(error)

    return call


class Stopped(Exception):
    """The call was cancelled (the client gave up on it, or the server is stopping)."""


# How a tool running in a worker thread pauses between polls (see in_thread()).
_pause: contextvars.ContextVar[Callable[[float], None]] = contextvars.ContextVar(
    "jules_mcp_pause", default=time.sleep
)


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`, blocking (HTTP, polling), in a worker thread.

    A cancelled call (notifications/cancelled, or the client closing the stream) returns
    at once, and its thread stops at its next pause between polls: a wait the agent gave
    up on must not go on spending the shared ListActivities quota until its timeout, nor
    keep the process alive after the client has gone."""
    stop = threading.Event()

    def pause(seconds: float) -> None:
        if stop.wait(max(seconds, 0.0)):
            raise Stopped

    token = _pause.set(pause)  # the worker thread runs in a copy of this context
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        raise
    finally:
        _pause.reset(token)


class Tools:
    """The tools, over one client. `settings(name)` reads the active profile's defaults
    (repo, branch, require-approval, auto-pr), as `session new` does."""

    def __init__(
        self, client: JulesClient, settings: Callable[[str], Any], poll_scale: float = 1.0
    ) -> None:
        self.client = client
        self.settings = settings
        self.poll_scale = poll_scale  # JULES_POLL_SCALE (emulators only), as the CLI's

    def _pacing(self) -> dict[str, Any]:
        """The process's one ListActivities pacer, shared by every wait and reply this
        server follows at once (CLI.md: 30 a minute, 12 in any 20 s, per follower), and
        the CLI followers' pauses between polls."""
        from jules_cli.follow import Backoff
        from jules_cli.pacing import shared

        scale = self.poll_scale
        return {"pacer": shared(scale), "backoff": Backoff.scaled(None, scale)}

    # -- reading -------------------------------------------------------------------------

    def list_sources(self, filter: str | None = None) -> dict[str, Any]:
        return {"sources": list(self.client.list_sources(filter=filter or None))}

    def list_sessions(
        self, state: str | None = None, repo: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        from jules_cli.sessions import filter_sessions, parse_states

        states = parse_states([state]) if state else None
        if limit is not None and limit < 1:
            raise JulesError(f"limit must be at least 1, not {limit}")
        sessions = filter_sessions(
            self.client.list_sessions(), states=states, repo=repo or None, limit=limit or 100
        )
        return {"sessions": list(sessions)}

    def get_session(self, session: str) -> dict[str, Any]:
        return self.client.get_session(names.session_id(session))

    def list_activities(self, session: str, since: str | None = None) -> dict[str, Any]:
        from jules_cli.times import since_time

        sid = names.session_id(session)
        after = since_time(since, "since") if since else None  # 10m: that long ago
        return {"activities": list(self.client.list_activities(sid, since=after))}

    def get_diff(self, session: str) -> str:
        from jules_cli.artifacts import select_patch

        sid = names.session_id(session)
        found = self.client.get_session(sid)
        return select_patch(found, list(self.client.list_activities(sid)), None).unidiff

    def wait_for_session(
        self,
        session: str,
        until: str | None,
        timeout_seconds: float | None,
        on_state: Callable[[str], None],
    ) -> dict[str, Any]:
        from jules_cli.follow import follow

        sid = names.session_id(session)
        timeout = DEFAULT_WAIT_SECONDS if timeout_seconds is None else float(timeout_seconds)
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise JulesError(
                f"timeout_seconds must be between 0 and {MAX_WAIT_SECONDS:.0f}, not {timeout:g}"
            )
        # The timeout bounds everything, the client's retries and their pauses included.
        with self.client.time_limit(timeout + FINAL_LOOK_SECONDS):
            result = follow(
                self.client,
                sid,
                condition=until or "done",
                timeout=timeout,
                on_state_change=lambda _old, new, _session: on_state(new),
                sleep=_pause.get(),
                **self._pacing(),
            )
        return {"session": result.session, "outcome": OUTCOMES[result.outcome]}

    # -- acting --------------------------------------------------------------------------

    def create_session(
        self,
        prompt: str,
        repo: str | None = None,
        branch: str | None = None,
        title: str | None = None,
        require_approval: bool | None = None,
        auto_pr: bool | None = None,
        no_repo: bool = False,
    ) -> dict[str, Any]:
        from jules_cli.sessions import new_session_for_agent

        request = new_session_for_agent(
            self.client,
            self.settings,
            prompt=prompt,
            repo=repo,
            branch=branch,
            title=title,
            require_approval=require_approval,
            auto_pr=auto_pr,
            no_repo=no_repo,
        )
        return self.client.create_session(request.to_request())

    def approve_plan(self, session: str) -> dict[str, Any]:
        sid = names.session_id(session)
        self.client.approve_plan(sid)
        return self.client.get_session(sid)

    def send_message(self, session: str, message: str, wait_reply: bool = False) -> dict[str, Any]:
        sid = names.session_id(session)
        if not message.strip():
            raise JulesError("the message is empty")
        if not wait_reply:
            self.client.send_message(sid, message)
            return self.client.get_session(sid)
        from jules_cli.follow import send_and_wait

        with self.client.time_limit(DEFAULT_WAIT_SECONDS + FINAL_LOOK_SECONDS):
            reply, _code = send_and_wait(
                self.client,
                sid,
                message,
                timeout=DEFAULT_WAIT_SECONDS,
                sleep=_pause.get(),
                **self._pacing(),
            )
        return {"session": self.client.get_session(sid), "reply": reply}

    def archive_session(self, session: str) -> dict[str, Any]:
        sid = names.session_id(session)
        self.client.archive_session(sid)
        return self.client.get_session(sid)


READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=True)
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=True)


def build_server(
    client: JulesClient,
    settings: Callable[[str], Any],
    *,
    read_only: bool = False,
    poll_scale: float = 1.0,
) -> MCPServer:
    """The server with every tool, or with `read_only` only those that change nothing."""
    tools = Tools(client, settings, poll_scale)
    server = JulesMCPServer(
        "jules",
        title="Jules",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        read_only=read_only,
    )

    def sync_tool(fn: Callable[..., Any], description: str, annotations: ToolAnnotations):
        """A blocking tool (HTTP) run in a worker thread, its JulesErrors as tool errors."""

        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await in_thread(functools.partial(fn, *args, **kwargs))

        server.tool(description=description, annotations=annotations)(_reported(call))

    sync_tool(tools.list_sources, "The connected GitHub repositories (Sources). `filter`: "
              "an AIP-160 filter such as name=sources/github/OWNER/REPO.", READ_ONLY)
    sync_tool(tools.list_sessions, "Sessions, newest first (at most `limit`, default 100), "
              "optionally only those in `state` (e.g. COMPLETED, FAILED, "
              "AWAITING_PLAN_APPROVAL) or on `repo` (OWNER/REPO).", READ_ONLY)
    sync_tool(tools.get_session, "One session: state, title, source, branch, URL, outputs "
              "(the pull request).", READ_ONLY)
    sync_tool(tools.list_activities, "A session's activities, oldest first: plan, progress, "
              "messages, commands run, change sets. `since`: an RFC 3339 time or a "
              "duration such as 10m.", READ_ONLY)
    sync_tool(tools.get_diff, "The session's patch as a unified diff (its output's change "
              "set, else the newest non-empty one among its activities).", READ_ONLY)

    @server.tool(
        description="Wait until the session is done (or `until`: done, settled, or a state "
        "name), at most `timeout_seconds` (default 600). Returns the session and its "
        "outcome: completed (or reached the state asked for), failed, waiting (it needs "
        "the user: approve the plan or send a message) or timeout.",
        annotations=READ_ONLY,
    )
    @_reported
    async def wait_for_session(
        session: str,
        ctx: Context,
        until: str | None = None,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        from jules_cli.follow import Condition

        if until:
            Condition.parse(until)  # a bad condition fails before any request
        states: list[str] = []

        def on_state(state: str) -> None:
            states.append(state)
            anyio.from_thread.run(ctx.report_progress, len(states), None, f"state {state}")

        return await in_thread(tools.wait_for_session, session, until, timeout_seconds, on_state)

    if not read_only:
        sync_tool(tools.create_session, "Start a coding session (this spends one of the "
                  "account's daily tasks). Give `repo` (OWNER/REPO) or `no_repo` (or have a "
                  "default repo in the profile); `branch` defaults to the repository's "
                  "default branch.", CHANGES)
        sync_tool(tools.approve_plan, "Approve the session's pending plan; returns the "
                  "session.", CHANGES)
        sync_tool(tools.send_message, "Send the session a message (an answer, a follow-up "
                  "task). With `wait_reply`, wait for the agent's answer and return it as "
                  "`reply` beside the session.", CHANGES)
        sync_tool(tools.archive_session, "Archive the session (hidden from list_sessions); "
                  "returns the session.", CHANGES)
    return server


def serve(
    client: JulesClient,
    settings: Callable[[str], Any],
    *,
    read_only: bool,
    poll_scale: float = 1.0,
) -> None:
    """Serve on stdio until the client closes the stream."""
    build_server(client, settings, read_only=read_only, poll_scale=poll_scale).run("stdio")
