"""Where a new session works: its repository and its starting branch (CLI.md, `session new`).

Every session costs one of the account's daily tasks, so the rules never guess silently:

Repository, first match wins: `--repo`/`--source`/`--no-repo`; the profile's `repo`; the
GitHub remote of the checkout in the current folder (`origin` if GitHub's, else
`upstream`), with a note naming it. Inside a checkout whose repository is not connected:
exit 3 listing the connected ones (resolve_source). Otherwise exit 2, before any request.
A session is never repoless unless `--no-repo` says so.

Branch, first match wins: `--branch`; the profile's `branch` (with the profile's repo only);
when the repository came from the checkout (implicitly or `--repo .`), the current branch
if the checkout has a remote-tracking branch of that name on that remote (a note when local
commits are not on it; `--push` pushes it first); else the source's default branch. A
`--branch` the source does not list is sent anyway with a warning (the API lists active
branches only); if the API refuses it, that is its exit 5.

Two steps, so that nothing is asked of the API (and no editor opens) before the local
choice is known to be sound: `choose_repo` (local only) and then `choose_branch` (with the
source the API returned). Notes and warnings are returned, never printed: the command
decides where they go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jules_cli.errors import UsageError
from jules_cli.gitremote import Checkout, describe_remotes, find_checkout
from jules_cli.sources import branch_names, default_branch, repo_label

NO_REPO_HINT = "give --repo OWNER/REPO, or --no-repo for a session without a repository"

FROM_OPTION = "option"  # --repo OWNER/REPO or --source NAME
FROM_PROFILE = "profile"  # the profile's `repo`
FROM_CHECKOUT = "checkout"  # the checkout here, implicitly or with --repo .
REPOLESS = "none"  # --no-repo


@dataclass
class RepoChoice:
    """Which repository to ask the API for, and where that choice came from."""

    wanted: str | None  # owner/repo or a source name; None: repoless (--no-repo)
    origin: str  # FROM_OPTION, FROM_PROFILE, FROM_CHECKOUT or REPOLESS
    checkout: Checkout | None = None  # the checkout, when the repository came from it
    notes: list[str] = field(default_factory=list)
    by_profile: bool = False  # the checkout, chosen by the profile's `repo = "."`


@dataclass
class BranchChoice:
    branch: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    push: bool = False  # push the current branch to the checkout's remote first


def choose_repo(
    *,
    repo: str | None,
    source: str | None,
    no_repo: bool,
    branch: str | None,
    push: bool,
    setting: Callable[[str], Any],
    cwd: Path | None = None,
) -> RepoChoice:
    """The repository rule, without a request; UsageError (exit 2) when none applies."""
    for flag, value in (("--repo", repo), ("--source", source)):
        if value is not None and not value.strip():  # e.g. --repo "$UNSET": never repoless
            raise UsageError(f"{flag} is empty", "give owner/repo, or --no-repo on purpose")
    if no_repo and (repo or source or branch or push):
        raise UsageError("--no-repo cannot be combined with --repo, --source, --branch or --push")
    if repo and source:
        raise UsageError("give either --repo or --source, not both")
    if no_repo:
        return RepoChoice(None, REPOLESS)
    if push and (source or (repo and repo.strip() != ".")):
        raise UsageError(
            "--push pushes the checkout here, so the repository must come from it",
            "leave out --repo/--source, or give --repo .",
        )
    if repo or source:
        if repo and repo.strip() == ".":
            return _checked_push(_from_checkout(cwd, explicit=True), push, branch)
        return RepoChoice((source or repo or "").strip(), FROM_OPTION)
    profile_repo = setting("repo")
    if isinstance(profile_repo, str) and profile_repo.strip() == ".":
        chosen = _checked_push(_from_checkout(cwd, explicit=True), push, branch)
        chosen.by_profile = True  # so the profile's branch goes with it
        return chosen
    if profile_repo and not push:
        return RepoChoice(profile_repo, FROM_PROFILE)
    return _checked_push(_from_checkout(cwd, explicit=False), push, branch)


def _checked_push(choice: RepoChoice, push: bool, branch: str | None) -> RepoChoice:
    """`choice` (from the checkout), once --push is known to be able to push from it: a
    detached HEAD or another --branch is exit 2 here, before the source is asked for."""
    checkout = choice.checkout
    if not push or checkout is None:
        return choice
    if checkout.branch is None:
        raise UsageError("--push needs a current branch, and HEAD is detached",
                         "check out a branch first")  # fmt: skip
    if branch is not None and branch != checkout.branch:
        raise UsageError(
            f"--push pushes the current branch {checkout.branch!r}, not {branch!r}",
            "leave out --branch, or check out that branch",
        )
    return choice


def _from_checkout(cwd: Path | None, *, explicit: bool) -> RepoChoice:
    checkout = find_checkout(cwd)
    if checkout is None:
        if explicit:
            raise UsageError("`--repo .` needs a git checkout, and this folder is not one")
        raise UsageError("no repository given, and this folder is not in a git checkout",
                         NO_REPO_HINT)  # fmt: skip
    if checkout.repo is None:
        what = "`--repo .` found" if explicit else "no repository given, and"
        raise UsageError(
            f"{what} no GitHub remote named origin or upstream in this checkout"
            + describe_remotes(checkout),
            NO_REPO_HINT,
        )
    notes = [] if explicit else [
        f"using {checkout.repo}, the GitHub remote {checkout.remote!r} of this checkout "
        "(--repo to choose another, --no-repo for none)"
    ]  # fmt: skip
    return RepoChoice(checkout.repo, FROM_CHECKOUT, checkout, notes)


def choose_branch(
    choice: RepoChoice,
    source: dict[str, Any],
    *,
    branch: str | None,
    push: bool,
    setting: Callable[[str], Any],
) -> BranchChoice:
    """The branch rule for the `source` the API returned for `choice`."""
    label = repo_label(source)
    if push:
        return _pushed_branch(choice, branch, label)
    if branch is not None:
        return BranchChoice(branch, warnings=_unlisted(source, branch))
    if (choice.origin == FROM_PROFILE or choice.by_profile) and setting("branch"):
        wanted = str(setting("branch"))
        return BranchChoice(wanted, warnings=_unlisted(source, wanted))
    fallback = _default(source)
    checkout = choice.checkout
    if choice.origin != FROM_CHECKOUT or checkout is None:
        return BranchChoice(fallback)
    remote = checkout.remote
    if checkout.branch is None:
        return BranchChoice(
            fallback, notes=[f"HEAD is detached: Jules starts from {label}'s {fallback}"]
        )
    tracking = checkout.tracking_ref()
    if tracking is None:
        return BranchChoice(
            fallback,
            notes=[
                f"branch {checkout.branch!r} is not on {remote}: Jules starts from "
                f"{fallback} (--push pushes it first)"
            ],
        )
    notes = []
    ahead = checkout.commits_ahead(tracking)
    if ahead:
        commits = "commit of" if ahead == 1 else "commits of"
        are = "is" if ahead == 1 else "are"
        notes.append(
            f"{ahead} local {commits} {checkout.branch!r} {are} not on {remote}: Jules starts "
            f"from {remote}'s copy (--push pushes {'it' if ahead == 1 else 'them'} first)"
        )
    return BranchChoice(checkout.branch, notes=notes, warnings=_unlisted(source, checkout.branch))


def _pushed_branch(choice: RepoChoice, branch: str | None, label: str) -> BranchChoice:
    checkout = choice.checkout
    if choice.origin != FROM_CHECKOUT or checkout is None:  # choose_repo refuses this first
        raise UsageError("--push needs the repository to come from the checkout here")
    _checked_push(choice, True, branch)  # done by choose_repo already; kept for other callers
    assert checkout.branch is not None
    return BranchChoice(checkout.branch, push=True)


def _default(source: dict[str, Any]) -> str:
    known = branch_names(source)
    fallback = default_branch(source) or (known[0] if known else None)
    if fallback is None:
        raise UsageError(
            f"{repo_label(source)} reports no default branch", "give one with --branch"
        )
    return fallback


def _unlisted(source: dict[str, Any], branch: str) -> list[str]:
    """A warning when the source's (active-only) branch list lacks `branch`."""
    known = branch_names(source)
    if not known or branch in known or branch == default_branch(source):
        return []
    return [
        f"{repo_label(source)} does not list branch {branch!r} (the API lists active "
        "branches only); sending it anyway"
    ]
