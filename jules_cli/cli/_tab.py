"""What answers a TAB press, from the generated command tree and nothing heavier.

The scripts of `jules completion SHELL` call back into `jules` on every TAB press with
`_JULES_COMPLETE=complete_<shell>` in the environment; `jules_cli.__main__.main` hands such
a run to `respond()` before anything else. The protocol:

- bash passes the command line up to the cursor in `_JULES_COMPLETE_LINE` (or, as Typer's
  scripts do, `COMP_WORDS` and `COMP_CWORD`) and gets one value per line;
- zsh, fish and PowerShell pass the finished words after `jules` as arguments and the
  word being completed in `_JULES_COMPLETE_CURRENT`, and get `value<TAB>help` lines
  (zsh: `value:help`);
- a first line `:files` asks the shell for its own file-name completion.

Commands, options and choices come from `jules_cli/cli/_command_tree.py`, which
scripts/generate_docs.py writes from the Typer app (`_describe.py` says what is in it).
Session ids, sources and branches come from the `autocompletion=` callbacks named there
(in `jules_cli.completion`), which read only a local cache. So a TAB press imports neither
Typer nor the command modules, never httpx or Rich, and never makes a network request.
"""

from __future__ import annotations

import os
import sys

from jules_cli.cli import _words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROG = "jules"
COMPLETE_VAR = "_JULES_COMPLETE"
LINE_VAR = "_JULES_COMPLETE_LINE"
CURRENT_VAR = "_JULES_COMPLETE_CURRENT"
FILES_MARKER = ":files"
SHELLS = ("bash", "zsh", "fish", "powershell")
# Completion menus are read at a glance: help beside a candidate is cut to this.
SHORT_HELP = 55


class Candidate:
    """One value the shell may offer, with a line of help beside it (zsh, fish)."""

    __slots__ = ("value", "help")

    def __init__(self, value: str, help: str = "") -> None:
        self.value = value
        self.help = help

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and (self.value, self.help) == (other.value, other.help)

    def __repr__(self) -> str:
        return f"Candidate({self.value!r}, {self.help!r})"


class Completions:
    """The answer to one TAB press."""

    def __init__(
        self,
        candidates: list[Candidate] | None = None,
        files: bool = False,
        option_prefix: str = "",
    ) -> None:
        self.candidates = candidates or []
        # The word is a file name: let the shell complete it.
        self.files = files
        # `--opt=` typed before the value; shells that complete whole words need it back.
        self.option_prefix = option_prefix


class LineContext:
    """What a completion callback gets as `ctx`: the command's options already on the line
    (`params`, name -> value as typed; flags True), like Click's context in a TAB press."""

    def __init__(self, params: dict[str, Any], command_path: str) -> None:
        self.params = params
        self.command_path = command_path
        self.args: list[str] = []


def load_tree() -> dict[str, Any]:
    from jules_cli.cli._command_tree import TREE

    return TREE


# -- working out the candidates --------------------------------------------------------------


def _short(text: str | None) -> str:
    # Help shown beside a value (zsh, fish, PowerShell) may quote API text: no control
    # characters, so that it can neither run in the terminal nor split the answer.
    words = " ".join("".join(c if c.isprintable() else " " for c in text or "").split())
    first = words.split(". ")[0].rstrip(".")
    return first if len(first) <= SHORT_HELP else first[: SHORT_HELP - 3].rstrip() + "..."


def _resolve(tree: dict[str, Any], words: list[str]) -> tuple[dict, list[str], list[str]] | None:
    """The command the words lead to, its path (`jules session show`) and its own words."""
    node, path, remaining = tree, [PROG], list(words)
    while _words.is_group(node):
        rest = _words.scan(node, remaining).rest
        if not rest:
            return node, path, remaining
        sub = _words.subcommand(node, rest[0])
        if sub is None:
            return None
        node, remaining = sub, rest[1:]
        path.append(rest[0])
    return node, path, remaining


def _call(values: dict[str, Any], ctx: LineContext, incomplete: str) -> list[Candidate]:
    """Run an `autocompletion=` callback the way Typer does: ctx, args and the incomplete
    word passed by the names it asked for, values kept if they start with the word."""
    module_name, _, function_name = values["call"].partition(":")
    try:
        function: Any = __import__(module_name, fromlist=["_"])
        for part in function_name.split("."):
            function = getattr(function, part)
        roles = {"ctx": ctx, "args": [], "incomplete": incomplete}
        given = {name: roles[role] for role, name in values.get("pass", {}).items()}
        found = list(function(**given) or ())
    except Exception:
        # A TAB press never shows a traceback: no candidates is the honest answer.
        return []
    candidates = []
    for item in found:
        value, help_text = (item[0], item[1]) if isinstance(item, tuple) else (item, "")
        value = str(value)
        # The last line of defence for values that come from the API (via the cache):
        # nothing a shell could read as more than a word is ever typed for the user.
        if value.startswith(incomplete) and all(char in _SAFE_VALUE for char in value):
            candidates.append(Candidate(value, _short(str(help_text))))
    return candidates


_SAFE_VALUE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+@,=:%")


def _values(param: dict[str, Any], ctx: LineContext, incomplete: str) -> Completions:
    """Candidates for the value of an option or argument."""
    values = param.get("values") or {}
    if "call" in values:
        candidates = _call(values, ctx, incomplete)
        # A path with nothing cached to offer: the shell knows the file names.
        if not candidates and values.get("files"):
            return Completions(files=True)
        return Completions(candidates)
    if values.get("files"):
        return Completions(files=True)
    choices = values.get("choices") or []
    if values.get("case_sensitive", True):
        matched = [choice for choice in choices if choice.startswith(incomplete)]
    else:
        lowered = incomplete.lower()
        matched = [choice for choice in choices if choice.lower().startswith(lowered)]
    return Completions([Candidate(choice) for choice in matched])


def _option_names(node: dict[str, Any], words: list[str], incomplete: str) -> Completions:
    """Options not given yet. Long names are the readable ones: short names are offered
    only when a single dash and a letter were typed, or for options that have no other."""
    used = {word.partition("=")[0] for word in words}
    want_short = len(incomplete) > 1 and not incomplete.startswith("--")
    candidates = []
    for param in _words.options(node):
        if param.get("hidden"):
            continue
        names = [*param["opts"], *param.get("secondary", ())]
        if not param.get("multiple") and used & set(names):
            continue
        longs = [name for name in names if name.startswith("--")]
        for option_name in names if want_short or not longs else longs:
            if option_name.startswith(incomplete):
                candidates.append(Candidate(option_name, _short(param.get("help"))))
    return Completions(candidates)


def _subcommands(node: dict[str, Any], incomplete: str) -> Completions:
    candidates = []
    for name, sub in node["commands"].items():
        # A string is a hidden alias of a sibling.
        if isinstance(sub, str) or sub.get("hidden") or not name.startswith(incomplete):
            continue
        candidates.append(Candidate(name, _short(sub.get("short"))))
    return Completions(candidates)


def _argument_at(node: dict[str, Any], position: int) -> dict[str, Any] | None:
    for param in _words.arguments(node):
        nargs = param.get("nargs", 1)
        if nargs == -1 or position < nargs:
            return param
        position -= nargs
    return None


def complete(tree: dict[str, Any], words: list[str], incomplete: str) -> Completions:
    """What may come next after `jules WORDS...`, starting with `incomplete`."""
    # Global options may come after the command (`jules session list --emulator`).
    words = _words.hoist_globals(tree, words)
    resolved = _resolve(tree, words)
    if resolved is None:
        return Completions()
    node, path, own = resolved
    line = _words.scan(node, own)
    ctx = LineContext(line.params, " ".join(path))
    pending = _words.global_option(tree, node, own[-1]) if own and not line.separator else None
    if pending is not None and _words.takes_value(pending) and not incomplete.startswith("-"):
        return _values(pending, ctx, incomplete)  # `... --profile <TAB>` after the command
    if not line.separator and incomplete.startswith("--") and "=" in incomplete:
        name, _, value = incomplete.partition("=")
        option = _words.option_named(node, name)
        if option is None or not _words.takes_value(option):
            return Completions()
        found = _values(option, ctx, value)
        found.option_prefix = f"{name}="
        return found
    if not line.separator and incomplete.startswith("-"):
        found = _option_names(node, own, incomplete)
        if node is not tree and not _words.is_group(node):
            # The global options too, after the command's own.
            shared = {
                "params": [
                    p
                    for p in _words.options(tree)
                    if _words.global_option(tree, node, p["opts"][0])
                ]
            }
            found.candidates += _option_names(shared, words, incomplete).candidates
        return found
    if line.waiting is not None:
        return _values(line.waiting, ctx, incomplete)
    if _words.is_group(node):
        return _subcommands(node, incomplete)
    argument = _argument_at(node, len(line.positionals))
    if argument is None:
        return Completions()
    return _values(argument, ctx, incomplete)


# -- answering the shell ----------------------------------------------------------------------


def _zsh_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def format_completions(result: Completions, shell: str) -> str:
    if result.files:
        return FILES_MARKER + "\n"
    lines = []
    for candidate in result.candidates:
        value = candidate.value
        if shell == "bash":
            # bash splits `--opt=value` at `=` itself: the word it completes is the value.
            lines.append(value)
            continue
        value = result.option_prefix + value
        help_text = candidate.help.replace("\t", " ")
        if shell == "zsh":
            lines.append(f"{_zsh_escape(value)}:{help_text}" if help_text else _zsh_escape(value))
        else:
            lines.append(f"{value}\t{help_text}" if help_text else value)
    return "".join(f"{line}\n" for line in lines)


def _words_from_line(line: str) -> tuple[list[str], str]:
    """Split a command line up to the cursor like a POSIX shell; the last word (empty after
    a space) is the one being completed."""
    import shlex

    for closing in ("", '"', "'"):
        try:
            words = shlex.split(line + closing)
            break
        except ValueError:
            continue
    else:
        words = line.split()
    if not line or line[-1].isspace() and not closing:
        words.append("")
    return words[1:-1], words[-1] if len(words) > 1 else ""


def respond(argv: list[str], environ: dict[str, str] | None = None) -> int:
    """Answer one completion request (the `_JULES_COMPLETE` protocol above)."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    instruction = environ.get(COMPLETE_VAR, "")
    action, _, shell = instruction.partition("_")
    if shell not in SHELLS or action not in ("complete", "source"):
        sys.stderr.write(f"Error: unknown completion request {instruction!r}\n")
        return 2
    if action == "source":
        from jules_cli.cli.completion import script

        sys.stdout.write(script(shell))
        return 0
    if LINE_VAR in environ:
        words, incomplete = _words_from_line(environ[LINE_VAR])
    elif "COMP_WORDS" in environ:
        # The form Typer's and Click's bash scripts send, handy when trying it by hand:
        # _JULES_COMPLETE=complete_bash COMP_WORDS='jules ses' COMP_CWORD=1 jules
        import shlex

        typed = shlex.split(environ["COMP_WORDS"])
        index = int(environ.get("COMP_CWORD") or len(typed))
        words, incomplete = typed[1:index], typed[index] if index < len(typed) else ""
    else:
        words, incomplete = list(argv), environ.get(CURRENT_VAR, "")
    sys.stdout.write(format_completions(complete(load_tree(), words, incomplete), shell))
    return 0
