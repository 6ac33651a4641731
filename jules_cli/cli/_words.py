"""Reading a command line against the generated command tree, the way Click reads it.

Shared by the fast paths that run without Typer: `_help` (is this a `--help` or
`--version` request, and for which command?) and `_tab` (what may come next?). The rules
are Click's: a group takes its own options up to the first positional word, which names
the subcommand; a command takes options anywhere before `--`; an option that takes a value
takes the next word whatever it looks like; `--opt=value`, `-ovalue` and clustered short
flags (`-qf`) work; `-` alone is a positional word. Standard library only.
"""

from __future__ import annotations

# Not `import typing`: on a TAB press it alone would cost a tenth of the start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Node = dict[str, Any]
    Param = dict[str, Any]


def is_group(node: Node) -> bool:
    return "commands" in node


def subcommand(node: Node, name: str) -> Node | None:
    """The command `name` under group `node`, following an alias to its twin."""
    commands = node.get("commands") or {}
    found = commands.get(name)
    if isinstance(found, str):
        found = commands.get(found)
    return found if isinstance(found, dict) else None


def options(node: Node) -> list[Param]:
    return [param for param in node.get("params", ()) if not param.get("argument")]


def arguments(node: Node) -> list[Param]:
    return [param for param in node.get("params", ()) if param.get("argument")]


def option_named(node: Node, name: str) -> Param | None:
    for param in options(node):
        if name in param["opts"] or name in param.get("secondary", ()):
            return param
    return None


def takes_value(param: Param) -> bool:
    return not param.get("argument") and not param.get("flag")


def _is_short(name: str) -> bool:
    """Click's split: `-r` is a short option, `--repo` (and `-ab`) long ones."""
    return len(name) == 2 and name[0] == "-" and name[1] != "-"


class Scan:
    """What one command's own words say (see `scan`)."""

    def __init__(self) -> None:
        # Option name -> value, as callbacks see them in ctx.params (strings, not converted;
        # True/False for flags, a list for options that may be repeated).
        self.params: dict[str, Any] = {}
        self.positionals: list[str] = []
        # Eager options (--help, --version) in the order they were typed.
        self.eager: list[Param] = []
        # For a group: the subcommand's name and every word after it.
        self.rest: list[str] = []
        # Words Click would reject: unknown options, a value given to a flag.
        self.bad: list[str] = []
        # The option whose value the line ends in the middle of (it needs more words).
        self.waiting: Param | None = None
        # `--` was seen: every later word is positional.
        self.separator = False


def scan(node: Node, words: list[str]) -> Scan:
    """Read `words`, the words given to the command `node` (after its name)."""
    found = Scan()
    stop_at_positional = not node.get("interspersed", not is_group(node))
    ignore_unknown = bool(node.get("ignore_unknown"))
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if found.separator or word[:1] != "-" or len(word) == 1:
            if is_group(node):
                found.rest = words[index - 1 :]
                return found
            if stop_at_positional:
                found.positionals.extend(words[index - 1 :])
                return found
            found.positionals.append(word)
            continue
        if word == "--":
            found.separator = True
            continue
        name, equals, explicit = word.partition("=")
        param = option_named(node, name)
        if param is not None and not _is_short(name):
            if not takes_value(param):
                if equals:
                    found.bad.append(word)
                else:
                    _flag(found, param, name)
                continue
            if equals:
                _value(found, param, explicit if param.get("nargs", 1) == 1 else None, word)
                continue
            index = _take(found, param, words, index)
            continue
        if word[:2] == "--":
            (found.positionals if ignore_unknown else found.bad).append(word)
            continue
        index = _short_cluster(found, node, word, words, index, ignore_unknown)
    return found


def _short_cluster(
    found: Scan, node: Node, word: str, words: list[str], index: int, ignore_unknown: bool
) -> int:
    """`-q`, `-qf` (flags together) or `-ovalue`; returns where the next word starts."""
    for position in range(1, len(word)):
        name = "-" + word[position]
        param = option_named(node, name)
        if param is None:
            (found.positionals if ignore_unknown else found.bad).append(word)
            return index
        if not takes_value(param):
            _flag(found, param, name)
            continue
        attached = word[position + 1 :]
        if attached:
            _value(found, param, attached, word)
            return index
        return _take(found, param, words, index)
    return index


def _flag(found: Scan, param: Param, name: str) -> None:
    if param.get("eager"):
        found.eager.append(param)
    found.params[param["name"]] = name not in param.get("secondary", ())


def _take(found: Scan, param: Param, words: list[str], index: int) -> int:
    """The value of `param` from the next words, whatever they look like."""
    count = param.get("nargs", 1)
    if index + count > len(words):
        found.waiting = param
        return len(words)
    taken = words[index : index + count]
    _value(found, param, taken[0] if count == 1 else tuple(taken), None)
    return index + count


def _value(found: Scan, param: Param, value: Any, word: str | None) -> None:
    if value is None:
        found.bad.append(word or param["opts"][0])
        return
    if param.get("multiple"):
        found.params.setdefault(param["name"], []).append(value)
    else:
        found.params[param["name"]] = value
