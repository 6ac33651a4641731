"""End to end: from a finished session to the change in a local git checkout, and every
artifact kind listed and saved, with the installed `jules` against the emulator and a
real temporary git repository.

Sessions are started straight in the emulator and run to their end with settle() (setup,
not what is tested); the commands under test run as subprocesses, in a pipe like a
script. git runs with a private HOME and a fixed identity, so no user configuration leaks
in.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jules_cli.emulator.content import HOSTILE_PATH, README_BEFORE
from tests.conftest import jules_command

SOURCE = "sources/github/jules-demo/hello-world"
HANG_LIMIT = 60.0


# -- setup ---------------------------------------------------------------------------------


def finished_session(handle, prompt: str, *, auto_pr: bool = False) -> str:
    body: dict = {
        "prompt": prompt,
        "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": "main"}},
    }
    if auto_pr:
        body["automationMode"] = "AUTO_CREATE_PR"
    sid = handle.emulator.create_session(body)["id"]
    handle.settle()
    return sid


def served_activities(handle, sid: str) -> list[dict]:
    return handle.emulator.list_activities(sid)["activities"]


def served_output_patch(handle, sid: str) -> dict:
    session = handle.emulator.get_session(sid)
    return next(o["changeSet"] for o in session["outputs"] if "changeSet" in o)


@pytest.fixture
def git(git_env):
    def run(repo: Path, *args: str, input: bytes | None = None) -> str:
        completed = subprocess.run(
            ["git", *args],
            cwd=repo,
            input=input,
            capture_output=True,
            env={**os.environ, **git_env},
            check=True,
            timeout=HANG_LIMIT,
        )
        return completed.stdout.decode()

    return run


@pytest.fixture
def repo(tmp_path: Path, git) -> Path:
    """A checkout of `jules-demo/hello-world` as the emulator's patches expect it."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text(README_BEFORE)
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "Initial commit")
    return path


@pytest.fixture
def jules(emulator_server, git_env):
    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        full_env = {**os.environ, **emulator_server.env, **git_env, **(env or {})}
        return subprocess.run(
            [*jules_command(), *args],
            cwd=cwd,
            input="",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=HANG_LIMIT,
        )

    return run


def snapshot(repo: Path, git) -> dict:
    """Everything `session apply` could change: every file's bytes (outside .git), what
    git has staged, HEAD, the branches and the status."""
    files = {
        str(path.relative_to(repo)): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }
    return {
        "files": files,
        "index": git(repo, "ls-files", "--stage"),
        "head": git(repo, "rev-parse", "HEAD"),
        "head_ref": git(repo, "symbolic-ref", "HEAD"),
        "branches": git(repo, "branch", "--list"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
    }


def apply_with_git(tmp_path: Path, repo: Path, unidiff: str, git) -> Path:
    """A copy of `repo` with the patch applied by plain `git apply`: the reference."""
    reference = tmp_path / "reference"
    shutil.copytree(repo, reference, symlinks=True)
    git(reference, "apply", input=unidiff.encode())
    return reference


def work_tree_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


# -- session apply ---------------------------------------------------------------------------


def test_apply_writes_exactly_what_the_patch_says(emulator_server, jules, repo, git, tmp_path):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    unidiff = served_output_patch(emulator_server, sid)["gitPatch"]["unidiffPatch"]
    reference = apply_with_git(tmp_path, repo, unidiff, git)

    result = jules("session", "apply", sid, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert work_tree_files(repo) == work_tree_files(reference)
    assert "Applied the patch from the session output" in result.stderr
    # The emulator's base commit is not in this checkout: said, but not fatal.
    assert "Warning:" in result.stderr and "applying anyway" in result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert {row[1] for row in rows} == {"README.md", "hello.py"}
    # Without --commit nothing is committed and no branch is made.
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_apply_from_a_subfolder_applies_at_the_top(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting")
    (repo / "docs").mkdir()
    result = jules("session", "apply", sid, cwd=repo / "docs")
    assert result.returncode == 0, result.stderr
    assert (repo / "hello.py").is_file() and (repo / "tests" / "test_hello.py").is_file()
    assert not (repo / "docs" / "hello.py").exists()


@pytest.mark.parametrize("dirt", ["modified", "staged", "untracked-in-the-way"])
def test_apply_refuses_a_dirty_tree_and_leaves_it_untouched(
    emulator_server, jules, repo, git, dirt
):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    if dirt == "modified":
        (repo / "README.md").write_text("# demo\n\nA local edit.\n")
    elif dirt == "staged":
        (repo / "notes.txt").write_text("staged work\n")
        git(repo, "add", "notes.txt")
    else:
        (repo / "hello.py").write_text("print('mine')\n")  # a file the patch creates
    before = snapshot(repo, git)
    result = jules("session", "apply", sid, cwd=repo)
    assert result.returncode != 0
    assert "uncommitted changes" in result.stderr and "--allow-dirty" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(repo, git) == before


def test_apply_allow_dirty_keeps_unrelated_local_changes(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting")  # creates new files only
    (repo / "README.md").write_text("# demo\n\nA local edit.\n")
    result = jules("session", "apply", sid, "--allow-dirty", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "README.md").read_text() == "# demo\n\nA local edit.\n"
    assert (repo / "hello.py").is_file()


def test_a_patch_that_does_not_apply_leaves_the_tree_untouched(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    (repo / "README.md").write_text("# a different project\n")
    git(repo, "commit", "-q", "-am", "Diverge from what the session saw")
    before = snapshot(repo, git)
    result = jules("session", "apply", sid, "--commit", cwd=repo)
    assert result.returncode != 0
    assert "does not apply" in result.stderr
    assert snapshot(repo, git) == before
    # Neither does a three-way attempt (the blobs are unknown here) change anything.
    three_way = jules("session", "apply", sid, "--3way", cwd=repo)
    assert three_way.returncode != 0
    assert snapshot(repo, git) == before


def test_auto_branch_commit_makes_the_commit_with_the_suggested_message(
    emulator_server, jules, repo, git
):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    suggested = served_output_patch(emulator_server, sid)["gitPatch"]["suggestedCommitMessage"]
    old_head = git(repo, "rev-parse", "HEAD").strip()

    result = jules("session", "apply", sid, "--auto-branch", "--commit", cwd=repo)
    assert result.returncode == 0, result.stderr
    branch = git(repo, "symbolic-ref", "--short", "HEAD").strip()
    assert branch.startswith("jules/") and branch.endswith(sid)
    assert f"on the new branch {branch}" in result.stderr
    assert git(repo, "log", "-1", "--format=%B").strip() == suggested.strip()
    assert git(repo, "rev-parse", "HEAD~1").strip() == old_head
    assert git(repo, "rev-parse", "main").strip() == old_head  # main itself is untouched
    changed = git(repo, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(line for line in changed if line) == ["A\thello.py", "M\tREADME.md"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == (
        "Test Author <author@example.com>"
    )


def test_branch_name_commit_and_own_message(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting")
    result = jules("session", "apply", sid, "--branch", "feature/greeting", "--commit", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "feature/greeting"
    suggested = served_output_patch(emulator_server, sid)["gitPatch"]["suggestedCommitMessage"]
    assert git(repo, "log", "-1", "--format=%B").strip() == suggested.strip()
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "README.md",
        "hello.py",
        "tests/test_hello.py",
    ]

    git(repo, "checkout", "-q", "main")
    again = jules(
        "session", "apply", sid, "-b", "other", "--commit", "-m", "Greet people", cwd=repo
    )
    assert again.returncode == 0, again.stderr
    assert git(repo, "log", "-1", "--format=%B").strip() == "Greet people"


def test_existing_branch_is_refused_before_anything_changes(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting")
    git(repo, "branch", "taken")
    before = snapshot(repo, git)
    result = jules("session", "apply", sid, "--branch", "taken", "--commit", cwd=repo)
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert snapshot(repo, git) == before


def test_strict_refuses_a_base_commit_mismatch(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    base = served_output_patch(emulator_server, sid)["gitPatch"]["baseCommitId"]
    before = snapshot(repo, git)
    result = jules("session", "apply", sid, "--strict", "--auto-branch", "--commit", cwd=repo)
    assert result.returncode != 0
    assert f"the patch was made on {base[:10]}" in result.stderr
    assert snapshot(repo, git) == before


def test_hostile_patch_never_writes_outside_the_checkout(
    emulator_server, jules, repo, git, tmp_path
):
    sid = finished_session(emulator_server, "Add a greeting [hostile]")
    before = snapshot(repo, git)
    result = jules("session", "apply", sid, "--commit", cwd=repo)
    assert result.returncode != 0
    assert "outside the repository" in result.stderr
    assert not (repo / HOSTILE_PATH).exists()
    assert snapshot(repo, git) == before


def test_apply_outside_a_checkout_is_a_usage_error(emulator_server, jules, tmp_path):
    sid = finished_session(emulator_server, "Add a greeting")
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    result = jules("session", "apply", sid, cwd=elsewhere)
    assert result.returncode == 2
    assert "not a git checkout" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_session_without_changes_has_no_patch(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Look around [no-changes]")
    for args in (("session", "apply", sid), ("session", "diff", sid)):
        result = jules(*args, cwd=repo)
        assert result.returncode == 3, result.stderr
        assert "made no change" in result.stderr  # completed: no patch will come


def test_one_command_from_finished_session_to_a_committed_branch_in_process_mode(
    run_jules, repo, git, git_env
):
    # The global --emulator mode: state in the config folder, time sped up.
    env = {**git_env, "JULES_EMULATOR": "1", "JULES_EMULATOR_SPEED": "2000"}
    started = run_jules(
        "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world", "--wait", "-q",
        env=env,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    sid = started.stdout.strip()
    applied = run_jules("session", "apply", sid, "-B", "-c", env=env, cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert git(repo, "symbolic-ref", "--short", "HEAD").startswith("jules/")
    assert (repo / "hello.py").is_file()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


# -- session diff ------------------------------------------------------------------------------


def test_diff_in_a_pipe_is_the_raw_patch_git_accepts(emulator_server, jules, repo, git_env):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    unidiff = served_output_patch(emulator_server, sid)["gitPatch"]["unidiffPatch"]
    result = jules("session", "diff", sid)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (unidiff if unidiff.endswith("\n") else unidiff + "\n")

    # `jules session diff ID | git apply --check`, through a real pipe.
    env = {**os.environ, **emulator_server.env, **git_env}
    producer = subprocess.Popen(
        [*jules_command(), "session", "diff", sid], stdout=subprocess.PIPE, env=env
    )
    checker = subprocess.run(
        ["git", "apply", "--check"],
        stdin=producer.stdout,
        cwd=repo,
        capture_output=True,
        env=env,
        timeout=HANG_LIMIT,
    )
    producer.stdout.close()
    assert producer.wait(timeout=HANG_LIMIT) == 0
    assert checker.returncode == 0, checker.stderr


def test_diff_stat(emulator_server, jules):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    result = jules("session", "diff", sid, "--stat")
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert re.fullmatch(r"README\.md \| 2 \++", lines[0])
    assert re.fullmatch(r"hello\.py\s+\| 5 \++", lines[1])
    assert lines[-1] == "2 files changed, 7 insertions(+)"


def test_diff_output_file(emulator_server, jules, tmp_path):
    sid = finished_session(emulator_server, "Add a greeting")
    unidiff = served_output_patch(emulator_server, sid)["gitPatch"]["unidiffPatch"]
    target = tmp_path / "greeting.patch"
    result = jules("session", "diff", sid, "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_bytes() == unidiff.encode()
    assert str(target) in result.stderr


def test_diff_of_one_activity(emulator_server, jules):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    edited = next(
        a
        for a in served_activities(emulator_server, sid)
        if a.get("progressUpdated", {}).get("title") == "Edited files"
    )
    expected = edited["artifacts"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    for given in (edited["id"], edited["name"]):
        result = jules("session", "diff", sid, "--activity", given)
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip("\n") == expected.rstrip("\n")
        assert "b/README.md" in result.stdout and "b/hello.py" not in result.stdout
    missing = jules("session", "diff", sid, "--activity", "0123456789abcdef")
    assert missing.returncode == 3


def test_diff_json_is_the_change_set_unchanged(emulator_server, jules):
    sid = finished_session(emulator_server, "Add a greeting")
    result = jules("session", "diff", sid, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == served_output_patch(emulator_server, sid)


# -- session artifacts -----------------------------------------------------------------------


def served_artifacts(handle, sid: str) -> list[tuple[str | None, dict]]:
    """(activity id or None for a session output, artifact) in listing order."""
    found = [
        (activity["id"], artifact)
        for activity in served_activities(handle, sid)
        for artifact in activity.get("artifacts", [])
    ]
    found += [(None, output) for output in handle.emulator.get_session(sid).get("outputs", [])]
    return found


EVERY_KIND = "Add a greeting [media] [bash-fail] [patch:readme]"
# The live API may no longer send bashOutput artifacts (jules-api.md 13): the artifact
# commands must work with and without them.
BOTH_BASH_MODES = pytest.mark.parametrize(
    "emulator_bash_output", [True, False], ids=["bash-output", "no-bash-output"], indirect=True
)


@BOTH_BASH_MODES
def test_artifacts_list_every_kind(emulator_server, jules, emulator_bash_output):
    sid = finished_session(emulator_server, EVERY_KIND, auto_pr=True)
    served = served_artifacts(emulator_server, sid)
    result = jules("session", "artifacts", sid)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(served) + 1)]
    assert [row[1] for row in rows] == [aid or "(output)" for aid, _ in served]
    assert [row[2] for row in rows] == [next(iter(artifact)) for _, artifact in served]
    kinds = {"media", "changeSet", "pullRequest"} | (
        {"bashOutput"} if emulator_bash_output else set()
    )
    assert {row[2] for row in rows} == kinds
    summaries = {row[2]: [] for row in rows}
    for row in rows:
        summaries[row[2]].append(row[3])
    if emulator_bash_output:
        assert "`python -m pytest -q` exit 1" in summaries["bashOutput"]
    assert summaries["media"] == ["image/png, 74 B"]
    assert summaries["pullRequest"][0].startswith("https://github.com/jules-demo/hello-world/")


@BOTH_BASH_MODES
def test_artifacts_json_are_the_api_objects(emulator_server, jules):
    sid = finished_session(emulator_server, EVERY_KIND, auto_pr=True)
    result = jules("session", "artifacts", sid, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [a for _, a in served_artifacts(emulator_server, sid)]


@BOTH_BASH_MODES
def test_artifacts_saved_as_files_of_every_kind(
    emulator_server, jules, tmp_path, emulator_bash_output
):
    sid = finished_session(emulator_server, EVERY_KIND, auto_pr=True)
    served = served_artifacts(emulator_server, sid)
    target = tmp_path / "artifacts"
    result = jules("session", "artifacts", sid, "-o", str(target))
    assert result.returncode == 0, result.stderr
    saved = sorted(target.iterdir())
    assert [str(path) for path in saved] == result.stdout.splitlines()
    assert len(saved) == len(served)
    assert f"Saved {len(served)} artifacts" in result.stderr

    for path, (_, artifact) in zip(saved, served, strict=True):
        kind, payload = next(iter(artifact.items()))
        data = path.read_bytes()
        if kind == "bashOutput":
            assert path.suffix == ".log"
            text = data.decode()
            assert text.startswith(f"$ {payload['command'].strip()}\n")
            assert payload["output"] in text
            assert text.endswith(f"exit code: {payload.get('exitCode', 0)}\n")
        elif kind == "media":
            assert path.suffix == ".png"
            assert data == base64.b64decode(payload["data"])
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        elif kind == "changeSet":
            assert path.suffix == ".patch"
            assert data.decode() == payload["gitPatch"]["unidiffPatch"]
        else:
            assert kind == "pullRequest" and path.suffix == ".json"
            assert json.loads(data) == artifact
    logs = [p.read_text() for p in saved if p.suffix == ".log"]
    assert any(log.endswith("exit code: 1\n") for log in logs) == emulator_bash_output

    # Saving again does not silently replace the files...
    again = jules("session", "artifacts", sid, "-o", str(target))
    assert again.returncode == 2 and "already exist" in again.stderr
    # ...unless asked to.
    replaced = jules("session", "artifacts", sid, "-o", str(target), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert f"(replacing {len(saved)} existing files)" in replaced.stderr  # said, not guessed
    assert "replacing" not in result.stderr  # the first save replaced nothing
    assert sorted(target.iterdir()) == saved


@BOTH_BASH_MODES
def test_hostile_artifacts_stay_inside_the_folder(emulator_server, jules, tmp_path):
    sid = finished_session(emulator_server, "Add a greeting [hostile]")
    work = tmp_path / "work"
    (work / "deep" / "er").mkdir(parents=True)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    result = jules("session", "artifacts", sid, "-o", "out", cwd=work / "deep" / "er")
    assert result.returncode == 0, result.stderr
    target = work / "deep" / "er" / "out"
    after = sorted(str(p) for p in tmp_path.rglob("*"))
    created = sorted(set(after) - set(before))
    assert created == sorted([str(target), *(str(p) for p in target.iterdir())])
    names = [p.name for p in sorted(target.iterdir())]
    assert all(re.fullmatch(r"\d{3}-[a-z0-9]+-[a-z]+\.[a-z]+", name) for name in names), names
    media = {p.suffix: p.read_bytes() for p in target.iterdir() if "-media." in p.name}
    assert media[".html"] == b"<script>alert('jules emulator')</script>\n"  # saved, not opened
    assert media[".bin"].startswith(b"\x89PNG")  # a MIME type with a path in it: no extension

    listing = jules("session", "artifacts", sid)
    assert listing.returncode == 0
    assert "\x1b" not in listing.stdout and "\x07" not in listing.stdout


# -- session show / open -----------------------------------------------------------------------


def test_show_gives_the_pull_request_of_an_auto_pr_session(emulator_server, jules):
    sid = finished_session(emulator_server, "Add a greeting", auto_pr=True)
    session = emulator_server.emulator.get_session(sid)
    pr_url = session["outputs"][0]["pullRequest"]["url"]
    result = jules("session", "show", sid)
    assert result.returncode == 0, result.stderr
    assert f"Pull request\t{pr_url}" in result.stdout.splitlines()
    shown = jules("session", "show", sid, "--json")
    assert json.loads(shown.stdout) == session


@pytest.mark.parametrize("args", [("session", "show", "--web"), ("session", "open")])
def test_web_prints_the_url_when_there_is_no_browser(emulator_server, jules, args):
    sid = finished_session(emulator_server, "Add a greeting")
    url = emulator_server.emulator.get_session(sid)["url"]
    env = {k: "" for k in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    result = jules(*args, sid, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == url + "\n"
    assert "No browser" in result.stderr


def test_three_way_apply_merges_a_moved_context(emulator_server, jules, repo, git):
    sid = finished_session(emulator_server, "Add a greeting [patch:readme]")
    (repo / "README.md").write_text("Intro\n\n# demo\n")
    git(repo, "commit", "-q", "-am", "Add an intro")
    plain_attempt = jules("session", "apply", sid, cwd=repo)
    assert plain_attempt.returncode != 0 and "--3way" in plain_attempt.stderr

    result = jules("session", "apply", sid, "--3way", "--commit", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "README.md").read_text() == (
        "Intro\n\n# demo\n\nThis project greets people: see hello.py.\n"
    )
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "3"


def test_diff_output_to_a_missing_folder_or_a_folder_is_a_clear_error(
    emulator_server, jules, tmp_path
):
    sid = finished_session(emulator_server, "Add a greeting")
    missing = jules("session", "diff", sid, "-o", str(tmp_path / "no" / "such" / "x.patch"))
    assert missing.returncode == 2  # bad input: the folder is not there
    assert missing.stderr.startswith("Error: cannot write ") and "unexpected" not in missing.stderr
    folder = jules("session", "diff", sid, "-o", str(tmp_path))
    assert folder.returncode == 2
    assert "is a folder" in folder.stderr and "unexpected" not in folder.stderr
    assert not list(tmp_path.glob(".*.tmp"))
