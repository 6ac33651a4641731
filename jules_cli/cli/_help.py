"""`--help` and `--version`, answered from the generated command tree without Typer.

Building the Typer app means importing Typer and every command module; for a help page
that is most of the run time. `quick_answer(argv)` reads the command line against
`jules_cli/cli/_command_tree.py` with Click's rules (`_words`) and, when Click would stop at
an eager `--help`/`-h` or `--version`, or print help because a group was given no words,
prints the answer itself. Anything else (a command to run, a usage error) is left to Typer:
it returns None, and Typer then reports exactly what it always did.

The help pages look like Click's plain ones: usage, description, arguments, options with
their help and notes, commands with their first sentence (wrapped, never cut), epilog.
"""

from __future__ import annotations

import os
import sys

from jules_cli.cli import _words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

PROG = "jules"
# Wider lines are hard to read; narrower terminals get narrower pages, down to this.
MAX_WIDTH = 100
MIN_WIDTH = 50
# Left column of option and command lists: longer labels get a line of their own.
LABEL_MAX = 30
GAP = 2
INDENT = 2


def quick_answer(
    argv: list[str], out: TextIO | None = None, err: TextIO | None = None
) -> int | None:
    """Print the help page or version `argv` asks for and return the exit code; None when
    the command line is not only such a request (Typer takes it from there)."""
    from jules_cli.cli._command_tree import TREE

    out = out or sys.stdout
    err = err or sys.stderr
    node, path, words = TREE, [PROG], list(argv)
    while True:
        if not words and node.get("no_args_is_help"):
            # `jules`, `jules session`: what can come next, as gh answers it (stdout, exit
            # 0), not Click's usage error: asking what a command can do is no mistake.
            out.write(render(node, path) + "\n")
            return 0
        line = _words.scan(node, words)
        if line.bad or line.waiting is not None:
            return None
        if line.eager:
            first = line.eager[0]
            if first.get("help_option"):
                out.write(render(node, path) + "\n")
                return 0
            if node is TREE and first["name"] == "version":
                from jules_cli import __version__

                out.write(f"{PROG} {__version__}\n")
                return 0
            return None
        if not line.rest:
            return None
        sub = _words.subcommand(node, line.rest[0])
        if sub is None:
            return None
        node, words = sub, line.rest[1:]
        path.append(line.rest[0])


def terminal_width() -> int:
    """Columns for help text: $COLUMNS, else the terminal's, else 80; at most MAX_WIDTH."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, MAX_WIDTH) - 2, MIN_WIDTH)


def render(node: dict[str, Any], path: list[str], width: int | None = None) -> str:
    """The help page of the command `node`, reached by the words `path`."""
    width = width or terminal_width()
    sections = [_usage(" ".join(path), node.get("usage", ""), width)]
    if node.get("help"):
        sections.append(_text(node["help"], width, INDENT))
    arguments = [
        (param["label"], _param_help(param))
        for param in _words.arguments(node)
        if "label" in param and not param.get("hidden")
    ]
    if arguments:
        sections.append("Arguments:\n" + _definitions(arguments, width))
    options = [
        (param["label"], _param_help(param))
        for param in _words.options(node)
        if "label" in param and not param.get("hidden")
    ]
    if options:
        sections.append("Options:\n" + _definitions(options, width))
    commands = [
        (name, sub.get("short", ""))
        for name, sub in (node.get("commands") or {}).items()
        if isinstance(sub, dict) and not sub.get("hidden")
    ]
    if commands:
        sections.append("Commands:\n" + _definitions(commands, width))
    if node.get("epilog"):
        sections.append(_epilog(node["epilog"], width))
    return "\n\n".join(sections)


def _epilog(text: str, width: int) -> str:
    """The epilog; a paragraph that is one line ending in `:` (`Examples:`) is a heading
    at the margin, directly above what follows it, like `Options:`."""
    out: list[str] = []
    after_heading = False
    for paragraph in _paragraphs(text):
        if "\n" not in paragraph and paragraph.rstrip().endswith(":"):
            out.append(paragraph.strip())
            after_heading = True
            continue
        body = _text(paragraph, width, INDENT)
        if after_heading:
            out[-1] += "\n" + body
        else:
            out.append(body)
        after_heading = False
    return "\n\n".join(out)


def _param_help(param: dict[str, Any]) -> str:
    return "  ".join(part for part in (param.get("help", ""), param.get("extra", "")) if part)


def _usage(command_path: str, pieces: str, width: int) -> str:
    import textwrap

    prefix = f"Usage: {command_path} "
    if not pieces:
        return prefix.rstrip()
    if width - len(prefix) >= 20:
        return textwrap.fill(
            pieces,
            width,
            initial_indent=prefix,
            subsequent_indent=" " * len(prefix),
            break_on_hyphens=False,
        )
    return prefix.rstrip() + "\n" + _text(pieces, width, INDENT + 2)


def _text(text: str, width: int, indent: int) -> str:
    """Help text as Click writes it: paragraphs filled to `width`, a paragraph that starts
    with a `\\b` line kept line for line, each paragraph's own indentation kept."""
    import textwrap

    out = []
    for paragraph in _paragraphs(text):
        lines = paragraph.split("\n")
        if lines[0].strip() == "\b":
            out.append("\n".join(f"{' ' * indent}{line}".rstrip() for line in lines[1:]))
            continue
        extra = len(lines[0]) - len(lines[0].lstrip())
        prefix = " " * (indent + extra)
        out.append(
            textwrap.fill(
                " ".join(line.strip() for line in lines),
                max(width, indent + extra + 10),
                initial_indent=prefix,
                subsequent_indent=prefix,
                break_on_hyphens=True,  # as Click wraps help text ("non-" / "zero")
                break_long_words=False,
            )
        )
    return "\n\n".join(out)


def _paragraphs(text: str) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.expandtabs().split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _definitions(rows: list[tuple[str, str]], width: int) -> str:
    """Two columns: labels, then their help wrapped beside them (Click's layout)."""
    label_width = min(max(len(label) for label, _ in rows), LABEL_MAX) + GAP
    text_width = max(width - INDENT - label_width, 10)
    hanging = " " * (INDENT + label_width)
    lines = []
    for label, help_text in rows:
        head = " " * INDENT + label
        if not help_text:
            lines.append(head)
            continue
        body = _text(help_text, text_width, 0).split("\n")
        if len(label) <= label_width - GAP:
            lines.append(head.ljust(INDENT + label_width) + body[0])
        else:
            lines.extend([head, hanging + body[0]])
        lines.extend((hanging + line).rstrip() for line in body[1:])
    return "\n".join(lines)
