"""Session logic behind the commands: building a create request, client-side filters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jules_cli.errors import JulesError, UsageError
from jules_cli.states import IN_PROGRESS, PLANNING, QUEUED, WAITABLE_STATES

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient
    from jules_cli.target import BranchChoice, RepoChoice

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


def session_request(
    client: JulesClient,
    choice: RepoChoice,
    *,
    prompt: str,
    setting: Callable[[str], Any],
    branch: str | None = None,
    push: bool = False,
    title: str | None = None,
    require_approval: bool | None = None,
    auto_pr: bool | None = None,
    env_vars: bool = False,
) -> tuple[NewSession, BranchChoice | None]:
    """The create request for the repository `choice` (jules_cli.target): the source asked
    of the API, the starting branch by the rules (None for a repoless session), and the
    profile's defaults for what the caller left unset (None)."""
    from jules_cli.sources import resolve_source
    from jules_cli.target import choose_branch

    request = NewSession(
        prompt=prompt,
        title=title or None,
        require_approval=choice_or_default(require_approval, setting("require-approval")),
        auto_pr=choice_or_default(auto_pr, setting("auto-pr")),
        env_vars=env_vars,
    )
    if choice.wanted is None:
        return request, None
    request.source = resolve_source(client, choice.wanted)
    picked = choose_branch(choice, request.source, branch=branch, push=push, setting=setting)
    request.branch = picked.branch
    return request, picked


def choice_or_default(value: bool | None, profile_default: object) -> bool:
    """A yes/no option as given, or the profile's setting when it was left out (None)."""
    return bool(profile_default) if value is None else value


def new_session_for_agent(
    client: JulesClient,
    setting: Callable[[str], Any],
    *,
    prompt: str,
    repo: str | None = None,
    branch: str | None = None,
    title: str | None = None,
    require_approval: bool | None = None,
    auto_pr: bool | None = None,
    no_repo: bool = False,
) -> NewSession:
    """The rules of `session new` where there is no checkout to look at (the MCP server):
    `repo` or `no_repo`, else the profile's repo (with the profile's branch); never
    repoless unless asked, since every session costs one of the day's tasks."""
    from jules_cli.target import FROM_OPTION, FROM_PROFILE, REPOLESS, RepoChoice

    if not isinstance(prompt, str) or not prompt.strip():
        raise UsageError("the prompt is empty", "say what Jules should do")
    if no_repo and (repo or branch):
        raise UsageError("no_repo cannot be combined with repo or branch")
    profile_repo = setting("repo")
    if isinstance(repo, str) and repo.strip() == ".":
        # `--repo .` names the checkout in the current folder; an agent's server has none.
        raise UsageError(
            "repo '.' means a git checkout here, and the MCP server reads none",
            "give repo OWNER/REPO, or no_repo for a session without one",
        )
    if no_repo:
        choice = RepoChoice(None, REPOLESS)
    elif repo and repo.strip():
        choice = RepoChoice(repo.strip(), FROM_OPTION)
    elif isinstance(profile_repo, str) and profile_repo.strip() not in ("", "."):
        choice = RepoChoice(profile_repo.strip(), FROM_PROFILE)
    else:  # no checkout here to take the repository from (a profile's "." means one)
        raise UsageError(
            "no repository given", "give repo OWNER/REPO, or no_repo for a session without one"
        )
    request, _ = session_request(
        client,
        choice,
        prompt=prompt,
        setting=setting,
        branch=branch or None,
        title=title,
        require_approval=require_approval,
        auto_pr=auto_pr,
    )
    return request


def shown_options(session: dict[str, Any]) -> tuple[bool | None, bool | None]:
    """(requirePlanApproval, auto PR) as the session's answer shows them; None for each
    the API leaves out (both are input-only in the real API, jules-api.md 13)."""
    approval = session.get("requirePlanApproval")
    mode = session.get("automationMode")
    return (
        bool(approval) if approval is not None else None,
        (mode == "AUTO_CREATE_PR") if mode is not None else None,
    )


def retry_session(
    session: dict[str, Any],
    *,
    prompt: str | None = None,
    require_approval: bool = False,
    auto_pr: bool = False,
    branch: str | None = None,
    title: str | None = None,
) -> NewSession:
    """A new session like `session`: its prompt (unless `prompt` replaces it), source,
    starting branch (unless `branch` replaces it) and environment-variables switch;
    repoless when it was. The title is `title`, else left to the API, which makes one
    from the prompt as it did for the original (a replaced prompt gets its own)."""
    context = session.get("sourceContext") or {}
    source = context.get("source")
    has_source = isinstance(source, str) and bool(source)
    if branch is not None and not has_source:
        raise UsageError(
            f"session {session.get('id', '')} has no repository, so --branch does not apply",
            "leave out --branch",
        )
    if branch is None:
        branch = (context.get("githubRepoContext") or {}).get("startingBranch")
    text = prompt if prompt is not None else session.get("prompt")
    if not isinstance(text, str) or not text.strip():
        sid = session.get("id", "")
        raise UsageError(
            f"session {sid} shows no prompt to retry with",
            f"give one: jules session retry {sid} --prompt-file FILE (or - for stdin)",
        )
    return NewSession(
        prompt=text,
        source={"name": source} if has_source else None,
        branch=branch if isinstance(branch, str) and branch else None,
        title=title or None,
        require_approval=require_approval,
        auto_pr=auto_pr,
        env_vars=bool(context.get("environmentVariablesEnabled")),
    )


def check_parallel(count: int) -> int:
    if not 1 <= count <= MAX_PARALLEL:
        raise UsageError(f"--parallel must be between 1 and {MAX_PARALLEL}, not {count}")
    return count


def create_sessions(
    client: JulesClient,
    request: dict[str, Any],
    count: int,
    *,
    into: list[dict] | None = None,
) -> tuple[list[dict], JulesError | None]:
    """Create `count` sessions of one request, one after the other: the API fails most
    bursts of parallel creates, and each create is never retried once sent.

    Returns the sessions created and the error that stopped the rest (None when all were
    started): a failure after k of them must not lose the k ids. Each is also appended
    to `into` as it comes, so a caller still has them when Ctrl-C ends the loop.
    """
    created: list[dict] = into if into is not None else []
    for _ in range(count):
        try:
            created.append(client.create_session(dict(request)))
        except JulesError as error:
            return created, error
    return created, None


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


# -- what a session is waiting on, why it failed (read from its activities) ------------------
#
# The Session object says only the state; the question, the plan awaiting approval and the
# failure reason are activities. The live view, `session show`, `wait`'s last line, `status`
# and the dashboard all need the same answers, so they are computed once, here.


def _latest(activities: Iterable[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = None
    for activity in activities:
        if isinstance(activity, dict) and isinstance(activity.get(kind), dict):
            found = activity
    return found


def failure_text(activities: Iterable[dict[str, Any]]) -> str | None:
    """The reason of the newest sessionFailed activity as the API wrote it, lines and all
    (None when there is none, or it gives no reason)."""
    failed = _latest(activities, "sessionFailed")
    if failed is None:
        return None
    reason = failed["sessionFailed"].get("reason")
    return reason if isinstance(reason, str) and reason.strip() else None


def failure_reason(activities: Iterable[dict[str, Any]]) -> str | None:
    """failure_text() on one line."""
    reason = failure_text(activities)
    return " ".join(reason.split()) if reason is not None else None


def pending_question(activities: Iterable[dict[str, Any]]) -> str | None:
    """What the agent asked last: its newest message, when nothing the user said or did
    came after it (then it is no longer the open question)."""
    question = None
    for activity in activities:
        if not isinstance(activity, dict):
            continue
        if isinstance(activity.get("agentMessaged"), dict):
            text = activity["agentMessaged"].get("agentMessage")
            question = text if isinstance(text, str) and text.strip() else None
        elif "userMessaged" in activity or "planApproved" in activity:
            question = None
    return question


def pending_plan(activities: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest planGenerated activity when no planApproved came after it."""
    plan = None
    for activity in activities:
        if not isinstance(activity, dict):
            continue
        if isinstance(activity.get("planGenerated"), dict):
            plan = activity
        elif "planApproved" in activity:
            plan = None
    return plan


def has_change(session: dict[str, Any], activities: Iterable[dict[str, Any]] = ()) -> bool:
    """Did the session produce a non-empty patch (its outputs, or any activity's)?"""

    def patched(artifact: Any) -> bool:
        change = artifact.get("changeSet") if isinstance(artifact, dict) else None
        patch = (change or {}).get("gitPatch") if isinstance(change, dict) else None
        unidiff = patch.get("unidiffPatch") if isinstance(patch, dict) else None
        return isinstance(unidiff, str) and bool(unidiff.strip())

    outputs = session.get("outputs")
    if isinstance(outputs, list) and any(patched(output) for output in outputs):
        return True
    for activity in activities:
        artifacts = activity.get("artifacts") if isinstance(activity, dict) else None
        if isinstance(artifacts, list) and any(patched(a) for a in artifacts):
            return True
    return False


# -- bulk lifecycle (`session archive|unarchive|delete --state/--repo/--older-than`) ------------

# A filter never deletes a session that is still working unless --state names its state.
RUNNING_STATES = (QUEUED, PLANNING, IN_PROGRESS)


@dataclass(frozen=True)
class SessionFilter:
    """The sessions a bulk lifecycle command acts on: every filter must match.

    `older_than` is seconds: the session's updateTime is at least that long before `now`
    (a session without a readable updateTime never matches: its age is unknown).
    `protect_running` leaves out RUNNING_STATES not named in `states` (for delete).
    """

    states: frozenset[str] = frozenset()
    repo: str | None = None
    older_than: float | None = None
    protect_running: bool = False

    @property
    def given(self) -> bool:
        return bool(self.states) or self.repo is not None or self.older_than is not None

    def describe(self) -> str:
        """The filters as options, e.g. `--state COMPLETED --older-than 7d`."""
        parts = [f"--state {state}" for state in sorted(self.states)]
        if self.repo is not None:
            parts.append(f"--repo {self.repo}")
        if self.older_than is not None:
            parts.append(f"--older-than {_age_text(self.older_than)}")
        return " ".join(parts)

    def matches(self, session: dict[str, Any], now: float) -> bool:
        from jules_cli.times import parse_time

        state = session.get("state")
        if self.states and state not in self.states:
            return False
        if self.protect_running and state in RUNNING_STATES and state not in self.states:
            return False
        if self.repo is not None and not repo_matches(session, self.repo):
            return False
        if self.older_than is not None:
            updated = parse_time(session.get("updateTime"))
            if updated is None or now - updated < self.older_than:
                return False
        return True

    def select(self, sessions: Iterable[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        return [session for session in sessions if self.matches(session, now)]


def _age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass
class BulkOutcome:
    """What a bulk action did: the results of those done, the session it failed on (with
    the error), and those it did not get to."""

    done: list[dict[str, Any]]
    failed: dict[str, Any] | None = None
    error: Exception | None = None
    not_done: list[dict[str, Any]] = field(default_factory=list)


def act_on_each(
    sessions: list[dict[str, Any]],
    action: Any,
    on_done: Any = None,
) -> BulkOutcome:
    """Run `action(session) -> result` on each in order; stop at the first JulesError
    (the rest are not attempted: whatever failed it, a quota or an outage, would most
    likely fail them too), and say what was done and what was not."""
    from jules_cli.errors import JulesError

    done: list[dict[str, Any]] = []
    for index, session in enumerate(sessions):
        try:
            result = action(session)
        except JulesError as error:
            return BulkOutcome(done, session, error, sessions[index + 1 :])
        done.append(result)
        if on_done is not None:
            on_done(session, result)
    return BulkOutcome(done)
