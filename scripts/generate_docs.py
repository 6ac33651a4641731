#!/usr/bin/env python3
"""The one generator of `completions/` and `man/`, from the command tree.

    python scripts/generate_docs.py            rewrite the committed files
    python scripts/generate_docs.py --out DIR  write them under DIR instead
    python scripts/generate_docs.py --check    exit 1 if the committed files are stale

Completion scripts are what `jules completion SHELL` prints. `jules_cli/cli/_command_tree.py`
is the command tree as plain data (`jules_cli.cli._describe`), from which a TAB press and
`--help` are answered without importing Typer or the command modules. Man pages are roff written by
walking `typer.main.get_command(app)`: `jules.1` (overview, global options, environment,
files, exit codes, examples) and one page per top-level command (`jules-session.1`, ...).
The output depends only on the code and the package version, never on the clock, the
machine or the terminal, so the drift test can compare it byte for byte.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GENERATED_DIRS = ("completions", "man")
COMMAND_TREE = "jules_cli/cli/_command_tree.py"
COMPLETION_FILES = {
    "bash": "completions/jules.bash",
    "zsh": "completions/_jules",
    "fish": "completions/jules.fish",
    "powershell": "completions/jules.ps1",
}
MANUAL = "jules manual"

# -- roff ---------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"`([^`]+)`")


def escape(text: str) -> str:
    """Plain text as roff: backslashes, minus signs, quotes and anything not ASCII."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\e")
        elif char == "-":
            out.append("\\-")
        elif char == "'":
            out.append("\\(aq")
        elif char == "`":
            out.append("\\(ga")
        elif char == '"':
            out.append("\\(dq")
        elif ord(char) > 126 or (ord(char) < 32 and char != "\t"):
            out.append(f"\\[u{ord(char):04X}]")
        else:
            out.append(char)
    return "".join(out)


def bold(text: str) -> str:
    return f"\\fB{escape(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{escape(text)}\\fR"


def prose(text: str) -> str:
    """One paragraph of help text: `code` in bold, the rest escaped."""
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(bold(match.group(1)))
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def text_line(line: str) -> str:
    """A line of text that roff will not mistake for a request."""
    line = line.strip()
    return f"\\&{line}" if line.startswith((".", "'")) else line


def verbatim_line(line: str) -> str:
    """A line of a no-fill block: its indentation kept, an empty one made visible to roff."""
    return f"\\&{line}" if not line or line.startswith((".", "'")) else line


def paragraphs(help_text: str) -> list[str]:
    """Help text as roff lines: paragraphs filled, Click's `\\b` blocks kept as they are."""
    lines: list[str] = []
    for block in re.split(r"\n\s*\n", help_text.strip()):
        block_lines = block.split("\n")
        if lines:
            lines.append(".PP")
        if block_lines[0].strip() == "\b":
            lines.append(".nf")
            lines.extend(verbatim_line(escape(line.rstrip())) for line in block_lines[1:])
            lines.append(".fi")
        else:
            lines.append(text_line(prose(" ".join(line.strip() for line in block_lines))))
    return [line for line in lines if line]


def first_sentence(help_text: str | None) -> str:
    words = " ".join((help_text or "").split())
    return words.split(". ")[0].rstrip(".")


# -- the command tree ----------------------------------------------------------------------


def is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def visible_subcommands(command: Any, ctx: Any) -> list[tuple[str, Any]]:
    found = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not getattr(sub, "hidden", False):
            found.append((name, sub))
    return found


def leaf_commands(command: Any, ctx: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    """Every runnable command under `command`, depth first, with its words after `jules`."""
    if not is_group(command):
        return [(path, command)]
    found = []
    for name, sub in visible_subcommands(command, ctx):
        found.extend(leaf_commands(sub, ctx, [*path, name]))
    return found


def is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def option_metavar(param: Any) -> str:
    if param.metavar:
        return param.metavar
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    by_type = {"integer": "N", "integer range": "N", "path": "PATH"}
    return by_type.get(param.type.name, param.name.upper().replace("_", "-"))


def argument_metavar(param: Any) -> str:
    """`ID`, `[ID]`, `ID...`: spelled exactly as on the --help pages."""
    from jules_cli.cli._describe import argument_metavar as spelled

    return spelled(param)


def default_text(param: Any) -> str | None:
    if not is_option(param) or param.is_flag or param.count or param.show_default is False:
        return None
    default = param.default
    if callable(default) or default in (None, "", (), []):
        return None
    if isinstance(default, (list, tuple)):
        return ", ".join(str(getattr(d, "value", d)) for d in default)
    return str(getattr(default, "value", default))


def envvar_names(param: Any) -> list[str]:
    envvar = getattr(param, "envvar", None)
    if not envvar:
        return []
    return [envvar] if isinstance(envvar, str) else list(envvar)


def synopsis(path: list[str], command: Any) -> str:
    words = [bold(" ".join(["jules", *path]))]
    if any(is_option(p) and not p.hidden for p in command.params):
        words.append(f"[{italic('OPTIONS')}]")
    if is_group(command):
        words.append(italic("COMMAND"))
    for param in command.params:
        if not is_option(param):
            words.append(italic(argument_metavar(param)))
    return " ".join(words)


def option_entries(command: Any) -> list[str]:
    lines = []
    for param in command.params:
        if not is_option(param) or param.hidden:
            continue
        names = ", ".join(bold(name) for name in [*param.opts, *param.secondary_opts])
        tag = names if param.is_flag or param.count else f"{names} {italic(option_metavar(param))}"
        details = [prose(param.help or "")]
        default = default_text(param)
        if default is not None:
            details.append(f"Default: {bold(default)}.")
        env = envvar_names(param)
        if env:
            details.append(f"Environment: {', '.join(bold(e) for e in env)}.")
        lines.extend([".TP", tag, text_line(" ".join(d for d in details if d))])
    return lines


def argument_entries(command: Any) -> list[str]:
    lines = []
    for param in command.params:
        if is_option(param) or not getattr(param, "help", None):
            continue
        lines.extend([".TP", italic(argument_metavar(param)), text_line(prose(param.help))])
    return lines


def command_section(path: list[str], command: Any, heading: str) -> list[str]:
    lines = [heading, synopsis(path, command)]
    if command.help:
        lines.extend([".PP", *paragraphs(command.help)])
    arguments = argument_entries(command)
    if arguments:
        lines.extend([".PP", "Arguments:", *arguments])
    options = option_entries(command)
    if options:
        lines.extend([".PP", "Options:", *options])
    if command.epilog:  # the examples of its --help
        lines.extend([".PP", *paragraphs(command.epilog)])
    return lines


def page_name(path: list[str]) -> str:
    return "-".join(["jules", *path])


def header(name: str, description: str, version: str) -> list[str]:
    return [
        '.\\" Generated by scripts/generate_docs.py from the command tree; do not edit.',
        f'.TH {escape(name.upper())} 1 "" "jules {escape(version)}" "{MANUAL}"',
        # Left-aligned and unhyphenated: option names and paths must not break at a hyphen.
        ".ad l",
        ".nh",
        ".SH NAME",
        f"{escape(name)} \\- {prose(description)}",
    ]


def see_also(names: list[str], current: str) -> list[str]:
    others = [f"{bold(name)}(1)" for name in names if name != current]
    return [".SH SEE ALSO", ",\n".join(others)] if others else []


def group_page(name_path: list[str], command: Any, ctx: Any, version: str, pages: list[str]) -> str:
    name = page_name(name_path)
    lines = header(name, first_sentence(command.help) or name, version)
    lines += [".SH SYNOPSIS", synopsis(name_path, command)]
    if command.help:
        lines += [".SH DESCRIPTION", *paragraphs(command.help)]
    if is_group(command):
        leaves = leaf_commands(command, ctx, name_path)
        lines += [".SH COMMANDS"]
        for path, leaf in leaves:
            lines += command_section(path, leaf, f".SS {escape(' '.join(['jules', *path]))}")
    else:
        arguments = argument_entries(command)
        if arguments:
            lines += [".SH ARGUMENTS", *arguments]
        options = option_entries(command)
        if options:
            lines += [".SH OPTIONS", *options]
    if command.epilog:  # "Examples:" and the examples of its --help
        lines += [".SH EXAMPLES", *paragraphs(command.epilog.partition("\n\n")[2])]
    lines += [
        ".SH GLOBAL OPTIONS",
        "Every command also takes the global options of " + f"{bold('jules')}(1)"
        f" before or after its name, and {bold('-h')}, {bold('--help')}.",
    ]
    lines += see_also(["jules", *pages], name)
    return "\n".join(lines) + "\n"


# The parts of jules.1 that are facts about the program rather than about its command tree
# (from the CLI contract). Each entry is (term, roff-ready description).

ENVIRONMENT_EXTRA = [
    (
        "JULES_API_KEY",
        "The API key. Takes precedence over the key stored in the profile; never give the "
        "key as a command\\-line value.",
    ),
    ("NO_COLOR", "Any value: plain output without colour, like " + bold("--no-color") + "."),
    (
        "JULES_CONFIG_DIR",
        "Folder for " + bold("config.toml") + " and for the state files (completion cache, "
        "emulator state) instead of the platform\\(aqs folders.",
    ),
    (
        "CI",
        "When set (and not 0 or false), never ask a question: a command that would need an "
        "answer fails and names the option that gives it.",
    ),
    ("VISUAL, EDITOR", "The editor that composes a prompt when none is given in a terminal."),
    (
        "JULES_HTTP_TIMEOUT",
        "Seconds one HTTP request may take before it counts as failed (default 30; "
        "connecting is limited to 10).",
    ),
    (
        "JULES_EMULATOR_STATE",
        "The file that keeps the in\\-process emulator\\(aqs state between commands.",
    ),
]

FILES = [
    (
        "$JULES_CONFIG_DIR/config.toml",
        "The configuration: profiles with their settings and stored keys (mode 0600). "
        "Without "
        + bold("JULES_CONFIG_DIR")
        + " it is "
        + bold("~/.config/jules/config.toml")
        + " on Linux (or under "
        + bold("$XDG_CONFIG_HOME")
        + "), "
        + bold("~/Library/Application Support/jules")
        + " on macOS and "
        + bold("%LOCALAPPDATA%\\jules")
        + " on Windows; "
        + bold("jules config path")
        + " prints it.",
    ),
    (
        "~/.local/state/jules/",
        "State that is not configuration (or "
        + bold("$JULES_CONFIG_DIR")
        + "): "
        + bold("completion-cache.json")
        + ", the session ids, repositories and branches "
        "that shell completion offers, refreshed by the list commands and ignored after "
        "10 minutes (sessions) or an hour (repositories).",
    ),
    (
        "~/.local/share/jules/emulator-state.json",
        "The sessions of the in\\-process emulator ("
        + bold("--emulator")
        + "), kept between commands until "
        + bold("jules emulator reset")
        + " (or in "
        + bold("$JULES_CONFIG_DIR")
        + ", or at "
        + bold("$JULES_EMULATOR_STATE")
        + ").",
    ),
]

EXIT_CODES = [
    ("0", "Success; for a wait, the session COMPLETED or reached the state asked for."),
    ("1", "Unexpected error."),
    ("2", "Usage error: bad option, argument or input, caught before any request."),
    ("3", "Not found (404), e.g. an unknown session or a source that is not connected."),
    ("4", "Authentication: no key, key rejected (401), permission denied (403)."),
    ("5", "The API refused the request (400, e.g. INVALID_ARGUMENT, FAILED_PRECONDITION)."),
    ("6", "Rate limited or out of quota (429) after retries."),
    ("7", "The service is unreachable or failing (5xx, connection errors, time-outs)."),
    ("8", "A wait ended with the session FAILED."),
    (
        "9",
        "A wait ended with the session waiting for the user (plan approval, feedback) or PAUSED.",
    ),
    ("10", "A wait ran out of time (--timeout) first."),
    ("130", "Interrupted (Ctrl-C)."),
]

EXAMPLES = [
    (
        "Store a key (asked for without echo), then see the connected repositories:",
        ["jules auth login", "jules sources list"],
    ),
    (
        "Start a session on a repository and keep its id:",
        ['ID=$(jules session new -q --repo owner/repo "Fix the flaky date test")'],
    ),
    (
        "Wait until it is done or needs you, for at most 30 minutes; the exit code says which:",
        ['jules session wait "$ID" --until settled --timeout 30m'],
    ),
    (
        "Read its patch and apply it to the checkout in the current folder:",
        ['jules session diff "$ID"', 'jules session apply "$ID"'],
    ),
    (
        "Try everything offline against the built-in emulator:",
        ['jules --emulator session new --no-repo "Say hello"', "jules --emulator session list"],
    ),
]


def definition_list(entries: list[tuple[str, str]], term=bold) -> list[str]:
    lines = []
    for name, description in entries:
        lines.extend([".TP", term(name), text_line(description)])
    return lines


def main_page(root: Any, ctx: Any, version: str, pages: list[tuple[str, str, str]]) -> str:
    lines = header("jules", first_sentence(root.help), version)
    lines += [
        ".SH SYNOPSIS",
        f"{bold('jules')} [{italic('GLOBAL OPTIONS')}] {italic('COMMAND')} "
        f"[{italic('ARGS')}] [{italic('OPTIONS')}]",
        ".br",
        f"{bold('python -m jules_cli')} ...",
        ".SH DESCRIPTION",
        *paragraphs(root.help or ""),
        ".PP",
        "Tables and live views go to standard output in a terminal; diagnostics, progress "
        "and prompts go to standard error. When standard output is not a terminal the "
        f"output is plain text. {bold('--json')} prints the API\\(aqs own objects, and "
        f"{bold('-q')} prints only ids. Every error is one line on standard error.",
        ".SH COMMANDS",
    ]
    for name, page, summary in pages:
        lines += [".TP", f"{bold('jules ' + name)}", f"{prose(summary)}; see {bold(page)}(1)."]
    lines += [".SH GLOBAL OPTIONS", *option_entries(root)]
    lines += [".TP", f"{bold('-h')}, {bold('--help')}", "Show the help of any command."]
    environment = []
    for param in root.params:
        for env in envvar_names(param):
            names = ", ".join(param.opts)
            environment.append((env, f"Sets {bold(names)}: {prose(param.help or '')}"))
    lines += [".SH ENVIRONMENT", *definition_list(environment + ENVIRONMENT_EXTRA)]
    lines += [".SH FILES", *definition_list(FILES)]
    lines += [".SH EXIT STATUS", *definition_list([(c, prose(m)) for c, m in EXIT_CODES])]
    lines += [".SH EXAMPLES"]
    for index, (what, commands) in enumerate(EXAMPLES):
        if index:
            lines.append(".PP")
        lines += [prose(what), ".PP", ".RS", ".nf"]
        lines += [text_line(escape(command)) for command in commands]
        lines += [".fi", ".RE"]
    lines += [
        ".SH SHELL COMPLETION",
        f"{bold('jules completion')} {italic('SHELL')} prints the completion script for bash, "
        f"zsh, fish or PowerShell, with the steps to install it in its help.",
    ]
    lines += see_also([page for _, page, _ in pages], "jules")
    return "\n".join(lines) + "\n"


def man_pages(root: Any, version: str) -> dict[str, str]:
    import typer

    ctx = typer.Context(root, info_name="jules")
    commands = visible_subcommands(root, ctx)
    pages = [page_name([name]) for name, _ in commands]
    files = {}
    summaries = []
    for name, command in commands:
        page = page_name([name])
        files[f"man/{page}.1"] = group_page([name], command, ctx, version, pages)
        summaries.append((name, page, first_sentence(command.help) or name))
    files["man/jules.1"] = main_page(root, ctx, version, summaries)
    return dict(sorted(files.items()))


# -- the command tree as a Python module -----------------------------------------------------

LINE_LENGTH = 100

TREE_HEADER = '''"""The command tree as plain data (see jules_cli/cli/_describe.py for its keys).

Generated by scripts/generate_docs.py from the Typer app; do not edit. A TAB press and
`--help` read this instead of building the app.
"""

# ruff: noqa: E501
'''


def python_string(text: str) -> str:
    """`text` as a string literal the way ruff formats it: double quotes unless single
    ones need fewer escapes, control characters escaped."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for char in text:
        if char in ("\\", quote):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def python_literal(value: Any, indent: int = 0, column: int = 0) -> str:
    """`value` (dicts, lists, strings, ints, bools) as formatted Python source that starts
    at `column` of a line indented by `indent`: dicts one item a line, lists on one line
    when they fit, so that `ruff format` leaves it as it is."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return repr(value)
    if isinstance(value, str):
        return python_string(value)
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = []
        for key, item in value.items():
            head = f"{inner}{python_string(key)}: "
            items.append(f"{head}{python_literal(item, indent + 4, len(head))},")
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        flat = "[" + ", ".join(python_literal(item) for item in value) + "]"
        if "\n" not in flat and column + len(flat) + 1 <= LINE_LENGTH:
            return flat
        items = [f"{inner}{python_literal(item, indent + 4, len(inner))}," for item in value]
        return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"
    raise TypeError(f"not plain data: {value!r}")


def command_tree_module(root: Any) -> str:
    from jules_cli.cli._describe import describe

    return TREE_HEADER + "\nTREE = " + python_literal(describe(root)) + "\n"


# -- generating and checking ----------------------------------------------------------------


def generate() -> dict[str, str]:
    """Every generated file: path relative to the repository -> content."""
    # Help texts must not depend on the terminal that runs the generator.
    os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
    import typer

    from jules_cli import __version__
    from jules_cli.cli.app import app
    from jules_cli.cli.completion import script

    root = typer.main.get_command(app)
    files = {path: script(shell) for shell, path in COMPLETION_FILES.items()}
    files.update(man_pages(root, __version__))
    files[COMMAND_TREE] = command_tree_module(root)
    return files


def existing(base: Path) -> dict[str, str]:
    found = {}
    for folder in GENERATED_DIRS:
        for path in sorted((base / folder).glob("*")):
            if path.is_file() and not path.name.startswith("."):
                found[path.relative_to(base).as_posix()] = path.read_text(encoding="utf-8")
    tree = base / COMMAND_TREE
    if tree.is_file():
        found[COMMAND_TREE] = tree.read_text(encoding="utf-8")
    return found


def differences(wanted: dict[str, str], base: Path) -> list[str]:
    have = existing(base)
    problems = [f"missing: {p}" for p in sorted(wanted.keys() - have.keys())]
    problems += [f"stale (no such command any more): {p}" for p in sorted(have.keys() - wanted)]
    problems += [f"differs: {p}" for p in sorted(wanted) if p in have and have[p] != wanted[p]]
    return problems


def write(files: dict[str, str], base: Path) -> None:
    for relative, content in files.items():
        target = base / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # newline="\n": the same bytes on Windows, or the drift check would fail there.
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
    for stale in existing(base).keys() - files.keys():
        (base / stale).unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO, help="write under this folder")
    parser.add_argument(
        "--check", action="store_true", help="compare with the files under --out, write nothing"
    )
    options = parser.parse_args(argv)
    files = generate()
    if options.check:
        problems = differences(files, options.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python scripts/generate_docs.py", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files are up to date")
        return 0
    write(files, options.out)
    print(f"wrote {len(files)} files under {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
