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


# Global options that stay where they are: `--help` belongs to the command it follows,
# and `--version` is the program's own answer, only before a command.
_NOT_HOISTED = ("help", "version")


def global_option(tree: Node, node: Node, name: str) -> Param | None:
    """The root's option `name` when the command `node` has none of that name."""
    if node is tree or option_named(node, name) is not None:
        return None
    param = option_named(tree, name)
    if param is None or param.get("help_option") or param["name"] in _NOT_HOISTED:
        return None
    return param


def hoist_globals(tree: Node, words: list[str]) -> list[str]:
    """`words` with the global options given after the command moved before it, so that
    `jules session list --emulator` means `jules --emulator session list`, as in gh.

    Each command keeps its own options first (an option of the same name, or a value of
    one of its options: `--title --debug` is a title), words after `--` are never moved,
    and a global option whose value is missing stays where it is (Click then says so).
    Words that do not lead to a command are returned unchanged."""
    head = scan(tree, words)
    if head.bad or not head.rest:
        return list(words)
    moved: list[str] = []
    kept = list(words[: len(words) - len(head.rest)])
    node, rest = tree, head.rest
    while True:
        sub = subcommand(node, rest[0])
        if sub is None:
            return list(words)
        kept.append(rest[0])
        node, rest = sub, rest[1:]
        rest = _pick_globals(tree, node, rest, kept, moved)
        if not is_group(node) or not rest:
            break
    return [*kept[: len(words) - len(head.rest)], *moved, *kept[len(words) - len(head.rest) :]]


def _pick_globals(tree: Node, node: Node, words: list[str], kept: list[str], moved: list[str]):
    """Copy the words of command `node` into `kept`, global options into `moved`; for a
    group, stop at its subcommand's name and return the words from there on."""
    ignore_unknown = bool(node.get("ignore_unknown"))
    stop_at_positional = not node.get("interspersed", not is_group(node))
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            kept.extend(words[index:])
            return []
        if word[:1] != "-" or len(word) == 1:
            if is_group(node):
                return words[index:]
            if stop_at_positional:
                kept.extend(words[index:])
                return []
            kept.append(word)
            index += 1
            continue
        name, equals, _ = word.partition("=")
        own = option_named(node, name)
        if own is None and word[:2] != "--" and not _is_short(name):
            own = option_named(node, "-" + word[1])  # a cluster (`-qL5`) of its own options
        if own is not None or ignore_unknown:
            count = _value_words(node, word, own)
            kept.extend(words[index : index + 1 + count])
            index += 1 + count
            continue
        param = global_option(tree, node, name)
        if param is None:
            kept.append(word)  # unknown: Click reports it
            index += 1
            continue
        count = 0 if equals or not takes_value(param) else param.get("nargs", 1)
        if index + 1 + count > len(words):
            kept.extend(words[index:])  # its value is missing: left for Click to report
            return []
        moved.extend(words[index : index + 1 + count])
        index += 1 + count
    return []


def _value_words(node: Node, word: str, param: Param | None) -> int:
    """How many of the next words the option word `word` of `node` takes as its value."""
    if param is None or "=" in word:
        return 0
    if word[:2] == "--" or _is_short(word):
        return param.get("nargs", 1) if takes_value(param) else 0
    for position in range(1, len(word)):  # a cluster: the first option taking a value
        found = option_named(node, "-" + word[position])
        if found is None:
            return 0
        if takes_value(found):
            return 0 if word[position + 1 :] else found.get("nargs", 1)
    return 0
