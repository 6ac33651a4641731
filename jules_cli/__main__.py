"""Entry point: run the app and turn every failure into one stderr line and an exit code.

Start-up time matters (every TAB press runs this), so the cheap answers come first and
import nothing heavy: a TAB press (`cli._tab`), `--help` and `--version` (`cli._help`)
are answered from the generated command tree. Only a command that really runs imports
Typer and builds the app.
"""

from __future__ import annotations

import os
import sys


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("JULES_DEBUG", "").lower() in ("1", "true", "yes")


def _error(message: str) -> None:
    from jules_cli.errors import redact
    from jules_cli.render.output import safe_text

    try:
        # API text can carry terminal escapes; the error line must not run them. Nor
        # may it repeat the API key, whatever exception text it quotes.
        sys.stderr.write(f"Error: {safe_text(redact(message))}\n")
        sys.stderr.flush()
    except Exception:
        pass  # stderr itself is broken: the exit code is all that is left


def _usage_message(exc: Exception) -> str:
    """One line for Typer's usage errors, without importing its vendored Click."""
    message = exc.format_message()  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) if ctx is not None else None
    hint = f" - see `{command} --help`" if command else ""
    return f"{message}{hint}"


def main(argv: list[str] | None = None) -> int:
    if sys.stdout is None or sys.stderr is None:
        # Started with a closed descriptor (`jules ... >&-`): Python then has no stream.
        from jules_cli.render.streams import ClosedStream

        sys.stdout = sys.stdout or ClosedStream()
        sys.stderr = sys.stderr or ClosedStream(discard=True)
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM, SIGHUP once they are handled) while starting up (imports,
        # building the app): the same one line as when a command is interrupted.
        signals = sys.modules.get("jules_cli.signals")
        message, code = signals.describe(signals.last_signal()) if signals else ("interrupted", 130)
        _error(message)
        return code


def _run(argv: list[str]) -> int:
    if os.environ.get("_JULES_COMPLETE"):
        from jules_cli.cli._tab import respond

        return respond(argv)
    from jules_cli.cli._command_tree import TREE
    from jules_cli.cli._words import hoist_globals

    # Global options are taken after the command too (`jules session list --emulator`):
    # Click knows them only before it, so they are moved there first.
    argv = hoist_globals(TREE, argv)
    answered = _quick_answer(argv)
    if answered is not None:
        return answered
    import typer

    from jules_cli import signals
    from jules_cli.cli.app import build_app, command_of
    from jules_cli.errors import ExitCode, JulesError
    from jules_cli.render.streams import GuardedStream, StdoutClosed

    # SIGTERM and SIGHUP stop a command as cleanly as Ctrl-C (rollbacks, temporary files).
    signals.install()

    app = build_app(command_of(argv))

    # One guard per channel: no piece of the key, no lone surrogate, no traceback for a
    # reader that left or a full disk, whichever command writes (render/streams.py).
    if not isinstance(sys.stdout, GuardedStream):
        sys.stdout = GuardedStream(sys.stdout, "standard output", reader_may_leave=True)
    if not isinstance(sys.stderr, GuardedStream):
        sys.stderr = GuardedStream(sys.stderr, "standard error", reader_may_leave=False)
    try:
        result = app(args=argv, prog_name="jules", standalone_mode=False)
        # What is still buffered is written now, so that a full disk is reported as
        # one Error line (and exit 1) like any other write failure.
        sys.stdout.flush()
    except StdoutClosed:
        _silence_stdout()
        return ExitCode.OK
    except JulesError as exc:
        # An expected failure: the one line says it all, --debug or not (unless the
        # command said it already, e.g. what a Ctrl-C in a live view leaves running).
        if not getattr(exc, "reported", False):
            _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        message, code = signals.describe(signals.last_signal())
        _error(message)
        return code
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A group run without a command: its help, on stdout with exit 0 as gh does
            # (normally answered by _quick_answer already).
            sys.stdout.write(exc.format_message() + "\n")  # type: ignore[attr-defined]
            return ExitCode.OK
        # Typer's usage errors (bad option, missing argument) carry an exit_code and a
        # format_message(); everything else is a bug.
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            _error(_usage_message(exc))
            return exc.exit_code  # type: ignore[attr-defined]
        if isinstance(exc, typer.Abort):
            _error("aborted")
            return ExitCode.UNEXPECTED
        if _debug_requested(argv):
            import traceback

            from jules_cli.errors import redact

            sys.stderr.write(redact(traceback.format_exc()))
        _error(f"unexpected {type(exc).__name__}: {exc} - rerun with --debug and report it")
        return ExitCode.UNEXPECTED
    finally:
        _flush_quietly()
    if result == ExitCode.INTERRUPTED:
        # Typer turns Ctrl-C (and so SIGTERM, SIGHUP) into a silent Exit(130); say so,
        # like any other way out, with the code of the signal that arrived.
        message, result = signals.describe(signals.last_signal())
        _error(message)
    return result if isinstance(result, int) else ExitCode.OK


def _quick_answer(argv: list[str]) -> int | None:
    """`--help` or `--version` (anywhere Click would honour them), else None."""
    from jules_cli.cli._help import quick_answer

    try:
        answered = quick_answer(argv)
        if answered is not None:
            sys.stdout.flush()
        return answered
    except BrokenPipeError:
        # `jules --help | head`: the reader has seen enough.
        _silence_stdout()
        return 0
    except OSError as exc:
        # `jules --help > /dev/full`: one line, as for any other failure.
        _silence_stdout()
        sys.stderr.write(f"Error: cannot write the output: {exc.strerror or exc}\n")
        return 1


def _flush_quietly() -> None:
    """A closed pipe (`jules ... | head`) is not an error worth a traceback."""
    try:
        sys.stdout.flush()
    except Exception:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
