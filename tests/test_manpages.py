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
