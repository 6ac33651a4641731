"""`jules mcp serve`: the Model Context Protocol server for coding agents, on stdio."""

# No `from __future__ import annotations` (see cli/session.py).

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import examples
from jules_cli.errors import UsageError

app = typer.Typer(
    help="Serve jules to coding agents over the Model Context Protocol.",
    epilog=examples(
        ("Serve the tools on stdio (the agent starts this)", "jules mcp serve"),
        ("Only the tools that change nothing", "jules mcp serve --read-only"),
    ),
    no_args_is_help=True,
)

INSTALL_HINT = "install it with: pip install 'julesctl[mcp]'"


@app.command(
    "serve",
    epilog=examples(
        ("Serve the tools on stdio (the agent starts this)", "jules mcp serve"),
        ("Only the tools that change nothing", "jules mcp serve --read-only"),
        ("Try it against the built-in emulator", "jules --emulator mcp serve"),
    ),
)
def serve(
    ctx: typer.Context,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            help="Serve only the tools that change nothing (list_*, get_*, wait_for_session).",
        ),
    ] = False,
) -> None:
    """A Model Context Protocol server on stdio: the agent starts it and calls its tools.

    Tools: list_sources, list_sessions, get_session, list_activities, get_diff,
    wait_for_session, and (unless --read-only) create_session, approve_plan, send_message,
    archive_session. Results are the API's JSON objects; a failure is a tool error with
    the one-line error the command would print. It never asks anything: the key comes
    from JULES_API_KEY or the profile, and --emulator works as everywhere.
    """
    try:
        from jules_cli.mcp.server import serve as serve_stdio
    except ImportError as error:
        if (error.name or "").split(".")[0] != "mcp":
            raise
        missing = "jules mcp serve needs the MCP SDK (the mcp extra)"
        raise UsageError(missing, INSTALL_HINT) from None

    appctx = app_context(ctx)
    appctx.no_input = True  # stdin carries the protocol: nothing may ever read it
    try:
        serve_stdio(
            appctx.client(), appctx.setting, read_only=read_only, poll_scale=appctx.poll_scale
        )
    except KeyboardInterrupt:
        _leave_at_once()


def _leave_at_once() -> None:
    """Ctrl-C, SIGTERM or SIGHUP while the client still holds stdin open: the SDK reads
    stdin in a worker thread that only a line or end of file wakes, and Python would wait
    for it at exit forever. Say why, as every command does, and leave now (the tools
    in flight are abandoned: a cancelled call)."""
    import os
    import sys

    from jules_cli import signals

    message, code = signals.describe(signals.last_signal())
    try:
        sys.stderr.write(f"Error: {message}\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
