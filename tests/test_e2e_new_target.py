"""End to end: which repository and starting branch `session new` picks, in real git
checkouts, and exactly which create request reached the emulator (or that none did).

GitHub is stood in for by local bare repositories: each checkout's config maps its
`https://github.com/OWNER/REPO` remote there with `url.<bare>.insteadOf`, so the remote
still names the GitHub repository (what `jules` reads) while fetch and push go to disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

HELLO = "sources/github/jules-demo/hello-world"
WEBAPP = "sources/github/jules-demo/webapp"
PIPELINE = "sources/github/octo-org/data-pipeline"
NO_REPO = "give --repo OWNER/REPO, or --no-repo for a session without a repository"


class Checkout:
    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def checkout(tmp_path: Path, git_env: dict[str, str]):
    """make(remotes={name: github URL}, branch=...) -> a checkout with one commit; each
    https://github.com remote is backed by a bare repository under tmp_path/github."""
    import os

    env = {**os.environ, **git_env}

    def make(remotes: dict[str, str], branch: str = "work") -> Checkout:
        path = tmp_path / "checkout"
        subprocess.run(["git", "init", "-q", "-b", branch, str(path)], env=env, check=True)
        repo = Checkout(path, env)
        repo.commit("first")
        for name, url in remotes.items():
            repo.git("remote", "add", name, url)
            if url.startswith("https://github.com/"):
                bare = tmp_path / "github" / url.removeprefix("https://github.com/")
                bare.parent.mkdir(parents=True, exist_ok=True)
                if not bare.exists():
                    subprocess.run(["git", "init", "-q", "--bare", str(bare)], env=env, check=True)
                repo.git("config", f"url.{bare.as_uri()}.insteadOf", url)
        return repo

    return make


@pytest.fixture
def jules(run_jules, emulator_server, git_env):
    def run(repo: Checkout | Path, *args: str, env: dict[str, str] | None = None):
        cwd = repo.path if isinstance(repo, Checkout) else repo
        result = run_jules(
            "session", "new", "Fix the flaky test", *args,
            env={**emulator_server.env, **git_env, **(env or {})}, cwd=cwd,
        )  # fmt: skip
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


def creates(server) -> list[Any]:
    """The sourceContext of every create request that reached the emulator."""
    return [
        (r["body"] or {}).get("sourceContext")
        for r in server.requests()
        if r["method"] == "POST" and r["path"] == "/v1alpha/sessions"
    ]


def context(source: str, branch: str) -> dict[str, Any]:
    return {"source": source, "githubRepoContext": {"startingBranch": branch}}


def error_line(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# -- the repository ----------------------------------------------------------------------


def test_the_checkouts_github_origin_is_the_repository_with_one_note(
    checkout, jules, emulator_server
):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"})
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    # `work` is not on origin: the default branch, and a note says why.
    assert creates(emulator_server) == [context(HELLO, "main")]
    notes = [line for line in result.stderr.splitlines() if "jules-demo/hello-world" in line]
    assert notes == [
        "note: using jules-demo/hello-world, the GitHub remote 'origin' of this checkout "
        "(--repo to choose another, --no-repo for none)"
    ]
    assert "branch 'work' is not on origin: Jules starts from main" in result.stderr


def test_upstream_is_used_when_origin_is_not_on_github(checkout, jules, emulator_server):
    repo = checkout(
        {
            "origin": "https://gitlab.com/someone/fork.git",
            "upstream": "https://github.com/octo-org/data-pipeline",
        }
    )
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(PIPELINE, "master")]
    assert "the GitHub remote 'upstream' of this checkout" in result.stderr


def test_upstream_alone_is_the_repository(checkout, jules, emulator_server):
    repo = checkout({"upstream": "git@github.com:octo-org/data-pipeline.git"})
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(PIPELINE, "master")]
    assert "the GitHub remote 'upstream' of this checkout" in result.stderr


def test_a_github_origin_that_is_not_connected_wins_over_a_connected_upstream(
    checkout, jules, emulator_server
):
    """origin is GitHub's, so it names the repository (CLI.md: upstream only when origin
    is not a GitHub remote), even though upstream's is connected."""
    repo = checkout(
        {
            "origin": "https://github.com/someone/fork",
            "upstream": "https://github.com/jules-demo/hello-world",
        }
    )
    result = jules(repo)
    assert result.returncode == 3, result.stderr
    assert "someone/fork is not a connected repository" in error_line(result)
    assert creates(emulator_server) == []


def test_an_unconnected_checkout_is_exit_3_listing_the_connected_and_creates_nothing(
    checkout, jules, emulator_server
):
    repo = checkout({"origin": "git@github.com:someone/private-thing.git"})
    result = jules(repo)
    assert result.returncode == 3, result.stderr
    error = error_line(result)
    assert "someone/private-thing is not a connected repository" in error
    assert "jules-demo/hello-world, jules-demo/webapp, octo-org/data-pipeline" in error
    assert creates(emulator_server) == []


@pytest.mark.parametrize("remotes", [{}, {"origin": "https://gitlab.com/a/b.git"}])
def test_a_checkout_without_a_github_remote_is_exit_2_before_any_request(
    checkout, jules, emulator_server, remotes
):
    result = jules(checkout(remotes))
    assert result.returncode == 2, result.stderr
    assert error_line(result).endswith(NO_REPO)
    assert emulator_server.requests() == []


def test_outside_a_checkout_it_is_exit_2_before_any_request(tmp_path, jules, emulator_server):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = jules(plain)
    assert result.returncode == 2, result.stderr
    assert error_line(result) == (
        "Error: no repository given, and this folder is not in a git checkout - " + NO_REPO
    )
    assert emulator_server.requests() == []


def test_no_repo_is_the_only_way_to_a_repoless_session(tmp_path, jules, emulator_server):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = jules(plain, "--no-repo", "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [None]


def test_the_profiles_repo_and_branch_come_before_the_checkout(
    checkout, jules, emulator_server, isolated_config
):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"})
    isolated_config.mkdir(parents=True, exist_ok=True)
    (isolated_config / "config.toml").write_text(
        '[profiles.default]\nrepo = "jules-demo/webapp"\nbranch = "release/1.0"\n'
    )
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(WEBAPP, "release/1.0")]
    assert "GitHub remote" not in result.stderr
    # The profile's branch belongs to the profile's repository only.
    emulator_server.clear_requests()
    assert jules(repo, "-q", "--repo", "octo-org/data-pipeline").returncode == 0
    assert creates(emulator_server) == [context(PIPELINE, "master")]


def test_a_profile_repo_of_dot_is_the_checkout_and_keeps_the_profiles_branch(
    checkout, jules, emulator_server, isolated_config
):
    """`repo = "."` in the profile: the checkout's repository, and the profile's branch is
    still the profile's repository's (first match wins, before the current branch)."""
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    isolated_config.mkdir(parents=True, exist_ok=True)
    config = isolated_config / "config.toml"
    config.write_text('[profiles.default]\nrepo = "."\nbranch = "main"\n')
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "main")]
    # Without a profile branch, the checkout's rule: the current branch, on origin.
    config.write_text('[profiles.default]\nrepo = "."\n')
    emulator_server.clear_requests()
    assert jules(repo, "-q").returncode == 0
    assert creates(emulator_server) == [context(HELLO, "develop")]


# -- the starting branch -------------------------------------------------------------------


def test_the_current_branch_when_origin_has_it(checkout, jules, emulator_server):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "develop")]
    assert "local commit" not in result.stderr


def test_the_current_branch_when_origin_has_it_without_an_upstream_set(
    checkout, jules, emulator_server
):
    """Pushed without -u: the branch has no upstream, but origin/develop exists, and the
    rule is by name on that remote."""
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "origin", "develop")
    with pytest.raises(subprocess.CalledProcessError):
        repo.git("rev-parse", "--abbrev-ref", "@{upstream}")
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "develop")]
    assert "not on origin" not in result.stderr


def test_local_commits_ahead_are_a_note_and_jules_starts_from_the_remotes_copy(
    checkout, jules, emulator_server
):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    repo.commit("second")
    repo.commit("third")
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "develop")]
    assert (
        "note: 2 local commits of 'develop' are not on origin: Jules starts from origin's "
        "copy (--push pushes them first)" in result.stderr
    )


def test_a_detached_head_starts_from_the_default_branch(checkout, jules, emulator_server):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    repo.git("checkout", "-q", "--detach")
    result = jules(repo, "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "main")]
    assert "HEAD is detached" in result.stderr


def test_repo_dot_follows_the_same_branch_rule(checkout, jules, emulator_server):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    result = jules(repo, "--repo", ".", "-q")
    assert result.returncode == 0, result.stderr
    assert creates(emulator_server) == [context(HELLO, "develop")]
    assert "GitHub remote 'origin'" not in result.stderr  # asked for: no note needed
    # An explicit owner/repo is not "from the checkout": its default branch.
    emulator_server.clear_requests()
    assert jules(repo, "--repo", "jules-demo/hello-world", "-q").returncode == 0
    assert creates(emulator_server) == [context(HELLO, "main")]


def test_a_branch_option_wins_and_an_unlisted_one_is_sent_with_a_warning(
    checkout, jules, emulator_server
):
    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"})
    refused = jules(repo, "--branch", "gone-stale")
    assert refused.returncode == 5, refused.stderr
    assert "does not list branch 'gone-stale'" in refused.stderr
    assert "Branch 'gone-stale' does not exist" in error_line(refused)
    assert creates(emulator_server) == [context(HELLO, "gone-stale")]
    # `legacy` exists but is not active, so not listed: sent with the warning, and started.
    emulator_server.clear_requests()
    started = jules(repo, "--branch", "legacy", "-q")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().isdigit()
    assert started.stderr.count("does not list branch 'legacy'") == 1
    assert creates(emulator_server) == [context(HELLO, "legacy")]


# -- --push -----------------------------------------------------------------------------------


def test_push_pushes_the_branch_first_and_starts_from_it(
    checkout, jules, emulator_server, tmp_path
):
    repo = checkout({"origin": "https://github.com/jules-demo/webapp"}, branch="feature/login")
    head = repo.commit("my local work")
    result = jules(repo, "--push", "-q")
    assert result.returncode == 0, result.stderr
    bare = tmp_path / "github" / "jules-demo" / "webapp"
    pushed = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", "refs/heads/feature/login"],
        capture_output=True, text=True, check=True, env=repo.env,
    ).stdout.strip()  # fmt: skip
    assert pushed == head
    assert creates(emulator_server) == [context(WEBAPP, "feature/login")]
    # git's own output is on stderr (-u set the upstream), and stdout has only the id.
    assert "feature/login" in result.stderr and result.stdout.strip().isdigit()
    assert repo.git("rev-parse", "--abbrev-ref", "@{upstream}") == "origin/feature/login"


def test_a_failed_push_is_exit_7_with_gits_message_and_no_session(
    checkout, jules, emulator_server, tmp_path
):
    repo = checkout({"origin": "https://github.com/jules-demo/webapp"}, branch="feature/login")
    # The "GitHub" side refuses every push.
    bare = tmp_path / "github" / "jules-demo" / "webapp"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = jules(repo, "--push")
    assert result.returncode == 7, result.stderr
    error = error_line(result)
    assert error.startswith("Error: git push -u origin feature/login failed: ")
    assert "no session was started" in error
    assert "protected branch" in result.stderr  # git's own output
    assert creates(emulator_server) == []


@pytest.mark.parametrize(
    "args",
    [
        ("--push", "--repo", "jules-demo/webapp"),
        ("--push", "--source", WEBAPP),
        ("--push", "--no-repo"),
        ("--push", "-b", "x"),
        ("--push", "--repo", ".", "-b", "x"),
    ],
)
def test_push_that_cannot_apply_is_exit_2_before_any_request(
    checkout, jules, emulator_server, args
):
    repo = checkout({"origin": "https://github.com/jules-demo/webapp"})
    result = jules(repo, *args)
    assert result.returncode == 2, result.stderr
    error_line(result)
    assert emulator_server.requests() == []  # not even the source was asked for


def test_push_from_a_detached_head_is_exit_2_before_any_request(
    checkout, jules, emulator_server
):
    repo = checkout({"origin": "https://github.com/jules-demo/webapp"})
    repo.git("checkout", "-q", "--detach")
    result = jules(repo, "--push")
    assert result.returncode == 2, result.stderr
    assert error_line(result) == (
        "Error: --push needs a current branch, and HEAD is detached - check out a branch first"
    )
    assert emulator_server.requests() == []


# -- --parallel that fails part-way ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["quiet", "json", "plain"])
def test_parallel_failing_part_way_prints_the_ids_it_started(
    jules, emulator_server, tmp_path, mode
):
    plain = tmp_path / "plain"
    plain.mkdir()
    # The first two creates pass; every later one is out of quota (429, after retries).
    emulator_server.fault(status=429, method="POST", path="sessions", skip=2, times=None)
    args = {"quiet": ["-q"], "json": ["--json"], "plain": []}[mode]
    result = jules(
        plain, "--repo", "jules-demo/hello-world", "--parallel", "3", *args,
        env={"JULES_RETRY_DELAY_SCALE": "0.01"},
    )  # fmt: skip
    assert result.returncode == 6, result.stderr
    started = [
        r["body"]
        for r in emulator_server.requests()
        if r["method"] == "POST" and r["path"] == "/v1alpha/sessions" and r["status"] == 200
    ]
    assert len(started) == 2
    listed = emulator_server.emulator.list_sessions()["sessions"]
    ids = sorted(s["id"] for s in listed)
    if mode == "quiet":
        assert sorted(result.stdout.split()) == ids
    elif mode == "plain":  # as a full run prints them: each with its id and URL, on stdout
        assert all(result.stdout.count(sid) >= 2 for sid in ids), result.stdout
        assert "session/" in result.stdout
    else:
        import json

        assert sorted(s["id"] for s in json.loads(result.stdout)) == ids
    assert error_line(result).startswith("Error: 1 of 3 sessions were not started: ")


# -- what a person sees -----------------------------------------------------------------------


@pytest.mark.parametrize(("cols", "rows"), [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_the_notes_read_whole_in_a_terminal(checkout, emulator_server, git_env, cols, rows):
    from tests.screen import spawn

    repo = checkout({"origin": "https://github.com/jules-demo/hello-world"}, branch="develop")
    repo.git("push", "-q", "-u", "origin", "develop")
    repo.commit("second")
    args = ["session", "new", "Fix the flaky test"]
    env = {**emulator_server.env, **git_env}
    with spawn(args, env=env, cols=cols, rows=rows, cwd=repo.path) as term:
        assert term.wait() == 0, term.text
    # The terminal wraps a long line; joined back, each note is one sentence, in order.
    seen = term.text.replace("\n", "")
    first = seen.index("note: using jules-demo/hello-world, the GitHub remote 'origin'")
    second = seen.index(
        "note: 1 local commit of 'develop' is not on origin: Jules starts from origin's copy "
        "(--push pushes it first)"
    )
    assert first < second < seen.index("URL")
    assert all(len(line) <= cols for line in term.lines)
    assert creates(emulator_server) == [context(HELLO, "develop")]
