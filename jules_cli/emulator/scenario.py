"""Directives in a prompt pick what the emulated agent does, deterministically.

A directive is a bracketed word in the prompt (or in a later message), such as `[ask]` or
`[many:40]`. Only the names below count; other bracketed text is ordinary prompt text.
The lifecycle is built up front as a script of steps, each with a delay in simulated
seconds; the Emulator plays the script as (simulated) time passes.

A step is a JSON-able dict (the whole state is persisted as JSON):
    delay       simulated seconds after the previous step (or after the user's action)
    state       the session's new state, if it changes
    activities  activity bodies to add (kind, originator, artifacts; no name/id/time)
    wait        "approval" or "user": stop here until :approvePlan / :sendMessage
    complete    {"addFiles": [...], "commitMessage": str}: finish with the final patch
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jules_cli.emulator import content

# Simulated seconds; a default session takes about a minute at speed 1.
QUEUED_SECONDS = 3.0
PLANNING_SECONDS = 10.0
AUTO_APPROVE_SECONDS = 2.0
BASH_SECONDS = 10.0
STEP_SECONDS = 5.0
MANY_SECONDS = 1.0
EDIT_SECONDS = 15.0
REVIEW_SECONDS = 10.0
COMPLETE_SECONDS = 8.0
REPLY_SECONDS = 3.0

MAX_MANY = 1000
DEFAULT_FAIL_REASON = "The agent could not finish the task: the test suite does not run."
QUESTION = (
    "Before I continue: should the new greeting also be covered by a test? "
    "Reply with a message and I will carry on."
)
STALL_STATES = {"queued": "QUEUED", "planning": "PLANNING", "in_progress": "IN_PROGRESS"}

_DIRECTIVE = re.compile(r"\[([A-Za-z][A-Za-z_-]*)(?::([^\]\n]*))?\]")
_FLAGS = {
    "ask": "ask",
    "pause": "pause",
    "no-changes": "no_changes",
    "bash-fail": "bash_fail",
    "media": "media",
    "same-time": "same_time",
    "hostile": "hostile",
    "unknown-kind": "unknown_kind",
    "replan": "replan",
}
_VALUED = {"fail", "stall", "many", "slow", "patch"}
NAMES = sorted([*_FLAGS, *_VALUED])


class DirectiveError(ValueError):
    """A known directive with an argument it cannot use."""


@dataclass
class Directives:
    ask: bool = False
    pause: bool = False
    fail: str | None = None
    stall: str | None = None
    no_changes: bool = False
    bash_fail: bool = False
    media: bool = False
    many: int = 0
    same_time: bool = False
    slow: float = 1.0
    patch: str = "new"
    hostile: bool = False
    unknown_kind: bool = False
    replan: bool = False  # in feedback on a plan: the answer is a revised plan

    @classmethod
    def parse(cls, text: str) -> Directives:
        found = cls()
        for match in _DIRECTIVE.finditer(text or ""):
            name = match.group(1).lower().replace("_", "-")
            arg = (match.group(2) or "").strip()
            if name in _FLAGS:
                setattr(found, _FLAGS[name], True)
            elif name in _VALUED:
                found._set_valued(name, arg, match.group(0))
        return found

    def _set_valued(self, name: str, arg: str, token: str) -> None:
        if name == "fail":
            self.fail = arg or DEFAULT_FAIL_REASON
        elif name == "stall":
            key = (arg or "in_progress").lower().replace("-", "_")
            if key not in STALL_STATES:
                raise DirectiveError(f"{token}: the state is one of queued, planning, in_progress")
            self.stall = STALL_STATES[key]
        elif name == "many":
            if not arg.isdigit() or int(arg) > MAX_MANY:
                raise DirectiveError(f"{token}: give a count from 0 to {MAX_MANY}, e.g. [many:40]")
            self.many = int(arg)
        elif name == "slow":
            try:
                factor = float(arg) if arg else 10.0
            except ValueError:
                factor = -1.0
            if not 0 < factor <= 10_000:
                raise DirectiveError(f"{token}: give a factor above 0, e.g. [slow:10]")
            self.slow = factor
        elif name == "patch":
            if arg not in ("new", "readme"):
                raise DirectiveError(f"{token}: the patch is `new` or `readme`")
            self.patch = arg


def strip_directives(text: str) -> str:
    """The prompt without known directives, for generated titles."""

    def drop(match: re.Match[str]) -> str:
        name = match.group(1).lower().replace("_", "-")
        return "" if name in _FLAGS or name in _VALUED else match.group(0)

    return _DIRECTIVE.sub(drop, text or "")


def make_title(prompt: str) -> str:
    for line in strip_directives(prompt).splitlines():
        words = " ".join(line.split())
        if words:
            return words if len(words) <= 80 else words[:77].rstrip() + "..."
    return "Untitled session"


@dataclass
class Context:
    """What a script needs to know about its session."""

    title: str
    source: str | None
    branch: str | None
    new_id: Callable[[], str]

    def change_set(self, patch: str, commit_message: str | None = None) -> dict[str, Any]:
        git_patch: dict[str, Any] = {
            "unidiffPatch": patch,
            "baseCommitId": content.base_commit_id(self.source, self.branch),
        }
        if commit_message:
            git_patch["suggestedCommitMessage"] = commit_message
        change_set: dict[str, Any] = {}
        if self.source:
            change_set["source"] = self.source
        change_set["gitPatch"] = git_patch
        return {"changeSet": change_set}


def progress(title: str | None, description: str | None, artifacts=None) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if title:
        update["title"] = title
    if description:
        update["description"] = description
    activity: dict[str, Any] = {"originator": "agent", "progressUpdated": update}
    if artifacts:
        activity["artifacts"] = artifacts
    return activity


def agent_message(text: str) -> dict[str, Any]:
    return {"originator": "agent", "agentMessaged": {"agentMessage": text}}


def bash_activity(command: str, output: str, exit_code: int) -> dict[str, Any]:
    bash: dict[str, Any] = {"command": command, "output": output}
    if exit_code:
        bash["exitCode"] = exit_code
    description = content.bash_description(command, output, exit_code)
    return progress("Ran bash command", description, [{"bashOutput": bash}])


def plan_activity(ctx: Context) -> dict[str, Any]:
    titles = [
        ("Explore the repository", f"Read the code related to: {ctx.title}"),
        ("Implement the change", "Make the edits the task needs."),
        ("Run the tests", "Run the test suite and fix any failure."),
        ("Submit the change", ""),
    ]
    steps = []
    for index, (title, description) in enumerate(titles):
        step: dict[str, Any] = {"id": ctx.new_id(), "title": title}
        if description:
            step["description"] = description
        if index:
            step["index"] = index
        steps.append(step)
    return {"originator": "agent", "planGenerated": {"plan": {"id": ctx.new_id(), "steps": steps}}}


def revised_plan_activity(ctx: Context, feedback: str) -> dict[str, Any]:
    """The answer to feedback on a plan that asks for a new one ([replan]): the plan again,
    with a step for the feedback before the last one, every id new."""
    plan = plan_activity(ctx)
    steps = plan["planGenerated"]["plan"]["steps"]
    wish = " ".join(strip_directives(feedback).split()) or "the feedback"
    steps.insert(-1, {"id": ctx.new_id(), "title": "Address your feedback", "description": wish})
    for index, step in enumerate(steps):
        step.pop("index", None)
        if index:
            step["index"] = index
    return plan


def session_script(
    directives: Directives, ctx: Context, *, require_approval: bool
) -> list[dict[str, Any]]:
    """The whole lifecycle of a new session, from QUEUED on."""
    slow = directives.slow
    steps: list[dict[str, Any]] = []
    if directives.stall == "QUEUED":
        steps.append({"delay": 0.0, "wait": "user"})
    steps.append({"delay": QUEUED_SECONDS * slow, "state": "PLANNING"})
    if directives.stall == "PLANNING":
        steps.append({"delay": 0.0, "wait": "user"})
    plan = plan_activity(ctx)
    if require_approval:
        steps.append(
            {
                "delay": PLANNING_SECONDS * slow,
                "state": "AWAITING_PLAN_APPROVAL",
                "activities": [plan],
                "wait": "approval",
            }
        )
    else:
        steps.append({"delay": PLANNING_SECONDS * slow, "activities": [plan]})
        approved = {
            "originator": "user",
            "planApproved": {"planId": plan["planGenerated"]["plan"]["id"]},
        }
        steps.append(
            {"delay": AUTO_APPROVE_SECONDS * slow, "state": "IN_PROGRESS", "activities": [approved]}
        )
    files = [] if directives.no_changes else _initial_files(directives)
    steps.extend(work_script(directives, ctx, files))
    return steps


def _initial_files(directives: Directives) -> list[list]:
    return content.readme_files() if directives.patch == "readme" else content.default_files()


def default_work_files(directives: Directives) -> list[list]:
    return [] if directives.no_changes else _initial_files(directives)


def work_script(directives: Directives, ctx: Context, files: list[list]) -> list[dict[str, Any]]:
    """The IN_PROGRESS part: commands, questions, edits, then completion or failure."""
    steps: list[dict[str, Any]] = []

    def add(delay: float, **step: Any) -> None:
        # [same-time]: everything after the first work step shares its createTime.
        if directives.same_time and steps:
            delay = 0.0
        steps.append({"delay": delay * directives.slow, **step})

    add(BASH_SECONDS, activities=[bash_activity("\npip install pytest", content.INSTALL_OUTPUT, 0)])
    if directives.bash_fail:
        add(
            STEP_SECONDS,
            activities=[bash_activity("python -m pytest -q", content.FAILING_TESTS, 1)],
        )
    if directives.stall == "IN_PROGRESS":
        add(0.0, wait="user")
    if directives.ask:
        add(
            STEP_SECONDS,
            state="AWAITING_USER_FEEDBACK",
            activities=[agent_message(QUESTION)],
            wait="user",
        )
    if directives.pause:
        add(STEP_SECONDS, state="PAUSED", wait="user")
    if directives.fail is not None:
        failed = {"originator": "agent", "sessionFailed": {"reason": directives.fail}}
        add(STEP_SECONDS, state="FAILED", activities=[failed])
        return steps
    if directives.media:
        media = [{"media": {"data": content.SCREENSHOT_PNG_BASE64, "mimeType": "image/png"}}]
        add(STEP_SECONDS, activities=[progress("Verified the page", "Took a screenshot.", media)])
    for number in range(1, directives.many + 1):
        note = progress(f"Working ({number}/{directives.many})", f"Progress note {number}.")
        add(MANY_SECONDS, activities=[note])
    if directives.unknown_kind:
        add(STEP_SECONDS, activities=_unknown_kind_activities())
    if directives.hostile:
        add(STEP_SECONDS, activities=[_hostile_activity()])
        files = [*files, content.hostile_file()]
    if files:
        first = ctx.change_set(content.render_patch(files[:1]))
        add(EDIT_SECONDS, activities=[progress("Edited files", f"Changed {files[0][0]}.", [first])])
    add(REVIEW_SECONDS, activities=[progress("Code reviewed", "The change looks correct.")])
    commit_message = f"{ctx.title}\n\nChanges made by Jules (emulated)."
    add(COMPLETE_SECONDS, complete={"addFiles": files, "commitMessage": commit_message})
    return steps


def _unknown_kind_activities() -> list[dict[str, Any]]:
    # A kind this API version does not document, from the system, and a progress
    # update without a title: both have tripped real clients.
    return [
        {
            "originator": "system",
            "description": "The environment was snapshotted.",
            "environmentSnapshotted": {"snapshotId": "snap-0001", "sizeBytes": "1048576"},
        },
        progress(None, "A progress update that has no title."),
    ]


def _hostile_activity() -> dict[str, Any]:
    artifacts: list[dict[str, Any]] = [
        {"bashOutput": {"command": "cat notes.txt", "output": content.HOSTILE_OUTPUT}}
    ]
    for mime_type, data in content.HOSTILE_MEDIA:
        artifacts.append(
            {"media": {"data": base64.b64encode(data).decode(), "mimeType": mime_type}}
        )
    return progress(content.HOSTILE_TITLE, content.HOSTILE_OUTPUT, artifacts)
