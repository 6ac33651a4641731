from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jules_cli.artifacts import PatchInfo
from jules_cli.errors import UsageError
from jules_cli.gitapply import (
    PatchApplyError,
    apply_patch,
    commit_message_for,
    default_branch_name,
    git_message,
)

ORIGINAL = {
    "app.py": "".join(f"line {n}\n" for n in range(1, 13)),
    "docs/old name.md": "# Old\n",
    "gone.txt": "bye\n",
    "keep.txt": "keep\n",
}


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, a fixed identity, deterministic dates."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2025-01-01T00:00:00Z")


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True
    )
    return completed.stdout


def write_files(repo: Path, files: dict[str, str | None]) -> None:
    for relative, content in files.items():
        path = repo / relative
        if content is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write_files(path, ORIGINAL)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def make_patch(repo: Path, change) -> tuple[str, dict[str, str | None]]:
    """Make a change in `repo`, capture it as a git patch plus the resulting files, then
    put the checkout back at HEAD."""
    change(repo)
    git(repo, "add", "-A")
    unidiff = git(repo, "diff", "--cached", "-M")
    result = files_of(repo)
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-q", "-fd")
    return unidiff, result


def files_of(repo: Path) -> dict[str, str]:
    return {
        path.relative_to(repo).as_posix(): path.read_text()
        for path in sorted(repo.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }


def state(repo: Path) -> tuple:
    """Everything a failed apply must leave as it was."""
    return (
        git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "-q", "HEAD"),
        git(repo, "branch", "--list"),
        git(repo, "diff", "--cached"),
        git(repo, "diff"),
        files_of(repo),
    )


def big_change(repo: Path) -> None:
    write_files(
        repo,
        {
            "app.py": ORIGINAL["app.py"].replace("line 6\n", "line six\n"),
            "gone.txt": None,
            "src/new module.py": "print('hi')\n",
        },
    )
    (repo / "docs/old name.md").rename(repo / "docs/new name.md")


def patch_info(unidiff: str, base: str | None, message: str | None = None) -> PatchInfo:
    return PatchInfo(unidiff, base, message, origin="session output")


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_clean_apply_produces_the_patched_files(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    result = apply_patch(patch_info(unidiff, head(repo)), repo)
    assert files_of(repo) == expected
    assert result.warnings == []
    assert result.branch == "main" and not result.created_branch
    assert result.commit_sha is None
    assert {(stat.path, stat.status) for stat in result.files_changed} == {
        ("app.py", "modified"),
        ("docs/new name.md", "renamed"),
        ("gone.txt", "deleted"),
        ("src/new module.py", "added"),
    }
    # Like `git apply`: the working tree only, nothing staged or committed.
    assert git(repo, "diff", "--cached") == ""
    assert git(repo, "log", "--format=%s") == "initial\n"


def test_apply_from_a_subfolder_uses_the_repository_root(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    apply_patch(patch_info(unidiff, head(repo)), repo / "docs")
    assert files_of(repo) == expected


def test_dirty_tree_is_refused_and_left_untouched(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    (repo / "keep.txt").write_text("my work in progress\n")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, head(repo)), repo)
    assert "uncommitted changes (keep.txt)" in caught.value.message
    assert "--allow-dirty" in (caught.value.hint or "")
    assert state(repo) == before


def test_untracked_files_matter_only_where_the_patch_writes(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    (repo / "src").mkdir()
    (repo / "src/new module.py").write_text("mine\n")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, head(repo)), repo)
    assert "src/new module.py" in caught.value.message
    assert state(repo) == before

    (repo / "src/new module.py").unlink()
    (repo / "notes.txt").write_text("unrelated\n")
    apply_patch(patch_info(unidiff, head(repo)), repo)
    assert files_of(repo) == {**expected, "notes.txt": "unrelated\n"}


def test_allow_dirty_keeps_the_other_changes(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    (repo / "keep.txt").write_text("my work in progress\n")
    apply_patch(patch_info(unidiff, head(repo)), repo, allow_dirty=True)
    assert files_of(repo) == {**expected, "keep.txt": "my work in progress\n"}


def test_a_patch_that_does_not_apply_changes_nothing(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    base = head(repo)
    write_files(repo, {"app.py": ORIGINAL["app.py"].replace("line 6\n", "line VI\n")})
    git(repo, "commit", "-q", "-am", "conflicting edit")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, base), repo, branch="jules/x", commit=True)
    assert caught.value.message.startswith("the patch does not apply: patch failed: app.py")
    assert "--3way" in (caught.value.hint or "")
    assert state(repo) == before


def test_branch_and_commit_with_the_suggested_message(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    base = head(repo)
    message = "Rename the docs and add a module\n\nLonger body.\n#123 stays, not a comment."
    result = apply_patch(
        patch_info(unidiff, base, message), repo, branch="jules/fix-it-123", commit=True
    )
    assert result.branch == "jules/fix-it-123" and result.created_branch
    assert result.commit_sha == head(repo)
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "jules/fix-it-123"
    assert git(repo, "log", "-1", "--format=%B").strip() == message
    assert git(repo, "rev-parse", "HEAD~1").strip() == base
    assert git(repo, "rev-parse", "main").strip() == base
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert files_of(repo) == expected
    committed = git(repo, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert "A\tsrc/new module.py" in committed  # new files are part of the commit


def test_commit_without_a_message_falls_back(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    apply_patch(patch_info(unidiff, head(repo)), repo, commit=True)
    assert git(repo, "log", "-1", "--format=%s").strip() == "Apply changes from Jules"
    apply_message = commit_message_for(patch_info("", None), {"title": " Fix the login bug "})
    assert apply_message == "Fix the login bug"
    assert commit_message_for(patch_info("", None, "Suggested"), {"title": "T"}) == "Suggested"
    assert commit_message_for(patch_info("", None), {"id": "42"}) == (
        "Apply changes from Jules session 42"
    )


def test_a_failing_pre_commit_hook_rolls_everything_back(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    (repo / "keep.txt").write_text("my work in progress\n")
    git(repo, "add", "keep.txt")
    git(repo, "commit", "-q", "-m", "second")  # so HEAD differs from the first commit
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint failed: line too long' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, None), repo, branch="jules/try", commit=True)
    assert (
        caught.value.message == "committing failed, nothing was changed: lint failed: line too long"
    )
    assert state(repo) == before
    assert not (repo / "src").exists()  # the folder the patch created is gone too


def test_a_ctrl_c_during_the_rollback_does_not_stop_it_half_way(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from jules_cli import gitapply

    unidiff, _ = make_patch(repo, big_change)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    before = state(repo)
    handler_before = signal.getsignal(signal.SIGINT)
    restore_index = gitapply._Snapshot._restore_index

    pressed = []

    def restore_index_with_ctrl_c(self) -> None:
        # A real Ctrl-C in the middle of the rollback: held until the rollback is done.
        os.kill(os.getpid(), signal.SIGINT)
        pressed.append(True)
        restore_index(self)

    monkeypatch.setattr(gitapply._Snapshot, "_restore_index", restore_index_with_ctrl_c)
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, None), repo, branch="jules/try", commit=True)
    assert pressed == [True]
    assert state(repo) == before
    assert signal.getsignal(signal.SIGINT) is handler_before  # given back


def test_rollback_on_dirty_tree_restores_the_users_changes(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    (repo / "keep.txt").write_text("unstaged work\n")
    (repo / "scratch.txt").write_text("untracked\n")
    before = state(repo)
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, head(repo)), repo, allow_dirty=True, commit=True)
    assert state(repo) == before


def test_staged_changes_are_refused_when_committing_even_with_allow_dirty(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    (repo / "keep.txt").write_text("staged\n")
    git(repo, "add", "keep.txt")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, head(repo)), repo, allow_dirty=True, commit=True)
    assert "staged changes (keep.txt)" in caught.value.message
    assert state(repo) == before


def test_base_commit_mismatch_warns_or_refuses_with_strict(repo: Path) -> None:
    unidiff, expected = make_patch(repo, big_change)
    base = head(repo)
    write_files(repo, {"keep.txt": "moved on\n"})
    git(repo, "commit", "-q", "-am", "unrelated commit")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, base), repo, strict=True)
    assert (
        caught.value.message == f"HEAD is {head(repo)[:10]}, but the patch was made on {base[:10]}"
    )
    assert f"check out {base[:10]}" in (caught.value.hint or "")
    assert state(repo) == before

    result = apply_patch(patch_info(unidiff, base), repo)
    assert result.warnings == [
        f"HEAD is {head(repo)[:10]}, but the patch was made on {base[:10]}; applying anyway"
    ]
    assert files_of(repo) == {**expected, "keep.txt": "moved on\n"}


def test_base_commit_forms(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    current = head(repo)
    # A short or upper-case id of HEAD matches.
    assert apply_patch(patch_info(unidiff, current[:8].upper()), repo).warnings == []
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-q", "-fd")

    unknown = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, unknown), repo, strict=True)
    assert "which this checkout does not have" in caught.value.message
    assert "git fetch" in (caught.value.hint or "")
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, None), repo, strict=True)
    # Not hex: never handed to git as a revision.
    warnings = apply_patch(patch_info(unidiff, "--output=/tmp/x"), repo).warnings
    assert warnings == [
        f"HEAD is {current[:10]}, but the patch was made on --output??, which this checkout "
        "does not have; applying anyway"
    ]
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-q", "-fd")
    assert apply_patch(patch_info(unidiff, None), repo).warnings == [
        "the patch names no base commit; applying it to HEAD"
    ]


def shifted_repo(repo: Path) -> tuple[str, str, dict[str, str | None]]:
    """A patch changing line 6, and a new HEAD that edits line 3 (inside the patch's
    context, so a plain apply fails, but far enough for a clean merge)."""
    unidiff, _ = make_patch(
        repo,
        lambda r: write_files(r, {"app.py": ORIGINAL["app.py"].replace("line 6\n", "line six\n")}),
    )
    base = head(repo)
    write_files(repo, {"app.py": ORIGINAL["app.py"].replace("line 3\n", "line three\n")})
    git(repo, "commit", "-q", "-am", "edit line 3")
    merged = (
        ORIGINAL["app.py"].replace("line 3\n", "line three\n").replace("line 6\n", "line six\n")
    )
    return unidiff, base, {**ORIGINAL, "app.py": merged}


def test_three_way_merges_what_a_plain_apply_refuses(repo: Path) -> None:
    unidiff, base, expected = shifted_repo(repo)
    before = state(repo)
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, base), repo)
    assert state(repo) == before

    result = apply_patch(patch_info(unidiff, base), repo, three_way=True, commit=True)
    assert files_of(repo) == expected
    assert result.commit_sha == head(repo)
    assert git(repo, "status", "--porcelain") == ""


def test_three_way_conflicts_are_rolled_back(repo: Path) -> None:
    unidiff, _ = make_patch(
        repo,
        lambda r: write_files(r, {"app.py": ORIGINAL["app.py"].replace("line 6\n", "line six\n")}),
    )
    base = head(repo)
    write_files(repo, {"app.py": ORIGINAL["app.py"].replace("line 6\n", "line 6!\n")})
    git(repo, "commit", "-q", "-am", "conflicting edit")
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, base), repo, three_way=True, branch="jules/x")
    assert caught.value.message == "the three-way apply left conflicts in app.py"
    assert state(repo) == before


def test_branch_names_are_checked_before_anything_changes(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    git(repo, "branch", "taken")
    before = state(repo)
    with pytest.raises(UsageError) as caught:
        apply_patch(patch_info(unidiff, head(repo)), repo, branch="taken")
    assert caught.value.message == "branch taken already exists"
    for bad in ("has space", "-option", "a..b", "end.lock", "x@{1}"):
        with pytest.raises(UsageError):
            apply_patch(patch_info(unidiff, head(repo)), repo, branch=bad)
    assert state(repo) == before


def test_branch_from_a_detached_head_rolls_back_to_it(repo: Path) -> None:
    unidiff, _ = make_patch(repo, big_change)
    git(repo, "checkout", "-q", "--detach")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(subprocess.CalledProcessError):
        git(repo, "symbolic-ref", "-q", "HEAD")
    before_files = files_of(repo)
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, head(repo)), repo, branch="jules/d", commit=True)
    assert files_of(repo) == before_files
    assert git(repo, "branch", "--list", "jules/d") == ""
    assert git(repo, "status", "--porcelain") == ""
    with pytest.raises(subprocess.CalledProcessError):
        git(repo, "symbolic-ref", "-q", "HEAD")  # still detached


def test_not_a_git_checkout(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(UsageError) as caught:
        apply_patch(patch_info("diff --git a/x b/x\n", None), folder)
    assert caught.value.message.startswith("not a git checkout")


def test_missing_identity_is_reported_before_anything_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unidiff, _ = make_patch(repo, big_change)
    for variable in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(variable)
    git(repo, "config", "user.useConfigOnly", "true")  # no guessing from the host name
    before = state(repo)
    with pytest.raises(PatchApplyError) as caught:
        apply_patch(patch_info(unidiff, head(repo)), repo, commit=True)
    assert "who you are" in caught.value.message
    assert "git config --global user.email" in (caught.value.hint or "")
    assert state(repo) == before


def test_empty_and_invalid_patches(repo: Path) -> None:
    before = state(repo)
    with pytest.raises(PatchApplyError, match="empty"):
        apply_patch(patch_info(" \n", None), repo)
    with pytest.raises(PatchApplyError, match="not a valid patch"):
        apply_patch(patch_info("diff --git a/x b/x\n@@ -1 +1 @@\n-a\n", None), repo)
    outside = (
        "diff --git a/../evil b/../evil\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/../evil\n@@ -0,0 +1 @@\n+x\n"
    )
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(outside, None), repo)
    assert state(repo) == before
    assert not (repo.parent / "evil").exists()


def test_default_branch_name() -> None:
    assert (
        default_branch_name({"id": "11413719004378428992", "title": "Fix: the Login bug (v2)!"})
        == "jules/fix-the-login-bug-v2-11413719004378428992"
    )
    assert default_branch_name({"name": "sessions/42", "title": "Ünïcödé title"}) == (
        "jules/unicode-title-42"
    )
    assert default_branch_name({"id": "7", "title": "日本語"}) == "jules/7"
    assert default_branch_name({}) == "jules/session"
    long = default_branch_name({"id": "1", "title": "word " * 30})
    assert len(long) <= len("jules/") + 40 + 2 and not long.endswith("-")
    for name in (long, default_branch_name({"id": "../..", "title": "..lock"})):
        completed = subprocess.run(
            ["git", "check-ref-format", "--branch", name], capture_output=True
        )
        assert completed.returncode == 0, name


def test_git_message_picks_the_error_line() -> None:
    assert git_message(b"warning: x\nerror: patch failed: a:1\nerror: b\n") == "patch failed: a:1"
    assert git_message(b"fatal: not a git repository\n") == "not a git repository"
    assert git_message(b"\nsome text\n") == "some text"
    assert git_message(b"") == ""


def test_symlinks_and_modes_survive_a_rollback(repo: Path) -> None:
    if os.name == "nt":
        pytest.skip("symlinks need privileges on Windows")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("keep.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exec and link")

    def change(r: Path) -> None:
        (r / "run.sh").write_text("#!/bin/sh\necho hi\n")
        (r / "link").unlink()
        (r / "link").symlink_to("app.py")

    unidiff, _ = make_patch(repo, change)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    before = state(repo)
    with pytest.raises(PatchApplyError):
        apply_patch(patch_info(unidiff, head(repo)), repo, commit=True)
    assert state(repo) == before
    assert os.readlink(repo / "link") == "keep.txt"
    assert (repo / "run.sh").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_while_committing_rolls_back_and_propagates(
    repo: Path, monkeypatch: pytest.MonkeyPatch, signum: str
) -> None:
    import signal

    from jules_cli import signals

    unidiff, _ = make_patch(repo, big_change)
    before = state(repo)
    # What the process had before (an earlier test in this worker may have run main(),
    # which installs jules's own handlers) is what apply must leave behind.
    handler_before = signal.getsignal(getattr(signal, signum))
    real_run = signals.HeldSignals.run

    def signalled_commit(self, command, **kwargs):
        if command[:2] == ["git", "commit"]:
            os.kill(os.getpid(), getattr(signal, signum))  # for real, to this process
        return real_run(self, command, **kwargs)

    monkeypatch.setattr(signals.HeldSignals, "run", signalled_commit)
    with pytest.raises(KeyboardInterrupt) as raised:
        apply_patch(patch_info(unidiff, head(repo)), repo, branch="jules/int", commit=True)
    monkeypatch.setattr(signals.HeldSignals, "run", real_run)
    if signum != "SIGINT":
        assert isinstance(raised.value, signals.Terminated)
        assert raised.value.signum == getattr(signal, signum)
    assert state(repo) == before
    assert not (repo / ".git" / "index.lock").exists()
    assert signal.getsignal(getattr(signal, signum)) == handler_before


def test_a_rollback_puts_back_the_other_branches_the_block_moved(repo: Path) -> None:
    from jules_cli.gitapply import transaction

    first = head(repo)
    write_files(repo, {"keep.txt": "kept, changed\n"})
    git(repo, "commit", "-q", "-am", "second")
    second = head(repo)
    git(repo, "branch", "review", first)
    git(repo, "checkout", "-q", "main")
    before = state(repo)
    with pytest.raises(RuntimeError), transaction(repo, {"keep.txt"}) as tx:
        git(repo, "checkout", "-q", "review")
        tx.moved_refs["refs/heads/review"] = first
        git(repo, "merge", "-q", "--ff-only", second)
        raise RuntimeError("a later step failed")
    assert state(repo) == before
    assert git(repo, "rev-parse", "refs/heads/review").strip() == first


@pytest.mark.parametrize("what", ["checkout", "worktree"])
def test_a_signal_during_the_checks_before_a_checkout_passes_to_git_and_stops_there(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """SIGTERM to jules alone while the patch is checked against its base (a throw-away
    index, `read-tree` then `apply --check`): git is passed the signal like every other
    step of the held section, the command stops before anything changed, and nothing of
    the check is left in .git."""
    import signal

    from jules_cli import signals
    from jules_cli.gitapply import apply_in_worktree, checkout_patch

    unidiff, _ = make_patch(repo, big_change)
    before = state(repo)
    real_run = signals.HeldSignals.run
    passed_on: list[list[str]] = []

    def signalled_read_tree(self, command, **kwargs):
        if command[:2] == ["git", "read-tree"]:
            os.kill(os.getpid(), signal.SIGTERM)  # for real, to this process
            passed_on.append(command)
        return real_run(self, command, **kwargs)

    monkeypatch.setattr(signals.HeldSignals, "run", signalled_read_tree)
    patch = patch_info(unidiff, head(repo))
    with pytest.raises(signals.Terminated), signals.held():
        if what == "checkout":
            checkout_patch(patch, repo, "jules/x", "msg", repo=None, starting_branch=None)
        else:
            apply_in_worktree(
                patch, repo, tmp_path / "wt", "jules/x", "msg", repo=None, starting_branch=None
            )
    monkeypatch.setattr(signals.HeldSignals, "run", real_run)
    assert passed_on  # the check ran inside the held section
    assert state(repo) == before
    assert not (tmp_path / "wt").exists()
    assert [p.name for p in (repo / ".git").iterdir() if "jules-check" in p.name] == []
