"""Activities for people: each kind rendered in its own way, unknown kinds generically."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from jules_cli.render.output import Column, Output, safe_text
from jules_cli.render.times import show_time

KINDS = (
    "planGenerated",
    "planApproved",
    "userMessaged",
    "agentMessaged",
    "progressUpdated",
    "sessionCompleted",
    "sessionFailed",
)
# Fields every activity may carry; anything else is the activity's kind (the oneof).
COMMON_FIELDS = {"name", "id", "description", "createTime", "originator", "artifacts"}

KIND_LABEL = {
    "planGenerated": "plan",
    "planApproved": "approved",
    "userMessaged": "you",
    "agentMessaged": "jules",
    "progressUpdated": "progress",
    "sessionCompleted": "completed",
    "sessionFailed": "failed",
}

KIND_STYLE = {
    "planGenerated": "magenta",
    "planApproved": "green",
    "userMessaged": "cyan",
    "agentMessaged": "bold yellow",
    "progressUpdated": "blue",
    "sessionCompleted": "bold green",
    "sessionFailed": "bold red",
}


def activity_kind(activity: dict[str, Any]) -> str:
    for kind in KINDS:
        if kind in activity:
            return kind
    extra = [key for key in activity if key not in COMMON_FIELDS]
    return extra[0] if extra else "activity"


def _one_line(text: str | None, limit: int | None = None) -> str:
    flat = " ".join((text or "").split())
    if limit and len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


def plan_steps(activity: dict[str, Any]) -> list[dict[str, Any]]:
    plan = (activity.get("planGenerated") or {}).get("plan") or {}
    steps = [s for s in plan.get("steps") or [] if isinstance(s, dict)]
    return sorted(steps, key=lambda s: s.get("index", 0))


def media_size(media: dict[str, Any]) -> int | None:
    data = media.get("data")
    if not isinstance(data, str):
        return None
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return None


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def artifact_summary(artifact: dict[str, Any]) -> str:
    if "changeSet" in artifact:
        patch = ((artifact.get("changeSet") or {}).get("gitPatch") or {}).get("unidiffPatch")
        return f"change set: {patch_summary(patch)}"
    if "bashOutput" in artifact:
        bash = artifact.get("bashOutput") or {}
        return f"$ {_one_line(bash.get('command'), 60)} (exit {bash.get('exitCode', 0)})"
    if "media" in artifact:
        media = artifact.get("media") or {}
        return f"media: {media.get('mimeType', 'unknown type')}, {human_size(media_size(media))}"
    kind = next(iter(artifact), "artifact")
    return f"{kind} artifact"


def patch_summary(patch: str | None) -> str:
    if not patch:
        return "no changes"
    from jules_cli.diffstat import diffstat

    stats = diffstat(patch)
    added = sum(s.added for s in stats)
    removed = sum(s.removed for s in stats)
    files = "file" if len(stats) == 1 else "files"
    return f"{len(stats)} {files}, +{added} -{removed}"


def activity_summary(activity: dict[str, Any]) -> str:
    """One line saying what happened, for tables and streams."""
    kind = activity_kind(activity)
    body = activity.get(kind) if isinstance(activity.get(kind), dict) else {}
    if kind == "planGenerated":
        steps = plan_steps(activity)
        titles = "; ".join(_one_line(s.get("title")) for s in steps[:3])
        more = f" (+{len(steps) - 3} more)" if len(steps) > 3 else ""
        count = f"{len(steps)} step" if len(steps) == 1 else f"{len(steps)} steps"
        text = f"plan with {count}: {titles}{more}" if steps else "plan with no steps"
    elif kind == "planApproved":
        text = "plan approved"
    elif kind == "userMessaged":
        text = _one_line(body.get("userMessage"))
    elif kind == "agentMessaged":
        text = _one_line(body.get("agentMessage"))
    elif kind == "progressUpdated":
        text = _one_line(body.get("title") or body.get("description") or "progress")
    elif kind == "sessionCompleted":
        text = "session completed"
    elif kind == "sessionFailed":
        text = f"session failed: {_one_line(body.get('reason') or 'no reason given')}"
    else:
        text = _one_line(activity.get("description")) or _unknown_label(kind)
    artifacts = [a for a in activity.get("artifacts") or [] if isinstance(a, dict)]
    if artifacts:
        text += " [" + ", ".join(artifact_summary(a) for a in artifacts) + "]"
    return text


ACTIVITY_COLUMNS = [
    Column("TIME", no_wrap=True),
    Column("KIND", no_wrap=True),
    Column("SUMMARY"),
    Column("ID", no_wrap=True),
]


def kind_text(kind: str):
    from rich.text import Text

    return Text(KIND_LABEL.get(kind, kind), style=KIND_STYLE.get(kind, "dim"))


def print_activities(out: Output, activities: Iterable[dict[str, Any]]) -> int:
    relative = out.is_terminal
    rows = (
        [
            show_time(a.get("createTime"), relative_to_now=relative),
            kind_text(activity_kind(a)) if out.is_terminal else activity_kind(a),
            activity_summary(a),
            a.get("id", ""),
        ]
        for a in activities
    )
    return out.table(ACTIVITY_COLUMNS, rows, empty="No activities yet.")


def stream_line(activity: dict[str, Any], *, terminal: bool):
    """One line per activity for `activities tail` outside a live view, and its feed."""
    from rich.text import Text

    kind = activity_kind(activity)
    stamp = activity.get("createTime", "")
    if terminal:
        line = Text(f"{stamp[11:19]} ", style="dim")
        line.append(f"{KIND_LABEL.get(kind, kind):<9} ", style=KIND_STYLE.get(kind, "dim"))
        line.append(activity_summary(activity))
        return line
    return f"{stamp}\t{kind}\t{activity_summary(activity)}"


def activity_details(activity: dict[str, Any], *, terminal: bool) -> list[Any]:
    """The renderables that show one activity in full."""
    from rich.text import Text

    kind = activity_kind(activity)
    body = activity.get(kind) if isinstance(activity.get(kind), dict) else {}
    parts: list[Any] = []
    if kind == "planGenerated":
        parts.append(Text("Plan:", style="bold"))
        for number, step in enumerate(plan_steps(activity), start=1):
            parts.append(Text(f"  {number}. {step.get('title', '')}"))
            if step.get("description"):
                parts.append(Text(f"     {step['description']}", style="dim"))
    elif kind in ("userMessaged", "agentMessaged"):
        key = "userMessage" if kind == "userMessaged" else "agentMessage"
        parts.append(Text(body.get(key, "")))
    elif kind == "progressUpdated":
        if body.get("title"):
            parts.append(Text(body["title"], style="bold"))
        if body.get("description"):
            parts.append(Text(body["description"]))
    elif kind == "sessionFailed":
        parts.append(Text(f"Reason: {body.get('reason') or 'not given'}", style="red"))
    elif kind not in KINDS and kind in activity:
        parts.append(Text(f"{_unknown_label(kind)}:", style="bold"))
        parts.append(Text(json.dumps(activity.get(kind), indent=2, ensure_ascii=False)))
    if activity.get("description") and kind != "progressUpdated":
        parts.append(Text(activity["description"], style="dim"))
    for index, artifact in enumerate(activity.get("artifacts") or [], start=1):
        if isinstance(artifact, dict):
            parts.extend(artifact_details(index, artifact))
    return parts


def _unknown_label(kind: str) -> str:
    # `activity` stands for an activity that names no kind at all.
    if kind == "activity":
        return "activity of no known kind"
    return f"{kind} (not known to this version)"


def artifact_details(index: int, artifact: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    parts: list[Any] = [Text(f"\nArtifact {index}: {artifact_summary(artifact)}", style="bold")]
    if "bashOutput" in artifact:
        bash = artifact.get("bashOutput") or {}
        parts.append(Text(f"$ {(bash.get('command') or '').strip()}", style="cyan"))
        if bash.get("output"):
            parts.append(Text(bash["output"].rstrip("\n")))
        parts.append(Text(f"exit code {bash.get('exitCode', 0)}", style="dim"))
    elif "changeSet" in artifact:
        change = artifact.get("changeSet") or {}
        patch = change.get("gitPatch") or {}
        if patch.get("unidiffPatch"):
            from jules_cli.diffstat import diffstat, format_stat

            parts.append(Text(format_stat(diffstat(patch["unidiffPatch"]))))
        if patch.get("baseCommitId"):
            parts.append(Text(f"base commit {patch['baseCommitId']}", style="dim"))
        if patch.get("suggestedCommitMessage"):
            parts.append(Text(f"commit message: {patch['suggestedCommitMessage']}", style="dim"))
    elif "media" not in artifact:
        # A kind this version does not know: its content, as the API sent it.
        parts.append(Text(json.dumps(artifact, indent=2, ensure_ascii=False)))
    return parts


def print_activity(out: Output, activity: dict[str, Any]) -> None:
    kind = activity_kind(activity)
    relative = out.is_terminal
    out.fields(
        [
            ("ID", activity.get("id")),
            ("Kind", kind_text(kind) if out.is_terminal else kind),
            ("Originator", activity.get("originator")),
            ("Created", show_time(activity.get("createTime"), relative_to_now=relative)),
        ]
    )
    for part in activity_details(activity, terminal=out.is_terminal):
        out.print(part)


def print_reply(out: Output, activity: dict[str, Any] | None) -> None:
    """`session send --wait-reply`: the agent's answer on stdout, anything else on stderr."""
    if activity is None:
        out.warn("no answer before the timeout")
        return
    if out.json_mode:
        out.json(activity)
        return
    kind = activity_kind(activity)
    if kind == "agentMessaged":
        out.line(safe_text((activity.get("agentMessaged") or {}).get("agentMessage", "")))
    else:
        out.info(f"No answer: {activity_summary(activity)}")
