"""Where a prompt or a message comes from: the argument, stdin, a file or an editor."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from jules_cli.errors import UsageError

EDITOR_TEMPLATE = """
# Write the task for Jules above this line. Lines starting with '#' are ignored,
# and an empty text cancels.
"""


def read_text(
    argument: str | None,
    *,
    file: Path | None = None,
    interactive: bool,
    what: str = "prompt",
    stdin_is_terminal: bool | None = None,
) -> str:
    """The text from the argument, `-`/piped stdin, a file, or $VISUAL/$EDITOR."""
    if stdin_is_terminal is None:
        stdin_is_terminal = sys.stdin.isatty()
    if argument is not None and file is not None:
        raise UsageError(f"give the {what} either as an argument or with --{what}-file, not both")
    if file is not None:
        text = _read_file(file, what)
    elif argument == "-" or (argument is None and not stdin_is_terminal):
        text = _read_stdin(what)
        if not text.strip():
            raise UsageError(
                f"no {what} given: standard input is empty",
                f"pass it as an argument, pipe it on stdin, or use --{what}-file",
            )
    elif argument is not None:
        text = argument
    elif interactive:
        text = compose_in_editor()
    else:
        raise UsageError(
            f"no {what} given",
            f"pass it as an argument, pipe it on stdin, or use --{what}-file",
        )
    text = text.strip()
    if not text:
        raise UsageError(f"the {what} is empty")
    return text


def decode_text(data: bytes, source: str, what: str) -> str:
    """UTF-8 text (a leading byte order mark dropped), or a UsageError naming `source`.

    The API takes the text as JSON, so bytes that are not UTF-8 (a Latin-1 file, an image
    piped by mistake) cannot be sent faithfully and are refused rather than mangled.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"the {what} from {source} is not UTF-8 text (byte {exc.start} is invalid)",
            "convert it first, e.g. with `iconv -t UTF-8`",
        ) from None
    if "\x00" in text:
        raise UsageError(
            f"the {what} from {source} is binary data (it contains NUL bytes)",
            f"give the {what} as text",
        )
    return text


def _read_file(file: Path, what: str) -> str:
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot read {file}: {reason}", f"check the --{what}-file path") from exc
    return decode_text(data, str(file), what)


def _read_stdin(what: str) -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # replaced by a text stream (tests, embedding): already decoded
        return sys.stdin.read()
    return decode_text(buffer.read(), "standard input", what)


def editor_command() -> list[str]:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError(
            "no editor to compose the prompt", "set $VISUAL or $EDITOR, or pass the prompt"
        )
    return shlex.split(editor)


def compose_in_editor() -> str:
    command = editor_command()
    handle, name = tempfile.mkstemp(prefix="jules-prompt-", suffix=".md")
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(EDITOR_TEMPLATE)
        try:
            result = subprocess.run([*command, str(path)], check=False)
        except FileNotFoundError as exc:
            raise UsageError(f"cannot run the editor {command[0]!r}") from exc
        if result.returncode != 0:
            raise UsageError(f"the editor exited with code {result.returncode}; nothing was sent")
        lines = decode_text(path.read_bytes(), "the editor", "prompt").splitlines()
    finally:
        path.unlink(missing_ok=True)
    return "\n".join(line for line in lines if not line.startswith("#")).strip()
