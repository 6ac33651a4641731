"""Session logic behind the commands: building a create request, client-side filters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jules_cli.errors import UsageError
from jules_cli.states import WAITABLE_STATES

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient

# The states a session can be listed in (every state the API reports).
STATES = WAITABLE_STATES
MAX_PARALLEL = 5


@dataclass
class NewSession:
    """What the user asked for; `to_request()` turns it into the API's create body."""

    prompt: str
    source: dict[str, Any] | None = None  # resolved Source, None for a repoless session
    branch: str | None = None
    title: str | None = None
    require_approval: bool = False
    auto_pr: bool = False
    env_vars: bool = False

    def to_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": self.prompt}
        if self.title:
            body["title"] = self.title
        if self.source is not None:
            context: dict[str, Any] = {
                "source": self.source["name"],
                "githubRepoContext": {"startingBranch": self.branch},
            }
            if self.env_vars:
                context["environmentVariablesEnabled"] = True
            body["sourceContext"] = context
        if self.require_approval:
            body["requirePlanApproval"] = True
        if self.auto_pr:
            body["automationMode"] = "AUTO_CREATE_PR"
        return body


def check_parallel(count: int) -> int:
    if not 1 <= count <= MAX_PARALLEL:
        raise UsageError(f"--parallel must be between 1 and {MAX_PARALLEL}, not {count}")
    return count


def create_sessions(client: JulesClient, request: dict[str, Any], count: int) -> list[dict]:
    """Create `count` sessions of one request, one after the other: the API fails most
    bursts of parallel creates, and each create is never retried once sent."""
    return [client.create_session(dict(request)) for _ in range(count)]


def parse_states(values: Iterable[str]) -> set[str]:
    states = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().upper().replace("-", "_")
            if not name:
                continue
            if name not in STATES:
                raise UsageError(f"unknown state {part!r}", f"known states: {', '.join(STATES)}")
            states.add(name)
    return states


def repo_matches(session: dict[str, Any], repo: str) -> bool:
    """Does the session's source name end in owner/repo (case-insensitively)?"""
    source = ((session.get("sourceContext") or {}).get("source") or "").lower()
    wanted = repo.lower().strip("/")
    if wanted.startswith("sources/"):
        return source == wanted
    return source.endswith("/" + wanted) or source == f"sources/{wanted}"


def filter_sessions(
    sessions: Iterable[dict[str, Any]],
    *,
    states: set[str] | None = None,
    repo: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Client-side filters (the API filters only `archived`); stops paging at `limit`."""
    count = 0
    if limit is not None and limit <= 0:
        return
    for session in sessions:
        if states and session.get("state") not in states:
            continue
        if repo and not repo_matches(session, repo):
            continue
        yield session
        count += 1
        if limit is not None and count >= limit:
            return


def browser_url(url: str) -> str:
    """`url` if it may go to a web browser: an https:// URL with a host and nothing a
    browser or its launcher could read another way (no spaces or control characters).
    The URL comes from the API, so anything else - `file://`, a `-`-leading "URL" that a
    launcher would take for an option - is refused with JulesError (exit 1)."""
    from urllib.parse import urlsplit

    from jules_cli.errors import JulesError

    try:
        parts = urlsplit(url)
        usable = (
            parts.scheme == "https"
            and url.startswith("https://")
            and bool(parts.hostname)
            and not any(c.isspace() or not c.isprintable() for c in url)
        )
    except ValueError:
        usable = False
    if not usable:
        from jules_cli.render.output import safe_text

        raise JulesError(
            f"not opening the session's URL, which is not an https:// web address: "
            f"{safe_text(url)[:200]!s}",
            "check the session with `jules session show ID`",
        )
    return url
