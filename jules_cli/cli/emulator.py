"""`jules emulator`: the local Jules API emulator, for offline use and tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import examples
from jules_cli.errors import UsageError

app = typer.Typer(
    help="Run the local Jules API emulator: try every command offline, test your scripts.",
    epilog=examples(
        (
            "Serve the emulator, then point jules at it from another shell",
            "jules emulator serve --port 8765",
        ),
        (
            "Or use it in-process, with no server",
            'jules --emulator session new --no-repo "Say hello"',
        ),
    ),
    no_args_is_help=True,
)


def _faults(values: list[str]) -> list[dict]:
    faults = []
    for text in values:
        try:
            fault = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--fault is not valid JSON: {text!r} ({exc.msg})") from exc
        if not isinstance(fault, dict):
            raise UsageError(f"--fault takes a JSON object, not {text!r}")
        faults.append(fault)
    return faults


@app.command(
    "serve",
    epilog=examples(
        ("Serve on a port, then export what it prints", "jules emulator serve --port 8765"),
        (
            "Sessions that run 60 times faster, from a seed file",
            "jules emulator serve --speed 60 --seed seed.json",
        ),
        (
            "Test a script's retries: two 429s first",
            'jules emulator serve --fault \'{"status":429,"times":2}\'',
        ),
    ),
)
def serve(
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on (loopback).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="PORT", help="Port (0 picks a free one).")
    ] = 8765,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            metavar="X",
            help="Simulated time runs this many times faster (10: a session in ~6 s).",
        ),
    ] = 10.0,
    seed: Annotated[
        Path | None,
        typer.Option(
            "--seed", metavar="FILE", help="JSON file of sources (and sessions) to start with."
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", metavar="KEY", help="Require this API key (default: any non-empty key)."
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="JSON",
            help='Inject a fault, as JSON, e.g. \'{"status":429,"retryAfter":1,"times":2}\'.',
        ),
    ] = None,
    bash_output: Annotated[
        bool | None,
        typer.Option(
            "--bash-output/--no-bash-output",
            help="Emit bashOutput artifacts (default: $JULES_EMULATOR_BASH_OUTPUT, else on).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the Jules API on loopback; prints the JULES_API_URL/JULES_API_KEY to export."""
    from jules_cli.emulator import serve_forever

    if speed <= 0:
        raise UsageError("--speed must be above 0")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0-65535, not {port}")
    try:
        code = serve_forever(
            host,
            port,
            speed=speed,
            seed_file=seed,
            api_key=key,
            faults=_faults(fault or []),
            bash_output=bash_output,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "pick another port with --port, or 0 for a free one",
        ) from exc
    if code:
        raise typer.Exit(code)


@app.command(
    "reset",
    epilog=examples(
        ("Forget every session of the in-process emulator", "jules emulator reset"),
        (
            "Start a demo from scratch",
            'jules emulator reset && jules --emulator session new --no-repo "Say hello"',
        ),
    ),
)
def reset(ctx: typer.Context) -> None:
    """Forget the state of the in-process emulator used by --emulator."""
    from jules_cli.cli.context import emulator_state_path
    from jules_cli.emulator.inprocess import reset_state

    path = emulator_state_path()
    out = app_context(ctx).out
    if reset_state(path):
        out.success(f"Removed the emulator state {path}")
    else:
        out.info("The in-process emulator has no saved state.")
