"""The root `jules` app: global options and one sub-app per noun."""

# No `from __future__ import annotations`: Typer would evaluate every string annotation
# again on each run.
from difflib import get_close_matches
from typing import Annotated, Any

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from jules_cli import __version__
from jules_cli.cli.context import AppContext

HELP = """Drive Google's Jules coding agent from a terminal, a script or a CI job.

Start with `jules auth login`, then `jules sources list` and `jules session new "..."`.
Try everything offline with `--emulator` (or `jules emulator serve`)."""

# Each top-level command: the module that defines it, and its hidden aliases. A run
# imports only the module of the command it runs (see build_app).
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "auth": ("auth", ()),
    "config": ("config", ()),
    "sources": ("sources", ("source",)),
    "session": ("session", ("sessions",)),
    "status": ("status", ()),
    "dashboard": ("dashboard", ()),
    "activities": ("activities", ("activity",)),
    "emulator": ("emulator", ()),
    "mcp": ("mcp", ()),
    "api": ("api", ()),
    "completion": ("completion", ()),
}


def _print_version(value: bool) -> None:
    if value:
        print(f"jules {__version__}")
        raise typer.Exit()


def main(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", envvar="JULES_PROFILE", metavar="NAME", help="Config profile to use."
        ),
    ] = "default",
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar="JULES_API_URL",
            metavar="URL",
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
    emulator_speed: Annotated[
        float | None,
        typer.Option(
            "--emulator-speed",
            envvar="JULES_EMULATOR_SPEED",
            metavar="X",
            help="With --emulator: simulated time runs X times faster  [default: 10]",
            show_default=False,
        ),
    ] = None,
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
        emulator_speed=emulator_speed,
    )
    ctx.call_on_close(ctx.obj.close)


class _RootGroup(TyperGroup):
    """The root command: its commands listed in COMMANDS order (Typer puts single commands
    such as `api` before the groups), and a typo answered with visible names only (not a
    hidden alias: "did you mean 'session', 'sessions'?")."""

    def list_commands(self, ctx: Any) -> list[str]:
        order = list(COMMANDS)
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: order.index(name) if name in order else len(order))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        suggest, self.suggest_commands = self.suggest_commands, False
        try:
            return super().resolve_command(ctx, args)
        except UsageError as error:
            visible = [name for name, command in self.commands.items() if not command.hidden]
            matches = get_close_matches(args[0], visible) if suggest and args else []
            if matches:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
        finally:
            self.suggest_commands = suggest


def build_app(only: str | None = None) -> typer.Typer:
    """The root app with every command, or with only the command named `only`.

    Typer builds the whole Click tree, and importing every command module is a good part
    of a run's start-up; a run needs one command, so `__main__` asks for just that one.
    Help and completion come from the generated tree, which is made from the full app.
    """
    import importlib

    from jules_cli.cli.options import examples

    root = typer.Typer(
        name="jules",
        help=HELP,
        epilog=examples(
            ("Store your key (asked for without echo)", "jules auth login"),
            (
                "Start a session and follow it live",
                'jules session new --repo octo/app --follow "Fix it"',
            ),
            ("What needs you, what runs, what ended", "jules status"),
            ("Try everything offline", 'jules --emulator session new --no-repo "Say hello"'),
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain help, never Rich's: its tables and Markdown cost more than the rest of a run.
        # (`--help` is normally answered from the generated tree by cli._help; this is for the
        # cases left to Typer, and for every Typer command under this app.)
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        cls=_RootGroup,
    )
    root.callback()(main)
    for name, (module_name, aliases) in COMMANDS.items():
        if only is not None and only != name:
            continue
        module = importlib.import_module(f"jules_cli.cli.{module_name}")
        if not isinstance(getattr(module, "app", None), typer.Typer):
            module.register(root)  # a single command (`jules api`), not a group
            continue
        root.add_typer(module.app, name=name)
        for alias in aliases:
            root.add_typer(module.app, name=alias, hidden=True)
    return root


def command_of(argv: list[str]) -> str | None:
    """The top-level command `argv` runs (after the global options), if it names one."""
    from jules_cli.cli import _words
    from jules_cli.cli._command_tree import TREE

    line = _words.scan(TREE, list(argv))
    if line.bad or not line.rest:
        return None
    name = line.rest[0]
    for command, (_, aliases) in COMMANDS.items():
        if name == command or name in aliases:
            return command
    return None


def __getattr__(name: str) -> typer.Typer:
    # `app`, the full tree, for the docs generator and tests; built on first use.
    if name == "app":
        full = build_app()
        globals()["app"] = full
        return full
    raise AttributeError(name)
