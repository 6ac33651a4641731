"""Where a prompt or a message comes from: the argument, stdin, a file or an editor."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jules_cli.errors import UsageError

# As `git commit --cleanup=scissors` does: everything from this line down is dropped,
# and nothing above it, so a Markdown `# Heading` in a prompt survives.
SCISSORS = "# ------------------------ >8 ------------------------"
# Editors tried, in git's order, when neither $VISUAL nor $EDITOR is set (Debian's
# `editor` alternative, then vi).
FALLBACK_EDITORS = ("editor", "vi")


def editor_template(what: str = "prompt") -> str:
    task = "the task for Jules" if what == "prompt" else "your message to Jules"
    return (
        f"\n\n{SCISSORS}\n"
        "# Do not modify or remove the line above.\n"
        f"# Write {task} above it; everything below it is ignored.\n"
        f"# Save an empty {what} to cancel: nothing is sent.\n"
    )


def strip_template(text: str) -> str:
    """The text above the scissors line, with trailing blanks and empty edges removed."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == SCISSORS:
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip("\n")


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
        text = compose_in_editor(what)
    else:
        raise UsageError(
            f"no {what} given",
            f"pass it as an argument, pipe it on stdin, or use --{what}-file",
        )
    text = text.strip()
    if not text:
        raise UsageError(f"the {what} is empty; nothing was sent")
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


def editor_command(what: str = "prompt") -> list[str]:
    """$VISUAL, else $EDITOR, else `editor` or `vi` if installed, as git chooses."""
    for variable in ("VISUAL", "EDITOR"):
        value = os.environ.get(variable, "").strip()
        if value:
            return shlex.split(value)
    # git too refuses to start vi on a terminal that cannot run it.
    if os.environ.get("TERM") != "dumb":
        for name in FALLBACK_EDITORS:
            found = shutil.which(name)
            if found:
                return [found]
    raise UsageError(
        f"no editor to compose the {what}",
        f"set $VISUAL or $EDITOR, or pass the {what} as an argument",
    )


def compose_in_editor(what: str = "prompt") -> str:
    """The text written in the editor above the scissors line ("" if none)."""
    command = editor_command(what)
    handle, name = tempfile.mkstemp(prefix=f"jules-{what}-", suffix=".md")
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(editor_template(what))
        try:
            result = subprocess.run([*command, str(path)], check=False)
        except FileNotFoundError as exc:
            raise UsageError(f"cannot run the editor {command[0]!r}") from exc
        if result.returncode != 0:
            raise UsageError(f"the editor exited with code {result.returncode}; nothing was sent")
        text = decode_text(path.read_bytes(), "the editor", what)
    finally:
        path.unlink(missing_ok=True)
    return strip_template(text)
