"""The man pages, completion scripts and command-tree module in the repository are exactly
what the generator makes from the current command tree; the pages render cleanly with man's
own tools; and the help pages printed from the tree say what Typer's own would."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "scripts" / "generate_docs.py"
COMMAND_TREE = "jules_cli/cli/_command_tree.py"
PAGES = sorted((REPO / "man").glob("*.1"))


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_docs", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_completions_and_man_pages_match_a_fresh_generation(tmp_path):
    """The drift guard: a command, option or help text changed without regenerating."""
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    fresh = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(REPO).as_posix()
        for folder in ("completions", "man")
        for p in (REPO / folder).glob("*")
        if p.is_file()
    } | {COMMAND_TREE}
    stale = (
        "stale: run `python scripts/generate_docs.py` and commit completions/, man/ and "
        + COMMAND_TREE
    )
    assert fresh == committed, stale
    for relative in sorted(fresh):
        assert (tmp_path / relative).read_bytes() == (REPO / relative).read_bytes(), (
            f"{relative} is {stale}"
        )


def test_check_mode_reports_drift_and_writes_nothing(tmp_path):
    out = tmp_path / "copy"
    run = [sys.executable, str(GENERATOR), "--out", str(out)]
    subprocess.run(run, check=True, capture_output=True, timeout=120)
    page = out / "man" / "jules.1"
    page.write_text(page.read_text() + '.\\" edited by hand\n')
    (out / "man" / "jules-removed.1").write_text(".TH X 1\n")
    result = subprocess.run([*run, "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "differs: man/jules.1" in result.stderr
    assert "stale (no such command any more): man/jules-removed.1" in result.stderr
    assert page.read_text().endswith("edited by hand\n")


def test_there_is_a_page_for_every_visible_top_level_command():
    import typer

    from jules_cli.cli.app import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="jules")
    names = {name for name in root.list_commands(ctx) if not root.get_command(ctx, name).hidden}
    assert {p.name for p in PAGES} == {"jules.1"} | {f"jules-{name}.1" for name in names}
    overview = (REPO / "man" / "jules.1").read_text()
    for name in names:
        escaped = name.replace("-", "\\-")
        assert f"\\fBjules\\-{escaped}\\fR(1)" in overview


def test_roff_escaping():
    generator = load_generator()
    assert generator.escape("--repo a\\b it's `x` \u2014") == (
        "\\-\\-repo a\\eb it\\(aqs \\(gax\\(ga \\[u2014]"
    )
    assert generator.prose("run `jules auth login` now") == "run \\fBjules auth login\\fR now"
    assert generator.text_line(".hidden") == "\\&.hidden"
    lines = generator.paragraphs("One\nparagraph.\n\n\b\nkept  as\n  is\n\nlast")
    assert lines == ["One paragraph.", ".PP", ".nf", "kept  as", "  is", ".fi", ".PP", "last"]


def test_pages_have_no_clock_dates_and_name_the_version():
    from jules_cli import __version__

    version = __version__.replace("-", "\\-")
    for page in PAGES:
        text = page.read_text()
        title = next(line for line in text.splitlines() if line.startswith(".TH "))
        assert f'"jules {version}"' in title
        assert not re.search(r"\b20\d\d\b", title), title


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_groff_finds_nothing_to_warn_about(page):
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (.ci/run installs it)")
    result = subprocess.run(
        [groff, "-man", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_man_renders_the_overview_page():
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed (.ci/run installs man-db)")
    env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat", "LC_ALL": "C.UTF-8"}
    result = subprocess.run(
        [man, "-l", str(REPO / "man" / "jules.1")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = re.sub(r".\x08", "", result.stdout)  # overstrike bold, if man leaves it in
    for heading in ("NAME", "SYNOPSIS", "GLOBAL OPTIONS", "ENVIRONMENT", "FILES", "EXIT STATUS"):
        assert f"\n{heading}\n" in text
    assert "JULES_API_KEY" in text and "JULES_CONFIG_DIR" in text
    assert "--until settled" in text
    assert "130" in text


# -- help pages printed from the command tree (jules_cli/cli/_help.py) -------------------------


def all_command_paths(node, path=()):
    yield path, node
    for name, sub in (node.get("commands") or {}).items():
        if isinstance(sub, dict):
            yield from all_command_paths(sub, (*path, name))


def typer_help(words) -> str:
    """The plain help Typer itself prints for `jules WORDS --help` (CliRunner: 80 wide)."""
    from typer.testing import CliRunner

    from jules_cli.cli.app import app

    result = CliRunner().invoke(app, [*words, "--help"], prog_name="jules")
    assert result.exit_code == 0, result.output
    return result.output


def section(page: str, heading: str) -> str:
    """The lines of one section (`Options:` ...) of a help page, up to the next blank line."""
    lines = page.split("\n")
    if heading not in lines:
        return ""
    start = lines.index(heading)
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return "\n".join(lines[start:end])


def test_every_help_page_says_what_typers_own_help_says():
    """Same description, same options with the same notes, wrapped the same way, same
    commands. (The commands' help is wrapped rather than cut, and arguments are spelled
    ID/[ID] rather than Typer's {ID}: those two are compared by content.)"""
    from jules_cli.cli._command_tree import TREE
    from jules_cli.cli._help import render

    for path, node in all_command_paths(TREE):
        ours, theirs = render(node, ["jules", *path], width=80), typer_help(path)
        where = " ".join(["jules", *path])
        assert ours.split("\n")[0].startswith(f"Usage: {where} "), where
        description = theirs.split("\n\n")[1]
        assert ours.split("\n\n")[1] == description, where
        assert section(ours, "Options:") == section(theirs.rstrip("\n"), "Options:"), where
        commands = [line.split()[0] for line in section(theirs, "Commands:").split("\n")[1:]]
        ours_commands = [
            line.split()[0]
            for line in section(ours, "Commands:").split("\n")[1:]
            if line[2:3] != " "
        ]
        assert ours_commands == commands, where


@pytest.mark.parametrize(
    "words",
    [
        ["--help"],
        ["-h"],
        ["--version"],
        ["--profile", "work", "--version", "no-such-command"],
        ["--profile=work", "--debug", "session", "--help"],
        ["--version", "--help"],
        ["--help", "--version"],
        ["session", "new", "--help"],
        ["session", "new", "a prompt", "--repo", "o/r", "-h"],
        ["session", "show", "--help"],
        ["session", "list", "-qh"],
        ["sessions", "list", "--help"],
        ["-h", "no-such-command"],
        ["session", "--", "new", "--help"],
        [],
        ["session"],
        ["config"],
    ],
    ids=lambda words: " ".join(words) or "(nothing)",
)
def test_help_and_version_are_answered_where_click_answers_them(words, capsys):
    """The fast path reads the line as Click does: same exit code, same page or version."""
    from typer.testing import CliRunner

    from jules_cli.cli._help import quick_answer
    from jules_cli.cli.app import app

    code = quick_answer(words)
    ours = capsys.readouterr()
    theirs = CliRunner().invoke(app, words, prog_name="jules", env={"COLUMNS": "80"})
    if words in ([], ["session"], ["config"]):
        # A group given no command: its help on stdout with exit 0, as gh answers (Click
        # makes it a usage error, exit 2, on stderr).
        assert (code, ours.err) == (0, "") and theirs.exit_code == 2
        assert ours.out.startswith("Usage: jules")
    else:
        assert code == theirs.exit_code
    usage = (ours.out or ours.err).split("\n")[0]
    assert usage.split(" [")[0] in theirs.output.split("\n")[0] or usage in theirs.output


@pytest.mark.parametrize(
    "words",
    [
        ["--no-such-option", "--help"],
        ["session", "new", "--repo"],
        ["session", "new", "--json=yes", "--help"],
        ["session", "list", "-Z", "--help"],
        ["no-such-command", "--help"],
        ["--debug"],
        ["session", "new", "--", "--help"],
        ["session", "new", "--title", "--help"],
    ],
    ids=" ".join,
)
def test_anything_else_is_left_to_typer(words, capsys):
    """Usage errors and real commands (`--title --help` is a title) go to Typer."""
    from jules_cli.cli._help import quick_answer

    assert quick_answer(words) is None
    assert capsys.readouterr() == ("", "")


def test_help_layout_wraps_keeps_no_rewrap_blocks_and_puts_long_labels_above():
    from jules_cli.cli._help import render

    node = {
        "help": "First paragraph that is long enough to need wrapping at this width.\n\n"
        "\b\nkept   as\n  typed\n\nEnd.",
        "usage": "[OPTIONS] ID",
        "params": [
            {"name": "id", "argument": True, "label": "ID", "help": "The id."},
            {
                "name": "x",
                "opts": ["--x"],
                "label": "--x <int>",
                "help": "Short.",
                "extra": "[default: 1]",
            },
            {
                "name": "long",
                "opts": ["--a-very-long-option-name"],
                "flag": True,
                "label": "--a-very-long-option-name / --no-a-very-long-option-name",
                "help": "Flag.",
            },
            {"name": "secret", "opts": ["--secret"], "hidden": True, "label": "--secret"},
        ],
    }
    page = render(node, ["jules", "thing"], width=50)
    assert page == (
        "Usage: jules thing [OPTIONS] ID\n"
        "\n"
        "  First paragraph that is long enough to need\n"
        "  wrapping at this width.\n"
        "\n"
        "  kept   as\n"
        "    typed\n"
        "\n"
        "  End.\n"
        "\n"
        "Arguments:\n"
        "  ID  The id.\n"
        "\n"
        "Options:\n"
        "  --x <int>                       Short.\n"
        "                                  [default: 1]\n"
        "  --a-very-long-option-name / --no-a-very-long-option-name\n"
        "                                  Flag."
    )
