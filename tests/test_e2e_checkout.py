"""End to end: `session checkout` and `session apply --worktree` with the installed `jules`,
a seeded emulator and real git repositories: a local bare repository stands in for GitHub
(`url.<bare>.insteadOf https://github.com/jules-demo/hello-world`), with the pull request
heads GitHub keeps under refs/pull/N/head."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from jules_cli.emulator import Emulator, start_server

HELLO = "sources/github/jules-demo/hello-world"
GITHUB_URL = "https://github.com/jules-demo/hello-world"
MESSAGE = "Add a friendly greeting\n\nSays hello by name."


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


@pytest.fixture
def git_env(git_env: dict[str, str], monkeypatch) -> dict[str, str]:
    """The shared git_env, also in this process's environment (for the test and jules)."""
    for key, value in git_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    return git_env


class World:
    """The bare "GitHub" repository, a clone of it (the user's checkout), and patches."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "github" / "hello-world.git"
        self.bare.parent.mkdir()
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self.seed = seed = root / "seed"
        git(root, "clone", "-q", str(self.bare), str(seed))
        (seed / "hello.py").write_text("def greet():\n    return 'hi'\n")
        (seed / "README.md").write_text("# Hello\n")
        git(seed, "add", ".")
        git(seed, "commit", "-q", "-m", "First")
        git(seed, "push", "-q", "origin", "main")
        self.base = git(seed, "rev-parse", "HEAD")
        # The user's checkout: origin is GitHub's URL, which git maps to the bare one.
        self.work = root / "work"
        git(root, "clone", "-q", str(self.bare), str(self.work))
        git(self.work, "remote", "set-url", "origin", GITHUB_URL)
        git(self.work, "config", f"url.{self.bare.as_uri()}.insteadOf", GITHUB_URL)
        # After the clone, GitHub moves on: a commit the checkout does not have yet.
        (seed / "later.txt").write_text("later\n")
        git(seed, "add", ".")
        git(seed, "commit", "-q", "-m", "Later")
        git(seed, "push", "-q", "origin", "main")
        self.later = git(seed, "rev-parse", "HEAD")
        # The patch Jules made on the base commit, and its pull request head.
        git(seed, "checkout", "-q", "-b", "jules/greeting", self.base)
        (seed / "hello.py").write_text("def greet(name):\n    return f'hello {name}'\n")
        (seed / "tests").mkdir()
        (seed / "tests" / "test_hello.py").write_text("from hello import greet\n")
        git(seed, "add", ".")
        self.patch = subprocess.run(
            ["git", "diff", "--cached"], cwd=seed, capture_output=True, text=True, check=True
        ).stdout
        git(seed, "commit", "-q", "-m", "Jules: greeting")
        self.pr_head = git(seed, "rev-parse", "HEAD")
        git(seed, "push", "-q", "origin", f"{self.pr_head}:refs/pull/7/head")
        # A patch on the later commit, for the fetch-the-base case.
        git(seed, "checkout", "-q", "-b", "on-later", self.later)
        (seed / "later.txt").write_text("later, patched\n")
        self.later_patch = subprocess.run(
            ["git", "diff"], cwd=seed, capture_output=True, text=True, check=True
        ).stdout

    def push_to_pull_request(self, name: str, text: str) -> str:
        """Jules pushes one more commit to pull request #7 (on top of its head)."""
        git(self.seed, "checkout", "-q", "-f", "--detach", self.pr_head)
        (self.seed / name).write_text(text)
        git(self.seed, "add", ".")
        git(self.seed, "commit", "-q", "-m", f"Jules: {name}")
        self.pr_head = git(self.seed, "rev-parse", "HEAD")
        git(self.seed, "push", "-q", "-f", "origin", f"{self.pr_head}:refs/pull/7/head")
        return self.pr_head

    def state(self, repo: Path | None = None) -> tuple[str, str, str, str]:
        """HEAD, the branch checked out, `git status`, and every branch: what must not move."""
        repo = repo or self.work
        return (
            git(repo, "rev-parse", "HEAD"),
            git(repo, "symbolic-ref", "-q", "HEAD"),
            git(repo, "status", "--porcelain", "--untracked-files=all"),
            git(repo, "for-each-ref", "refs/heads", "--format=%(refname) %(objectname)"),
        )


def change_set(patch: str, base: str) -> dict:
    return {
        "changeSet": {
            "source": HELLO,
            "gitPatch": {
                "unidiffPatch": patch,
                "baseCommitId": base,
                "suggestedCommitMessage": MESSAGE,
            },
        }
    }


def session(number: int, outputs: list[dict], title: str = "Add a greeting") -> dict:
    return {
        "id": str(number),
        "prompt": "Add a greeting",
        "title": title,
        "state": "COMPLETED",
        "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
        "outputs": outputs,
    }


@pytest.fixture
def world(tmp_path: Path, git_env) -> World:
    return World(tmp_path)


@pytest.fixture
def server(world: World):
    pull = {
        "pullRequest": {
            "url": f"{GITHUB_URL}/pull/7",
            "title": "Add a greeting",
            "description": "",
            "baseRef": "main",
            "headRef": "jules/greeting",
        }
    }
    seed = {
        "sessions": [
            session(1, [pull, change_set(world.patch, world.base)]),
            session(2, [change_set(world.patch, world.base)]),
            session(3, [change_set(world.later_patch, world.later)]),
            session(4, [change_set(world.patch, "ab" * 20)]),  # a base nobody has
            session(5, [{"pullRequest": {**pull["pullRequest"], "url": f"{GITHUB_URL}/pull/99"}}]),
        ]
    }
    handle = start_server(Emulator(speed=200, seed=seed))
    yield handle
    handle.shutdown()


@pytest.fixture
def jules(run_jules, server, world: World, git_env):
    def run(*args: str, cwd: Path | None = None):
        return run_jules(*args, env={**server.env, **git_env}, cwd=cwd or world.work)

    return run


# -- session checkout ------------------------------------------------------------------------


def test_checkout_fetches_the_pull_request_head_into_its_branch(world, jules) -> None:
    result = jules("session", "checkout", "1")
    assert result.returncode == 0, result.stderr
    assert git(world.work, "symbolic-ref", "--short", "HEAD") == "jules/greeting"
    assert git(world.work, "rev-parse", "HEAD") == world.pr_head
    assert git(world.work, "status", "--porcelain") == ""
    # `git pull` keeps following the pull request, as after `gh pr checkout`.
    assert git(world.work, "config", "branch.jules/greeting.merge") == "refs/pull/7/head"
    assert git(world.work, "config", "branch.jules/greeting.remote") == "origin"
    assert "pull request #7" in result.stderr and world.pr_head[:12] in result.stderr

    git(world.work, "checkout", "-q", "main")
    again = jules("session", "checkout", "1")  # the same head: switching to it is fine
    assert again.returncode == 0, again.stderr
    assert git(world.work, "symbolic-ref", "--short", "HEAD") == "jules/greeting"


def test_checkout_again_brings_the_branch_up_to_the_pull_requests_new_head(world, jules):
    first = jules("session", "checkout", "1")
    assert first.returncode == 0, first.stderr
    git(world.work, "checkout", "-q", "main")
    # Jules pushed more after a message: checking out again fast-forwards, as gh does.
    newer = world.push_to_pull_request("extra.txt", "more\n")
    moved = jules("session", "checkout", "1", "--json")
    assert moved.returncode == 0, moved.stderr
    assert git(world.work, "symbolic-ref", "--short", "HEAD") == "jules/greeting"
    assert git(world.work, "rev-parse", "HEAD") == newer
    assert (world.work / "extra.txt").read_text() == "more\n"
    assert git(world.work, "status", "--porcelain") == ""
    shown = json.loads(moved.stdout)
    assert shown["createdBranch"] is False and shown["commit"] == newer
    # On the branch already, and the pull request moves again: the same, in place.
    newest = world.push_to_pull_request("extra2.txt", "even more\n")
    in_place = jules("session", "checkout", "1")
    assert in_place.returncode == 0, in_place.stderr
    assert git(world.work, "rev-parse", "HEAD") == newest
    assert f"fast-forwarded from {newer[:12]}" in in_place.stderr
    # A local commit the pull request does not have: refused, nothing moves.
    (world.work / "mine.txt").write_text("mine\n")
    git(world.work, "add", ".")
    git(world.work, "commit", "-q", "-m", "mine")
    world.push_to_pull_request("extra3.txt", "again\n")
    before = world.state()
    refused = jules("session", "checkout", "1")
    assert refused.returncode == 2, refused.stderr
    assert "has commits that are not in pull request #7's head" in refused.stderr
    assert world.state() == before


def test_checkout_of_a_pull_request_into_a_branch_of_your_choice(world, jules) -> None:
    result = jules("session", "checkout", "1", "--branch", "review/greeting", "--json")
    assert result.returncode == 0, result.stderr
    assert git(world.work, "symbolic-ref", "--short", "HEAD") == "review/greeting"
    assert git(world.work, "rev-parse", "HEAD") == world.pr_head
    assert json.loads(result.stdout) == {
        "session": "1",
        "branch": "review/greeting",
        "createdBranch": True,
        "commit": world.pr_head,
        "worktree": None,
        "pullRequest": {
            "number": 7,
            "url": f"{GITHUB_URL}/pull/7",
            "repo": "jules-demo/hello-world",
            "headRef": "jules/greeting",
        },
        "remote": "origin",
        "files": [],
        "warnings": [],
    }
    git(world.work, "checkout", "-q", "main")
    again = jules("session", "checkout", "1", "-b", "review/greeting", "--jq", ".createdBranch")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "false\n"  # the branch was there, holding that head


def test_checkout_without_a_pull_request_commits_the_patch_on_its_base(world, jules) -> None:
    result = jules("session", "checkout", "2")
    assert result.returncode == 0, result.stderr
    branch = git(world.work, "symbolic-ref", "--short", "HEAD")
    assert branch == "jules/add-a-greeting-2"
    assert git(world.work, "rev-parse", "HEAD^") == world.base
    assert git(world.work, "log", "-1", "--format=%B") == MESSAGE
    assert (
        git(world.work, "show", "HEAD:hello.py") == "def greet(name):\n    return f'hello {name}'"
    )
    assert git(world.work, "status", "--porcelain") == ""
    assert "hello.py" in result.stdout and "tests/test_hello.py" in result.stdout


def test_checkout_fetches_a_base_commit_the_checkout_lacks(world, jules) -> None:
    assert subprocess.run(["git", "cat-file", "-e", world.later], cwd=world.work).returncode
    result = jules("session", "checkout", "3", "-b", "on-later", "--json")
    assert result.returncode == 0, result.stderr
    assert git(world.work, "rev-parse", "HEAD^") == world.later
    assert git(world.work, "show", "HEAD:later.txt") == "later, patched"
    shown = json.loads(result.stdout)
    assert shown["branch"] == "on-later" and shown["createdBranch"] is True
    assert shown["commit"] == git(world.work, "rev-parse", "HEAD")
    assert shown["pullRequest"] is None and shown["worktree"] is None
    assert shown["files"] == [{"path": "later.txt", "status": "modified", "added": 1, "removed": 1}]


def test_checkout_failures_change_nothing(world, jules) -> None:
    before = world.state()
    missing_base = jules("session", "checkout", "4")
    assert missing_base.returncode == 1, missing_base.stderr
    assert "base commit" in missing_base.stderr and "Traceback" not in missing_base.stderr
    missing_pull = jules("session", "checkout", "5")
    assert missing_pull.returncode == 1, missing_pull.stderr
    assert "pull request #99" in missing_pull.stderr
    git(world.work, "branch", "taken")
    taken = jules("session", "checkout", "2", "--branch", "taken")
    assert taken.returncode == 2 and "already exists" in taken.stderr
    git(world.work, "branch", "-D", "taken")
    assert world.state() == before


def test_checkout_refuses_a_dirty_tree_and_keeps_your_changes(world, jules) -> None:
    (world.work / "hello.py").write_text("my own edit\n")
    before = world.state()
    for sid in ("1", "2"):
        result = jules("session", "checkout", sid)
        assert result.returncode == 1, result.stderr
        assert "uncommitted changes" in result.stderr
        assert world.state() == before
    assert (world.work / "hello.py").read_text() == "my own edit\n"


def test_a_failing_commit_hook_rolls_the_whole_checkout_back(world, jules) -> None:
    hook = world.work / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = world.state()
    result = jules("session", "checkout", "2")
    assert result.returncode == 1, result.stderr
    assert "nothing was changed" in result.stderr
    assert world.state() == before
    assert not (world.work / "tests").exists()


def test_checkout_guards_before_any_request(world, jules, server, tmp_path) -> None:
    server.clear_requests()
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert jules("session", "checkout", "1", cwd=outside).returncode == 2
    assert jules("session", "checkout", "1", "--branch", "bad..name").returncode == 2
    assert server.requests() == []
    git(world.work, "remote", "remove", "origin")
    no_remote = jules("session", "checkout", "1")
    assert no_remote.returncode == 2 and "git remote add" in no_remote.stderr


# -- session apply --worktree ----------------------------------------------------------------


def test_apply_worktree_commits_in_a_new_worktree_and_leaves_the_checkout(world, jules) -> None:
    (world.work / "notes.txt").write_text("untracked, mine\n")  # this checkout may be dirty
    before = world.state()
    target = world.work.parent / "greeting-tree"
    result = jules("session", "apply", "2", "--worktree", str(target), "-b", "wt/greeting")
    assert result.returncode == 0, result.stderr
    assert world.state()[:3] == before[:3]  # HEAD, its branch, every file: untouched
    assert (
        world.state()[3].replace(f"\nrefs/heads/wt/greeting {git(target, 'rev-parse', 'HEAD')}", "")
        == before[3]
    )
    assert git(target, "symbolic-ref", "--short", "HEAD") == "wt/greeting"
    assert git(target, "rev-parse", "HEAD^") == world.base
    assert git(target, "log", "-1", "--format=%B") == MESSAGE
    assert git(target, "status", "--porcelain") == ""
    assert (target / "tests" / "test_hello.py").exists()
    assert str(target) in result.stderr


def test_apply_worktree_into_an_empty_folder_and_with_a_fetched_base(world, jules) -> None:
    target = world.work.parent / "empty"
    target.mkdir()
    result = jules("session", "apply", "3", "--worktree", str(target), "--json")
    assert result.returncode == 0, result.stderr
    assert git(target, "rev-parse", "HEAD^") == world.later
    assert (target / "later.txt").read_text() == "later, patched\n"
    shown = json.loads(result.stdout)
    assert shown["worktree"] == str(target.resolve()) and shown["session"] == "3"
    assert shown["commit"] == git(target, "rev-parse", "HEAD")
    assert shown["branch"] == git(target, "symbolic-ref", "--short", "HEAD")
    assert [f["path"] for f in shown["files"]] == ["later.txt"]


def test_apply_json_says_what_it_did_here(world, jules) -> None:
    result = jules("session", "apply", "2", "--auto-branch", "--commit", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["branch"] == git(world.work, "symbolic-ref", "--short", "HEAD")
    assert shown["createdBranch"] is True and shown["worktree"] is None
    assert shown["commit"] == git(world.work, "rev-parse", "HEAD")
    assert sorted((f["path"], f["status"]) for f in shown["files"]) == [
        ("hello.py", "modified"),
        ("tests/test_hello.py", "added"),
    ]


def test_apply_worktree_refuses_a_non_empty_folder_before_any_request(world, jules, server):
    target = world.work.parent / "busy"
    target.mkdir()
    (target / "file").write_text("x")
    server.clear_requests()
    result = jules("session", "apply", "2", "--worktree", str(target))
    assert result.returncode == 2 and "not empty" in result.stderr
    assert server.requests() == []
    both = jules("session", "apply", "2", "--worktree", str(target), "--3way")
    assert both.returncode == 2


def test_a_failed_worktree_apply_removes_the_worktree_and_the_branch(world, jules) -> None:
    before = world.state()
    hooks = world.work / ".git" / "hooks" / "pre-commit"  # worktrees share the hooks
    hooks.write_text("#!/bin/sh\nexit 1\n")
    hooks.chmod(0o755)
    target = world.work.parent / "doomed"
    result = jules("session", "apply", "2", "--worktree", str(target))
    assert result.returncode == 1, result.stderr
    assert not target.exists()
    assert world.state() == before
    assert git(world.work, "worktree", "list", "--porcelain").count("worktree ") == 1
    missing = jules("session", "apply", "4", "--worktree", str(target))
    assert missing.returncode == 1 and not target.exists()
    assert world.state() == before
