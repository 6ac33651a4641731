"""Finding a connected source for what the user typed, and checking branches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jules_cli.api import names
from jules_cli.errors import NotFound, UsageError

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient


def repo_label(source: dict[str, Any]) -> str:
    repo = source.get("githubRepo") or {}
    if repo.get("owner") and repo.get("repo"):
        return f"{repo['owner']}/{repo['repo']}"
    return (source.get("id") or source.get("name") or "?").removeprefix("sources/")


def default_branch(source: dict[str, Any]) -> str | None:
    branch = (source.get("githubRepo") or {}).get("defaultBranch") or {}
    return branch.get("displayName")


def branch_names(source: dict[str, Any]) -> list[str]:
    branches = (source.get("githubRepo") or {}).get("branches") or []
    return [b.get("displayName") for b in branches if isinstance(b, dict) and b.get("displayName")]


def _matches(source: dict[str, Any], wanted: str) -> bool:
    wanted = wanted.lower().strip("/")
    candidates = {
        repo_label(source).lower(),
        (source.get("id") or "").lower(),
        (source.get("name") or "").lower(),
    }
    return wanted in candidates or names.source_name(wanted).lower() in candidates


def resolve_source(client: JulesClient, text: str) -> dict[str, Any]:
    """Ask the API for the source the user means: a get by name first, then the list.

    Names are never trusted to follow one shape (the API has shown two), so a 404 on the
    get falls back to scanning the connected sources.
    """
    if not isinstance(text, str):  # e.g. `repo = 5` in a hand-edited config file
        raise UsageError(f"not a repository: {text!r}", "give owner/repo, e.g. --repo o/r")
    text = text.strip()
    if not text:
        raise UsageError("empty repository name", "give owner/repo, e.g. --repo o/r")
    try:
        return client.get_source(text)
    except NotFound:
        pass
    except UsageError:
        raise
    connected = []
    for source in client.list_sources():
        if _matches(source, text):
            return source
        connected.append(repo_label(source))
    listing = ", ".join(connected[:20]) + (" ..." if len(connected) > 20 else "")
    raise NotFound(
        f"{text} is not a connected repository"
        + (f" (connected: {listing})" if connected else " (no repository is connected)"),
        hint="connect it in the Jules web app, or run `jules sources list`",
    )
