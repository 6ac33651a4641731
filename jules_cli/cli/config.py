"""`jules config`: profile settings (default repo, branch, require-approval, auto-pr)."""

from __future__ import annotations

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import JqOption, JsonOption, examples
from jules_cli.errors import UsageError

app = typer.Typer(
    help="Read and change profile settings.",
    no_args_is_help=True,
    epilog=examples(
        (
            "Start every session on one repository, with a pull request",
            "jules config set repo octo/app && jules config set auto-pr true",
        ),
        ("See the settings of the work profile", "jules --profile work config list"),
    ),
)

KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="Setting name, e.g. repo or auto-pr.")]


def _known(key: str) -> str:
    from jules_cli.config import KEY_FIELD, SETTINGS

    if key in (KEY_FIELD, "api-key", "key"):
        raise UsageError(
            "the API key is not a setting",
            "store it with `jules auth login`, remove it with `jules auth logout`",
        )
    if key not in SETTINGS:
        raise UsageError(f"unknown setting {key!r}", f"known settings: {', '.join(SETTINGS)}")
    return key


def _display(values: dict) -> dict:
    from jules_cli.config import KEY_FIELD, mask_key

    shown = dict(values)
    if isinstance(shown.get(KEY_FIELD), str):
        shown[KEY_FIELD] = mask_key(shown[KEY_FIELD])
    return shown


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@app.command(
    "list",
    epilog=examples(
        ("Every setting of the profile", "jules config list"),
        ("The settings of the work profile, as JSON", "jules --profile work config list --json"),
    ),
)
def list_settings(
    ctx: typer.Context,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Settings of the active profile (the stored key shown masked)."""
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    values = _display(appctx.profile.values)
    if json_output:
        out.json(values)
        return
    if not values:
        out.info(
            f"Profile {appctx.profile_name!r} has no settings; "
            "try `jules config set repo owner/repo`."
        )
        return
    from jules_cli.render.output import Column

    out.table(
        [Column("KEY", no_wrap=True), Column("VALUE")], [(k, _text(v)) for k, v in values.items()]
    )


@app.command(
    "get",
    epilog=examples(
        ("The default repository of new sessions", "jules config get repo"),
        ("Use a setting in a script", "REPO=$(jules config get repo)"),
    ),
)
def get_setting(
    ctx: typer.Context,
    key: KeyArg,
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """Print one setting; exit code 3 when it is not set."""
    from jules_cli.errors import NotFound

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    value = appctx.profile.get(_known(key))
    if value is None:
        raise NotFound(
            f"{key} is not set in profile {appctx.profile_name!r}",
            hint=f"set it with `jules config set {key} VALUE`",
        )
    if json_output:
        out.json(value)
    else:
        out.line(_text(value))


@app.command(
    "set",
    epilog=examples(
        (
            "Start new sessions on this repository and branch",
            "jules config set repo octo/app && jules config set branch develop",
        ),
        ("Ask for plan approval by default", "jules config set require-approval true"),
    ),
)
def set_setting(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(metavar="VALUE")],
) -> None:
    """Change one setting of the active profile."""
    from jules_cli.config import SETTINGS

    appctx = app_context(ctx)
    parsed = SETTINGS[_known(key)].parse(value)
    appctx.profile.set(key, parsed)
    appctx.out.success(f"{key} = {_text(parsed)} (profile {appctx.profile_name!r})")


@app.command(
    "unset",
    epilog=examples(
        ("Back to the repository of the current checkout", "jules config unset repo"),
        ("Drop a setting of the work profile", "jules --profile work config unset auto-pr"),
    ),
)
def unset_setting(ctx: typer.Context, key: KeyArg) -> None:
    """Remove one setting from the active profile."""
    appctx = app_context(ctx)
    if appctx.profile.unset(_known(key)):
        appctx.out.success(f"Removed {key} from profile {appctx.profile_name!r}")
    else:
        appctx.out.info(f"{key} was not set in profile {appctx.profile_name!r}")


@app.command(
    "path",
    epilog=examples(
        ("Where the configuration file is", "jules config path"),
        ("Edit it by hand", '"$EDITOR" "$(jules config path)"'),
    ),
)
def path(ctx: typer.Context) -> None:
    """Print the config file's path."""
    from jules_cli.config import config_path

    app_context(ctx).out.line(str(config_path()))
