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


# -- global options after the command ------------------------------------------------------

import pytest  # noqa: E402

from jules_cli.cli._words import hoist_globals  # noqa: E402


@pytest.mark.parametrize(
    ("words", "hoisted"),
    [
        (["session", "list", "--emulator"], ["--emulator", "session", "list"]),
        (
            ["session", "list", "-L", "3", "--profile", "work", "--json"],
            ["--profile", "work", "session", "list", "-L", "3", "--json"],
        ),
        (
            ["--debug", "session", "--no-color", "show", "1", "--api-url=http://x"],
            ["--debug", "--no-color", "--api-url=http://x", "session", "show", "1"],
        ),
        (
            ["session", "list", "-qL", "5", "--no-input"],
            ["--no-input", "session", "list", "-qL", "5"],
        ),
        # A value of the command's own option, a word after `--`, --help and --version, a
        # global option missing its value, and words that name no command stay put.
        (["session", "new", "--title", "--debug", "x"], None),
        (["session", "new", "x", "--", "--debug"], None),
        (["session", "show", "1", "--help"], None),
        (["session", "show", "1", "--version"], None),
        (["session", "list", "--profile"], None),
        (["no-such-command", "--emulator"], None),
    ],
)
def test_global_options_after_the_command_are_moved_before_it(words, hoisted):
    assert hoist_globals(TREE, words) == (words if hoisted is None else hoisted)


def test_global_options_work_after_the_command(run_jules):
    after = run_jules("session", "new", "--no-repo", "-q", "Say hello", "--emulator")
    assert after.returncode == 0, after.stderr
    listed = run_jules("session", "list", "-q", "--emulator", "--emulator-speed", "50")
    assert (listed.returncode, listed.stdout) == (0, after.stdout)
    helped = run_jules("session", "list", "--emulator", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: jules session list")


def test_tab_offers_global_options_after_the_command():
    from jules_cli.cli._tab import complete

    offered = [c.value for c in complete(TREE, ["session", "list"], "--emu").candidates]
    assert offered == ["--emulator", "--emulator-speed"]
    after_used = [
        c.value for c in complete(TREE, ["--emulator", "session", "list"], "--emu").candidates
    ]
    assert after_used == ["--emulator-speed"]


# -- examples in every --help ----------------------------------------------------------------


def _example_lines(node) -> list[str]:
    return [line[2:] for line in node.get("epilog", "").splitlines() if line.startswith("$ ")]


def test_every_command_and_group_ends_its_help_with_two_to_four_examples():
    from jules_cli.cli._help import render

    missing = {}
    for path, node in _commands():
        if node.get("hidden"):
            continue
        lines = _example_lines(node)
        if not 2 <= len(lines) <= 4:
            missing[" ".join(path)] = len(lines)
            continue
        page = render(node, list(path), width=100)
        assert page.rstrip().endswith("$ " + lines[-1]), page
        assert "\nExamples:\n  # " in page
    assert missing == {}


def test_every_example_is_a_command_line_jules_accepts():
    """Each `jules ...` in an example names a real command with options it has."""
    import shlex

    from jules_cli.cli import _words

    wrong = []
    for _path, node in _commands():
        for line in _example_lines(node):
            words = []
            for token in shlex.split(line.replace("$(", " $( ").replace(")", " ) ")):
                # A "$(...)" inside quotes: its words too.
                words += token.split() if "$(" in token else [token]
            starts = [
                i
                for i, word in enumerate(words)
                if word == "jules" and (i == 0 or words[i - 1] in ("&&", "|", ";", "$(", "xargs"))
            ]
            assert starts, line
            for start in starts:
                after = words[start + 1 :]
                end = next(
                    (i for i, w in enumerate(after) if w in ("&&", "|", ";", ">", ")", "$(")),
                    len(after),
                )
                command = after[:end]
                node_at, rest = TREE, _words.hoist_globals(TREE, command)
                while True:
                    scan = _words.scan(node_at, rest)
                    if scan.bad or scan.waiting is not None:
                        wrong.append((line, scan.bad))
                        break
                    if not _words.is_group(node_at):
                        break
                    sub = _words.subcommand(node_at, scan.rest[0]) if scan.rest else None
                    if sub is None:
                        wrong.append((line, scan.rest[:1]))
                        break
                    node_at, rest = sub, scan.rest[1:]
    assert wrong == []


def test_the_man_pages_show_the_examples():
    from pathlib import Path

    page = (Path(__file__).parent.parent / "man" / "jules-session.1").read_text()
    assert "jules session wait 1234 \\-\\-until settled \\-\\-timeout 30m" in page
    assert ".SH EXAMPLES" in page
