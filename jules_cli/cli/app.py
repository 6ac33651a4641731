"""The root `jules` app: global options and one sub-app per noun."""

from __future__ import annotations

from typing import Annotated

import typer

from jules_cli import __version__
from jules_cli.cli import activities, api, auth, completion, config, emulator, session, sources
from jules_cli.cli.context import AppContext

HELP = """Drive Google's Jules coding agent from a terminal, a script or a CI job.

Start with `jules auth login`, then `jules sources list` and `jules session new "..."`.
Try everything offline with `--emulator` (or `jules emulator serve`)."""

app = typer.Typer(
    name="jules",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, never Rich's: its tables and Markdown cost more than the rest of a run.
    # (`--help` is normally answered from the generated tree by cli._help; this is for the
    # cases left to Typer, and for every Typer command under this app.)
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"jules {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option("--profile", envvar="JULES_PROFILE", help="Config profile to use."),
    ] = "default",
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar="JULES_API_URL",
            help="API base URL including the version  [default: https://jules.googleapis.com/v1alpha]",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="JULES_DEBUG", help="Trace HTTP calls on stderr (key redacted)."
        ),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain output without colour (also: NO_COLOR).")
    ] = False,
    emulator_mode: Annotated[
        bool,
        typer.Option(
            "--emulator",
            envvar="JULES_EMULATOR",
            help="Use the built-in emulator in-process: no key needed, state kept between runs.",
        ),
    ] = False,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input", envvar="JULES_NO_INPUT", help="Never ask questions, fail instead."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    ctx.obj = AppContext(
        profile_name=profile,
        api_url_option=api_url,
        debug=debug,
        no_color=no_color,
        emulator=emulator_mode,
        no_input=no_input,
    )
    ctx.call_on_close(ctx.obj.close)


app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")
app.add_typer(sources.app, name="sources")
app.add_typer(sources.app, name="source", hidden=True)
app.add_typer(session.app, name="session")
app.add_typer(session.app, name="sessions", hidden=True)
app.add_typer(activities.app, name="activities")
app.add_typer(activities.app, name="activity", hidden=True)
app.add_typer(emulator.app, name="emulator")
api.register(app)
completion.register(app)
