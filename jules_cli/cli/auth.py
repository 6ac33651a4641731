"""`jules auth`: store, inspect and remove the API key."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from jules_cli.cli.context import AppContext, app_context
from jules_cli.cli.options import JqOption, JsonOption, examples
from jules_cli.errors import ApiError, AuthError, UsageError

app = typer.Typer(
    help="Store, check and remove the Jules API key.",
    no_args_is_help=True,
    epilog=examples(
        (
            "Store a key (asked for without echo), then check it",
            "jules auth login && jules auth status",
        ),
        ("Forget the stored key", "jules auth logout"),
    ),
)


def _read_key(appctx: AppContext, with_key: bool) -> str:
    from jules_cli.config import check_key_text
    from jules_cli.errors import register_secret

    if with_key:
        key = sys.stdin.readline().strip()
        if not key:
            raise UsageError(
                "no key on standard input", "pipe it in: `jules auth login --with-key < key.txt`"
            )
        register_secret(key)
        return check_key_text(key, "standard input")
    if not appctx.interactive:
        raise UsageError(
            "no terminal to ask for the key",
            "pipe it in with `jules auth login --with-key`, or set JULES_API_KEY",
        )
    import getpass

    try:
        key = getpass.getpass("Paste your Jules API key (input hidden): ", stream=sys.stderr)
    except KeyboardInterrupt:
        # Echo is off, so not even the ^C ended the prompt's line: end it, so that what
        # is printed on the way out does not follow the prompt.
        sys.stderr.write("\n")
        sys.stderr.flush()
        raise
    key = key.strip()
    if not key:
        raise UsageError("no key entered")
    register_secret(key)
    return check_key_text(key, "the prompt")


def _check_key(appctx: AppContext, key: str) -> None:
    """One cheap authenticated call; raises AuthError when the key is refused."""
    from jules_cli.api.client import JulesClient

    if appctx.emulator:
        appctx.client().request("GET", "sources", params={"pageSize": 1})
        return
    with JulesClient(key, appctx.api_url, trace=appctx.trace if appctx.debug else None) as client:
        client.request("GET", "sources", params={"pageSize": 1})


@app.command(
    epilog=examples(
        ("Store a key, typed at a hidden prompt", "jules auth login"),
        (
            "Store a key read from stdin, e.g. from a password manager",
            "pass show jules | jules auth login --with-key",
        ),
        (
            "Store a key in another profile without checking it first",
            "jules --profile work auth login --no-verify",
        ),
    )
)
def login(
    ctx: typer.Context,
    with_key: Annotated[
        bool, typer.Option("--with-key", help="Read the key from standard input.")
    ] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Store the key without checking it against the API.")
    ] = False,
) -> None:
    """Store an API key in the profile (file mode 0600), checked against the API first."""
    from jules_cli.config import KEY_FIELD, mask_key

    appctx = app_context(ctx)
    profile = appctx.profile  # a corrupt config file fails here, before asking anything
    key = _read_key(appctx, with_key)
    if not no_verify:
        try:
            _check_key(appctx, key)
        except AuthError as exc:
            raise AuthError(
                f"the API refused this key ({exc.status or exc.http_status}); nothing was stored",
                hint="create a key at https://jules.google.com/settings#api",
            ) from exc
    profile.set(KEY_FIELD, key)
    out = appctx.out
    out.success(f"Stored key {mask_key(key)} in profile {profile.name!r} ({profile.path})")
    if appctx.emulator or no_verify:
        return
    out.info("The API accepted the key.")


@app.command(
    epilog=examples(
        ("Which key is in force, and does the API accept it?", "jules auth status"),
        ("Only where the key comes from, without a request", "jules auth status --no-verify"),
    )
)
def status(
    ctx: typer.Context,
    json_output: JsonOption = False,
    jq: JqOption = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Do not ask the API whether it accepts the key.")
    ] = False,
) -> None:
    """Which key is in force (environment or profile, masked) and whether the API accepts it."""
    from jules_cli.config import mask_key, resolve_key

    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    source = resolve_key(appctx.profile)
    report: dict[str, object] = {
        "profile": appctx.profile_name,
        "apiUrl": "(in-process emulator)" if appctx.emulator else appctx.api_url,
        "source": source.origin if source else None,
        "key": mask_key(source.key) if source else None,
    }
    if source is None and appctx.emulator:
        # The in-process emulator needs no key: nothing is missing.
        report["valid"] = True
        if json_output:
            out.json(report)
        else:
            out.fields(
                [("Key", "not needed (in-process emulator)"), ("Profile", appctx.profile_name)]
            )
        return
    problem: ApiError | None = None
    if source is not None and not no_verify:
        try:
            _check_key(appctx, source.key)
            report["valid"] = True
        except AuthError as exc:
            report["valid"] = False
            problem = exc
    if json_output:
        out.json(report)
    elif source is None:
        out.fields([("Key", "none"), ("Profile", appctx.profile_name)])
    else:
        valid = report.get("valid")
        out.fields(
            [
                ("Key", mask_key(source.key)),
                ("From", source.description),
                ("API", str(report["apiUrl"])),
                ("Accepted", "not checked" if valid is None else ("yes" if valid else "no")),
            ]
        )
    if source is None:
        from jules_cli.errors import MissingKeyError

        raise MissingKeyError()
    if problem is not None:
        raise AuthError(f"the API refused the key from {source.description}: {problem}")


@app.command(
    epilog=examples(
        ("Remove the key of the default profile", "jules auth logout"),
        ("Remove the key of the work profile", "jules --profile work auth logout"),
    )
)
def logout(ctx: typer.Context) -> None:
    """Remove the profile's stored key."""
    import os

    from jules_cli.config import KEY_FIELD

    appctx = app_context(ctx)
    profile = appctx.profile
    out = appctx.out
    if profile.unset(KEY_FIELD):
        out.success(f"Removed the key of profile {profile.name!r} ({profile.path})")
    else:
        out.info(f"Profile {profile.name!r} has no stored key.")
    if os.environ.get("JULES_API_KEY"):
        out.warn("JULES_API_KEY is still set in the environment and remains in force.")
