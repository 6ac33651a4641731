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


# The API's objects are read defensively: a field may be missing, null, or of another type
# than documented (a newer API version, a proxy, a bug), and showing the rest beats a crash.


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """A field as text: strings unchanged, None empty, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def activity_kind(activity: dict[str, Any]) -> str:
    for kind in KINDS:
        if kind in activity:
            return kind
    extra = [key for key in activity if key not in COMMON_FIELDS]
    return as_text(extra[0]) if extra else "activity"


def _one_line(text: Any, limit: int | None = None) -> str:
    flat = " ".join(as_text(text).split())
    if limit and len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


def _step_index(step: dict[str, Any]) -> float:
    index = step.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, float)):
        return 0.0
    return float(index) if index == index else 0.0  # NaN sorts as 0


def plan_steps(activity: dict[str, Any]) -> list[dict[str, Any]]:
    plan = as_dict(as_dict(activity.get("planGenerated")).get("plan"))
    steps = [s for s in as_list(plan.get("steps")) if isinstance(s, dict)]
    return sorted(steps, key=_step_index)


def media_size(media: Any) -> int | None:
    data = as_dict(media).get("data")
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
    return "".join(text for text, _ in artifact_parts(artifact))


def artifact_parts(artifact: dict[str, Any]) -> list[tuple[str, str]]:
    """artifact_summary() as (text, style) pieces: a failed command's exit code is red."""
    if "changeSet" in artifact:
        patch = as_dict(as_dict(artifact.get("changeSet")).get("gitPatch")).get("unidiffPatch")
        return [(f"change set: {patch_summary(patch)}", "")]
    if "bashOutput" in artifact:
        bash = as_dict(artifact.get("bashOutput"))
        code = _one_line(bash.get("exitCode", 0), 20)
        failed = code not in ("0", "")
        return [
            (f"$ {_one_line(bash.get('command'), 60)} ", ""),
            (f"(exit {code})", "bold red" if failed else ""),
        ]
    if "media" in artifact:
        media = as_dict(artifact.get("media"))
        mime = _one_line(media.get("mimeType"), 60) or "unknown type"
        return [(f"media: {mime}, {human_size(media_size(media))}", "")]
    kind = _one_line(next(iter(artifact), "artifact"), 60)
    return [(f"{kind} artifact", "")]


def patch_summary(patch: Any) -> str:
    if not patch or not isinstance(patch, str):
        return "no changes"
    from jules_cli.diffstat import diffstat

    stats = diffstat(patch)
    added = sum(s.added for s in stats)
    removed = sum(s.removed for s in stats)
    files = "file" if len(stats) == 1 else "files"
    return f"{len(stats)} {files}, +{added} -{removed}"


def activity_summary(activity: dict[str, Any]) -> str:
    """One line saying what happened, for tables and streams."""
    return "".join(text for text, _ in summary_parts(activity))


def summary_parts(activity: dict[str, Any]) -> list[tuple[str, str]]:
    """activity_summary() as (text, style) pieces, for a terminal: what needs reading
    stands out (the agent's words, a failure's reason, a failed command's exit code);
    the rest is plain. Styles are Rich style names, "" for none."""
    kind = activity_kind(activity)
    body = as_dict(activity.get(kind))
    parts: list[tuple[str, str]]
    if kind == "planGenerated":
        steps = plan_steps(activity)
        titles = "; ".join(_one_line(s.get("title")) for s in steps[:3])
        more = f" (+{len(steps) - 3} more)" if len(steps) > 3 else ""
        count = f"{len(steps)} step" if len(steps) == 1 else f"{len(steps)} steps"
        parts = [(f"plan with {count}: {titles}{more}" if steps else "plan with no steps", "")]
    elif kind == "planApproved":
        parts = [("plan approved", "")]
    elif kind == "userMessaged":
        parts = [(_one_line(body.get("userMessage")), "")]
    elif kind == "agentMessaged":
        parts = [(_one_line(body.get("agentMessage")), "bold")]
    elif kind == "progressUpdated":
        parts = [(_one_line(body.get("title") or body.get("description") or "progress"), "")]
    elif kind == "sessionCompleted":
        parts = [("session completed", "")]
    elif kind == "sessionFailed":
        reason = _one_line(body.get("reason")) or "no reason given"
        parts = [("session failed: ", ""), (reason, "bold red")]
    else:
        parts = [(_one_line(activity.get("description")) or _unknown_label(kind), "")]
    artifacts = [a for a in as_list(activity.get("artifacts")) if isinstance(a, dict)]
    if artifacts:
        parts.append((" [", ""))
        for index, artifact in enumerate(artifacts):
            if index:
                parts.append((", ", ""))
            parts.extend(artifact_parts(artifact))
        parts.append(("]", ""))
    return parts


ACTIVITY_COLUMNS = [
    Column("TIME", no_wrap=True),
    Column("KIND", no_wrap=True),
    Column("SUMMARY"),
    Column("ID", no_wrap=True, drop=1),
]


def kind_text(kind: str):
    from rich.text import Text

    return Text(KIND_LABEL.get(kind, kind), style=KIND_STYLE.get(kind, "dim"))


def summary_text(activity: dict[str, Any]):
    """summary_parts() as one rich Text, its control characters shown, never obeyed."""
    from rich.text import Text

    text = Text()
    for piece, style in summary_parts(activity):
        text.append(safe_text(piece), style=style)
    return text


def print_activities(out: Output, activities: Iterable[dict[str, Any]]) -> int:
    relative = out.is_terminal
    rows = (
        [
            show_time(_time_field(a), relative_to_now=relative),
            kind_text(activity_kind(a)) if out.is_terminal else activity_kind(a),
            summary_text(a) if out.is_terminal else activity_summary(a),
            as_text(a.get("id")),
        ]
        for a in activities
    )
    return out.table(ACTIVITY_COLUMNS, rows, empty="No activities yet.")


def _time_field(activity: dict[str, Any]) -> str:
    return _one_line(activity.get("createTime"))


def stream_line(activity: dict[str, Any], *, terminal: bool):
    """One line per activity for `activities tail` outside a live view, and its feed.

    Control characters from the API are shown escaped (safe_text), never obeyed: the
    line may be drawn straight into a live view. Outside a terminal it is a plain str,
    made without Rich (a pipe's first line should not wait for Rich to load)."""
    kind = activity_kind(activity)
    stamp = _time_field(activity)
    if terminal:
        from rich.text import Text

        # Only the time is dim: a style given to Text() itself would be the base style
        # of everything appended to it, the agent's question and a failure reason too.
        head = Text()
        head.append(f"{safe_text(stamp[11:19])} ", style="dim")
        label = safe_text(KIND_LABEL.get(kind, kind))
        head.append(f"{label:<9} ", style=KIND_STYLE.get(kind, "dim"))
        return HangingLine(head, summary_text(activity))
    return safe_text(f"{stamp}\t{kind}\t{activity_summary(activity)}")


class HangingLine:
    """`head` then `body`; a body too long for the width wraps under its own first
    character, not under the time, so that the time and kind columns stay readable:

        12:40:27 jules     Before I continue: should the new greeting also be
                           covered by a test?

    (Rich's Text wraps to column 0.) Narrower than 40 columns it wraps as Text does."""

    def __init__(self, head, body) -> None:
        self.head = head
        self.body = body

    @property
    def plain(self) -> str:
        return self.head.plain + self.body.plain

    def __rich_console__(self, console, options):
        from rich.text import Text

        indent = self.head.cell_len
        width = options.max_width
        if width - indent < 20:
            yield self.head + self.body
            return
        for index, part in enumerate(self.body.wrap(console, width - indent)):
            start = self.head if index == 0 else Text(" " * indent)
            yield start + part


def plan_lines(activity: dict[str, Any]) -> list[Any]:
    """A plan to read before approving it: numbered steps, each with its description."""
    lines: list[Any] = []
    steps = plan_steps(activity)
    for number, step in enumerate(steps, start=1):
        lines.append(_text(f"  {number}. {as_text(step.get('title'))}", style="bold"))
        if step.get("description"):
            lines.append(_text(f"     {as_text(step['description'])}"))
    if not steps:
        lines.append(_text("  (a plan with no steps)"))
    return lines


def activity_details(activity: dict[str, Any], *, terminal: bool) -> list[Any]:
    """The renderables that show one activity in full."""
    from rich.text import Text

    kind = activity_kind(activity)
    body = as_dict(activity.get(kind))
    parts: list[Any] = []
    if kind == "planGenerated":
        parts.append(Text("Plan:", style="bold"))
        for number, step in enumerate(plan_steps(activity), start=1):
            parts.append(_text(f"  {number}. {as_text(step.get('title'))}"))
            if step.get("description"):
                parts.append(_text(f"     {as_text(step['description'])}", style="dim"))
    elif kind in ("userMessaged", "agentMessaged"):
        key = "userMessage" if kind == "userMessaged" else "agentMessage"
        parts.append(_text(as_text(body.get(key))))
    elif kind == "progressUpdated":
        if body.get("title"):
            parts.append(_text(as_text(body["title"]), style="bold"))
        if body.get("description"):
            parts.append(_text(as_text(body["description"])))
    elif kind == "sessionFailed":
        reason = as_text(body.get("reason")) or "not given"
        parts.append(_text(f"Reason: {reason}", style="bold red"))
    elif kind not in KINDS and kind in activity:
        parts.append(_text(f"{_unknown_label(kind)}:", style="bold"))
        parts.append(_text(_pretty_json(activity.get(kind))))
    if activity.get("description") and kind != "progressUpdated":
        parts.append(_text(as_text(activity["description"]), style="dim"))
    for index, artifact in enumerate(as_list(activity.get("artifacts")), start=1):
        if isinstance(artifact, dict):
            parts.extend(artifact_details(index, artifact))
    return parts


def _text(content: str, style: str = ""):
    """A Text of API content with its control characters shown, never obeyed."""
    from rich.text import Text

    return Text(safe_text(content), style=style)


def _pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return as_text(value)


def _unknown_label(kind: str) -> str:
    # `activity` stands for an activity that names no kind at all.
    if kind == "activity":
        return "activity of no known kind"
    return f"{kind} (not known to this version)"


def artifact_details(index: int, artifact: dict[str, Any]) -> list[Any]:

    parts: list[Any] = [_text(f"\nArtifact {index}: {artifact_summary(artifact)}", style="bold")]
    if "bashOutput" in artifact:
        bash = as_dict(artifact.get("bashOutput"))
        parts.append(_text(f"$ {as_text(bash.get('command')).strip()}", style="cyan"))
        if bash.get("output"):
            parts.append(_text(as_text(bash["output"]).rstrip("\n")))
        code = as_text(bash.get("exitCode", 0))
        parts.append(_text(f"exit code {code}", style="dim" if code in ("0", "") else "bold red"))
    elif "changeSet" in artifact:
        patch = as_dict(as_dict(artifact.get("changeSet")).get("gitPatch"))
        unidiff = patch.get("unidiffPatch")
        if unidiff and isinstance(unidiff, str):
            from jules_cli.diffstat import diffstat, format_stat

            parts.append(_text(format_stat(diffstat(unidiff))))
        if patch.get("baseCommitId"):
            parts.append(_text(f"base commit {as_text(patch['baseCommitId'])}", style="dim"))
        if patch.get("suggestedCommitMessage"):
            message = as_text(patch["suggestedCommitMessage"])
            parts.append(_text(f"commit message: {message}", style="dim"))
    elif "media" not in artifact:
        # A kind this version does not know: its content, as the API sent it.
        parts.append(_text(_pretty_json(artifact)))
    return parts


def print_activity(out: Output, activity: dict[str, Any]) -> None:
    kind = activity_kind(activity)
    relative = out.is_terminal
    out.fields(
        [
            ("ID", as_text(activity.get("id"))),
            ("Kind", kind_text(kind) if out.is_terminal else kind),
            ("Originator", as_text(activity.get("originator"))),
            ("Created", show_time(_time_field(activity), relative_to_now=relative)),
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
        out.line(safe_text(as_text(as_dict(activity.get("agentMessaged")).get("agentMessage"))))
    else:
        out.info(safe_text(f"No answer: {activity_summary(activity)}"))
