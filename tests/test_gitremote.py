"""`--repo .`: GitHub remotes in every URL form, origin before upstream."""

from __future__ import annotations

import subprocess

import pytest

from jules_cli.errors import UsageError
from jules_cli.gitremote import current_repo, parse_github_remote, without_userinfo


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/octo/hello.git", "octo/hello"),
        ("https://github.com/octo/hello", "octo/hello"),
        ("https://user@github.com/octo/hello.git", "octo/hello"),
        ("git@github.com:octo/hello.git", "octo/hello"),
        ("git@github.com:octo/hello", "octo/hello"),
        ("ssh://git@github.com/octo/hello.git", "octo/hello"),
        ("ssh://git@github.com:22/octo/my.repo.git", "octo/my.repo"),
        # The host in any case, www., GitHub's ssh over 443; owner/repo kept as written.
        ("https://GitHub.com/Octo/Hello.git", "Octo/Hello"),
        ("git@GITHUB.COM:octo/hello.git", "octo/hello"),
        ("https://www.github.com/octo/hello", "octo/hello"),
        ("ssh://git@ssh.github.com:443/octo/hello.git", "octo/hello"),
        ("https://gitlab.com/octo/hello.git", None),
        ("https://github.com.example.com/octo/hello", None),
        ("https://notgithub.com/octo/hello", None),
        ("https://github.com/octo/hello/tree/main", None),
        ("/srv/git/hello.git", None),
    ],
)
def test_parse_github_remote(url, repo):
    assert parse_github_remote(url) == repo


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_origin_wins_then_upstream(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "upstream", "git@github.com:up/stream.git")
    assert current_repo(tmp_path) == "up/stream"
    git(tmp_path, "remote", "add", "origin", "https://github.com/me/fork.git")
    assert current_repo(tmp_path) == "me/fork"


def test_a_shorthand_that_git_rewrites_to_github_names_the_repository(tmp_path):
    """`url.git@github.com:.insteadOf gh:`: the remote `gh:o/r` is GitHub's once git has
    rewritten it."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "url.git@github.com:.insteadOf", "gh:")
    git(tmp_path, "remote", "add", "origin", "gh:me/short.git")
    assert current_repo(tmp_path) == "me/short"


def test_non_github_origin_falls_back_to_upstream(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "origin", "https://gitlab.com/me/x.git")
    with pytest.raises(UsageError, match="gitlab.com"):
        current_repo(tmp_path)
    git(tmp_path, "remote", "add", "upstream", "https://github.com/up/x.git")
    assert current_repo(tmp_path) == "up/x"


def test_outside_a_checkout_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not one"):
        current_repo(tmp_path)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:ghp_secret123@gitlab.com/me/x.git", "https://gitlab.com/me/x.git"),
        ("https://ghp_secret123@example.com/me/x", "https://example.com/me/x"),
        ("ssh://deploy:ghp_secret123@example.com:22/me/x", "ssh://example.com:22/me/x"),
        ("deploy:ghp_secret123@example.com:me/x.git", "example.com:me/x.git"),
        ("/srv/git/hello.git", "/srv/git/hello.git"),
        ("https://gitlab.com/me/x@y.git", "https://gitlab.com/me/x@y.git"),
    ],
)
def test_without_userinfo(url, shown):
    assert without_userinfo(url) == shown


def test_credentials_in_a_remote_url_are_never_shown(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "origin", "https://me:ghp_secret123@gitlab.com/me/x.git")
    git(tmp_path, "remote", "add", "upstream", "deploy:ghp_secret123@example.com:me/y.git")
    with pytest.raises(UsageError) as raised:
        current_repo(tmp_path)
    message = str(raised.value)
    assert "ghp_secret123" not in message and "me:" not in message
    assert "origin=https://gitlab.com/me/x.git" in message
    assert "upstream=example.com:me/y.git" in message
