"""Conventions that hold across every command: what a short flag means, examples in help."""

from __future__ import annotations

from collections import defaultdict

from jules_cli.cli._command_tree import TREE

# Short flags whose long names differ yet mean the same thing in every command using them.
SAME_MEANING = {
    "-F": {"--prompt-file", "--message-file"},  # the text to send, read from FILE
    "-o": {"--output", "--output-dir"},  # where to save what would be printed
}


def _commands(node=TREE, path=("jules",)):
    yield path, node
    for name, sub in (node.get("commands") or {}).items():
        if isinstance(sub, dict):
            yield from _commands(sub, (*path, name))


def test_each_short_flag_means_one_thing_in_every_command():
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path, node in _commands():
        for param in node.get("params", ()):
            if param.get("argument"):
                continue
            names = [*param["opts"], *param.get("secondary", ())]
            longs = sorted(name for name in names if name.startswith("--"))
            for short in (name for name in names if len(name) == 2):
                meanings[short][longs[0] if longs else short].append(" ".join(path))
    clashes = {
        short: dict(uses)
        for short, uses in meanings.items()
        if len(uses) > 1 and set(uses) != SAME_MEANING.get(short)
    }
    assert clashes == {}


def test_wait_and_param_have_no_short_flag_that_means_something_else():
    from jules_cli.cli import _words

    new = _words.subcommand(_words.subcommand(TREE, "session"), "new")
    show = _words.subcommand(_words.subcommand(TREE, "session"), "show")
    assert _words.option_named(new, "-w") is None
    assert _words.option_named(show, "-w")["opts"] == ["--web", "-w"]
