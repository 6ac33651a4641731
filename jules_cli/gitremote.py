"""The git checkout in the current folder, as `session new` sees it: its GitHub remote, its
current branch and whether that branch is on the remote; and `git push -u` for `--push`.

Read with git itself (never by parsing .git by hand), with the raw remote URL from the
config: `git remote get-url` would apply `url.<base>.insteadOf` rewrites, and the
repository a user means is the one the remote names.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jules_cli.errors import ExitCode, JulesError, UsageError

# https://github.com/o/r(.git), ssh://git@github.com/o/r(.git), git@github.com:o/r(.git);
# the host in any case (DNS names are case-insensitive), also www.github.com, and
# ssh.github.com (GitHub's ssh over port 443).
_HOST = r"(?i:(?:www\.|ssh\.)?github\.com)"
_REMOTE_PATTERNS = (
    re.compile(
        r"^(?:https?|git|ssh|git\+ssh)://(?:[^@/]+@)?" + _HOST
        + r"(?::\d+)?/([^/]+)/([^/]+?)(?:\.git)?/?$",
        re.I,
    ),
    re.compile(r"^(?:[^@/]+@)?" + _HOST + r":([^/]+)/([^/]+?)(?:\.git)?/?$"),
)
# Which remotes may name the repository, in order (CLI.md, `session new`).
REMOTES = ("origin", "upstream")


class PushFailed(JulesError):
    """`git push` failed: nothing was started (exit 7, like an unreachable service)."""

    exit_code = ExitCode.UNAVAILABLE


def parse_github_remote(url: str) -> str | None:
    """`owner/repo` of a GitHub remote URL in https or ssh form, else None."""
    text = url.strip()
    for pattern in _REMOTE_PATTERNS:
        match = pattern.match(text)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


# `scheme://userinfo@host...` and scp-like `userinfo@host:path`: the userinfo may hold a
# password or token (`https://user:ghp_...@github.com/o/r`), so it is never shown.
_URL_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_SCP_USERINFO = re.compile(r"^[^/:@]+(?::[^/@]*)?@(?=[^/:]+:)")


def without_userinfo(url: str) -> str:
    """`url` as it may be shown: without the user name and password part, if any."""
    text = url.strip()
    stripped = _URL_USERINFO.sub(r"\1", text, count=1)
    if stripped != text:
        return stripped
    return _SCP_USERINFO.sub("", text, count=1)


def _git(cwd: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise UsageError(
            "git is not installed, and the repository comes from the checkout",
            "give --repo OWNER/REPO",
        ) from exc


@dataclass(frozen=True)
class Checkout:
    """What `session new` needs to know of a git checkout."""

    cwd: Path | None
    remotes: dict[str, str]  # origin/upstream -> raw URL, those that exist
    remote: str | None  # the GitHub remote chosen: origin if GitHub, else upstream
    repo: str | None  # owner/repo of that remote
    branch: str | None  # the current branch; None for a detached HEAD

    def tracking_ref(self) -> str | None:
        """`refs/remotes/REMOTE/BRANCH` when the checkout has it, else None."""
        if self.remote is None or self.branch is None:
            return None
        ref = f"refs/remotes/{self.remote}/{self.branch}"
        found = _git(self.cwd, "rev-parse", "--verify", "--quiet", ref)
        return ref if found.returncode == 0 else None

    def commits_ahead(self, ref: str) -> int:
        """How many commits of HEAD are not on `ref`."""
        counted = _git(self.cwd, "rev-list", "--count", f"{ref}..HEAD")
        try:
            return int(counted.stdout.strip())
        except ValueError:
            return 0

    def push(self) -> None:
        """`git push -u REMOTE BRANCH`, git's own output on stderr; PushFailed if it fails."""
        assert self.remote is not None and self.branch is not None
        try:
            pushed = subprocess.run(
                ["git", "push", "-u", self.remote, self.branch],
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise PushFailed("--push needs git, which is not installed") from exc
        sys.stderr.write(pushed.stdout)
        sys.stderr.flush()
        if pushed.returncode != 0:
            lines = [line.strip() for line in pushed.stdout.splitlines() if line.strip()]
            failed = (line for line in lines if line.lower().startswith(("fatal", "error")))
            why = next(failed, None)
            raise PushFailed(
                f"git push -u {self.remote} {self.branch} failed: "
                + (why or (lines[-1] if lines else f"exit status {pushed.returncode}")),
                hint="no session was started; fix the push, or leave out --push",
            )


def _rewritten_github_remote(cwd: Path | None, name: str) -> str | None:
    """owner/repo of remote `name` as git rewrites its URL (`url.<base>.insteadOf`), for a
    shorthand such as `gh:o/r` that names GitHub only once rewritten; the raw URL is
    asked first, so a GitHub URL that a rule sends elsewhere still names its repository."""
    rewritten = _git(cwd, "remote", "get-url", name)
    return parse_github_remote(rewritten.stdout) if rewritten.returncode == 0 else None


def find_checkout(cwd: Path | None = None) -> Checkout | None:
    """The checkout the current folder is in, or None when it is not in one (or no git)."""
    try:
        inside = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    remotes: dict[str, str] = {}
    for name in REMOTES:
        url = _git(cwd, "config", "--get", f"remote.{name}.url")
        if url.returncode == 0 and url.stdout.strip():
            remotes[name] = url.stdout.strip()
    remote = repo = None
    for name, url in remotes.items():
        repo = parse_github_remote(url) or _rewritten_github_remote(cwd, name)
        if repo:
            remote = name
            break
    head = _git(cwd, "symbolic-ref", "--quiet", "--short", "HEAD")
    branch = head.stdout.strip() if head.returncode == 0 and head.stdout.strip() else None
    return Checkout(cwd, remotes, remote, repo, branch)


def describe_remotes(checkout: Checkout) -> str:
    """` (found origin=URL, ...)`, or '' when it has neither remote."""
    if not checkout.remotes:
        return ""
    found = ", ".join(f"{n}={without_userinfo(u)}" for n, u in checkout.remotes.items())
    return f" (found {found})"


def current_repo(cwd: Path | None = None) -> str:
    """owner/repo for `--repo .`: the `origin` remote if it is GitHub's, else `upstream`."""
    checkout = find_checkout(cwd)
    if checkout is None:
        raise UsageError("`--repo .` needs a git checkout, and this folder is not one")
    if checkout.repo is None:
        raise UsageError(
            "no GitHub remote named origin or upstream in this checkout"
            + describe_remotes(checkout),
            "give the repository explicitly with --repo owner/repo",
        )
    return checkout.repo
