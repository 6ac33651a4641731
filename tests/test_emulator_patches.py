"""The emulator's patches are real: `git apply` accepts them on the documented repos."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jules_cli.emulator import Emulator, content
from tests.emulator_fixture import FakeClock

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
    )


def make_repo(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    for name, text in (files or {}).items():
        (repo / name).write_text(text)
    return repo


def final_patch(prompt: str, *messages: str) -> str:
    clock = FakeClock()
    emulator = Emulator(clock=clock)
    sid = emulator.create_session({"prompt": prompt})["id"]
    clock.advance(1000)
    for message in messages:
        emulator.send_message(sid, {"prompt": message})
        clock.advance(1000)
    session = emulator.get_session(sid)
    assert session["state"] == "COMPLETED"
    return session["outputs"][-1]["changeSet"]["gitPatch"]["unidiffPatch"]


def apply(repo: Path, patch: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    (repo.parent / "change.patch").write_text(patch)
    return git(repo, "apply", "--verbose", str(repo.parent / "change.patch"), check=check)


def test_default_patch_applies_to_an_empty_repo(tmp_path):
    repo = make_repo(tmp_path)
    apply(repo, final_patch("Add a greeting"))
    assert (repo / "hello.py").read_text() == content.HELLO_PY
    assert (repo / "tests" / "test_hello.py").read_text() == content.TEST_HELLO_PY


def test_readme_patch_modifies_and_creates(tmp_path):
    repo = make_repo(tmp_path, {"README.md": "# demo\n"})
    apply(repo, final_patch("Improve docs [patch:readme]"))
    assert (repo / "README.md").read_text() == content.README_AFTER
    assert (repo / "hello.py").exists()
    stale = make_repo(tmp_path / "other", {"README.md": "# something else\n"})
    assert apply(stale, final_patch("[patch:readme]"), check=False).returncode != 0


def test_follow_up_patch_is_cumulative_and_applies(tmp_path):
    repo = make_repo(tmp_path)
    apply(repo, final_patch("Add a greeting", "Also add notes", "And more notes"))
    assert (repo / "hello.py").exists()
    assert "Also add notes" in (repo / "notes" / "follow-up-1.md").read_text()
    assert "And more notes" in (repo / "notes" / "follow-up-2.md").read_text()


def test_git_refuses_the_hostile_patch(tmp_path):
    repo = make_repo(tmp_path)
    result = apply(repo, final_patch("[hostile]"), check=False)
    assert result.returncode != 0
    assert not (tmp_path / "outside-the-repo.txt").exists()


def test_render_patch_matches_git_diff(tmp_path):
    repo = make_repo(tmp_path, {"README.md": content.README_BEFORE})
    git(repo, "add", "README.md")
    (repo / "README.md").write_text(content.README_AFTER)
    expected = git(repo, "diff", "--no-color", "README.md").stdout
    ours = content.render_patch([["README.md", content.README_BEFORE, content.README_AFTER]])
    assert ours == expected
