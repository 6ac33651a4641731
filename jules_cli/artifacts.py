"""A session's artifacts: list them, pick its patch, save them as files.

Works on the API's plain dicts (sessions, activities) and tolerates missing fields and
kinds this version does not know. No HTTP here: callers fetch the session and its
activities and pass them in.

Saving is built so that API data can never choose where a file goes: every file name is
assembled from a counter, a sanitized activity id and a fixed table of extensions, and
the result is checked to sit directly inside the target folder before anything is written.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jules_cli.api import names
from jules_cli.diffstat import compact_summary, diffstat
from jules_cli.errors import JulesError, NotFound, UsageError
from jules_cli.files import would_replace, write_output
from jules_cli.times import parse_time

CHANGE_SET = "changeSet"
BASH_OUTPUT = "bashOutput"
MEDIA = "media"
PULL_REQUEST = "pullRequest"
KNOWN_KINDS = (CHANGE_SET, BASH_OUTPUT, MEDIA, PULL_REQUEST)

SESSION_OUTPUT = "session output"

# Extensions come only from this table, never from the API's text.
MIME_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/avif": "avif",
    "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "application/pdf": "pdf",
    "application/json": "json",
    "application/zip": "zip",
    "application/gzip": "gz",
    "text/plain": "txt",
    "text/html": "html",
    "text/css": "css",
    "text/csv": "csv",
    "text/markdown": "md",
}
UNKNOWN_EXTENSION = "bin"

_KIND_SLUGS = {
    CHANGE_SET: "changeset",
    BASH_OUTPUT: "bash",
    MEDIA: "media",
    PULL_REQUEST: "pullrequest",
}
_SUMMARY_LIMIT = 72


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact of a session, in listing order.

    `activity_id` is None for the session's outputs ("" for an activity without an id).
    `number` is the 1-based position in the whole listing (activities in the order given,
    then the session's outputs); saved file names start with it. `index` is the 0-based
    position inside its activity's `artifacts` (or the session's `outputs`). `raw` is the
    artifact exactly as the API sent it, e.g. `{"bashOutput": {...}}`.
    """

    number: int
    activity_id: str | None
    index: int
    kind: str
    summary: str
    create_time: str | None
    raw: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        value = self.raw.get(self.kind)
        return value if isinstance(value, dict) else {}

    @property
    def origin(self) -> str:
        if self.activity_id is None:
            return SESSION_OUTPUT
        return f"activity {self.activity_id or '(no id)'}"


@dataclass(frozen=True)
class PatchInfo:
    """The patch to show or apply, and where it came from (`origin`: "session output" or
    "activity <id>")."""

    unidiff: str
    base_commit_id: str | None
    suggested_commit_message: str | None
    origin: str
    activity_id: str | None = None
    source: str | None = None
    change_set: dict[str, Any] | None = None  # the changeSet exactly as the API sent it


@dataclass
class SavedArtifacts:
    """What `save_artifacts` wrote, and one warning per artifact it had to skip."""

    paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)  # existing files (--overwrite)


class ArtifactError(JulesError):
    """An artifact could not be read or written."""


def _activity_id(activity: dict[str, Any]) -> str | None:
    value = activity.get("id")
    if isinstance(value, str) and value:
        return value
    name = activity.get("name")
    if isinstance(name, str) and name.strip("/"):
        return name.strip("/").rsplit("/", 1)[-1]
    return None


def _session_label(session: dict[str, Any]) -> str:
    value = session.get("id") or session.get("name") or "?"
    return str(value).removeprefix("sessions/")


def artifact_kind(artifact: Any) -> str:
    """The artifact's oneof key: a known kind when present, else its first object-valued
    key (a kind this version does not know), else "unknown"."""
    if not isinstance(artifact, dict) or not artifact:
        return "unknown"
    for kind in KNOWN_KINDS:
        if kind in artifact:
            return kind
    for key, value in artifact.items():
        if isinstance(value, dict):
            return str(key)
    return str(next(iter(artifact)))


def one_line(text: str, limit: int = _SUMMARY_LIMIT) -> str:
    """First non-blank line of `text`, control characters replaced, cut at `limit`."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    line = "".join(char if char.isprintable() else "?" for char in lines[0])
    if len(lines) > 1:
        line += " ..."
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _exit_code(payload: dict[str, Any]) -> int | str:
    # proto3 JSON omits exitCode when it is 0.
    value = payload.get("exitCode", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return one_line(str(value), 12)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _base64_size(data: str) -> int:
    compact = "".join(data.split())
    return max(len(compact) * 3 // 4 - (len(compact) - len(compact.rstrip("="))), 0)


def _git_patch(payload: dict[str, Any]) -> dict[str, Any]:
    value = payload.get("gitPatch")
    return value if isinstance(value, dict) else {}


def _unidiff(payload: dict[str, Any]) -> str:
    value = _git_patch(payload).get("unidiffPatch")
    return value if isinstance(value, str) else ""


def summarize(kind: str, payload: dict[str, Any]) -> str:
    """One line describing an artifact: "3 files, +10 -2", "`npm test` exit 1",
    "image/png, 12.3 KiB", a pull request's URL."""
    if kind == CHANGE_SET:
        if not _git_patch(payload):
            return "no patch"
        unidiff = _unidiff(payload)
        return compact_summary(diffstat(unidiff)) if unidiff.strip() else "empty patch"
    if kind == BASH_OUTPUT:
        command = one_line(payload.get("command") or "", _SUMMARY_LIMIT - 12) or "(no command)"
        return f"`{command}` exit {_exit_code(payload)}"
    if kind == MEDIA:
        mime = one_line(payload.get("mimeType") or "", 40) or "unknown type"
        data = payload.get("data")
        size = human_size(_base64_size(data)) if isinstance(data, str) else "no data"
        return f"{mime}, {size}"
    if kind == PULL_REQUEST:
        for key in ("url", "title", "headRef"):
            text = one_line(payload.get(key) or "")
            if text:
                return text
        return "pull request"
    return "a kind this version of jules does not know"


def iter_artifacts(
    session: dict[str, Any], activities: Iterable[dict[str, Any]]
) -> list[ArtifactRef]:
    """Every artifact of the session: those of each activity (in the order given, which is
    the API's oldest-first), then the session's outputs (change set, pull request)."""
    found: list[tuple[str | None, int, dict[str, Any], str | None]] = []
    for activity in activities:
        if not isinstance(activity, dict):
            continue
        artifacts = activity.get("artifacts")
        if not isinstance(artifacts, list):
            continue
        # "" rather than None for an activity without id: None means a session output.
        activity_id = _activity_id(activity) or ""
        create_time = activity.get("createTime")
        for index, artifact in enumerate(artifacts):
            if isinstance(artifact, dict):
                found.append((activity_id, index, artifact, create_time))
    outputs = session.get("outputs")
    if isinstance(outputs, list):
        for index, output in enumerate(outputs):
            if isinstance(output, dict):
                found.append((None, index, output, None))

    refs = []
    for number, (activity_id, index, artifact, create_time) in enumerate(found, start=1):
        kind = artifact_kind(artifact)
        payload = artifact.get(kind)
        summary = summarize(kind, payload if isinstance(payload, dict) else {})
        refs.append(
            ArtifactRef(
                number=number,
                activity_id=activity_id,
                index=index,
                kind=kind,
                summary=summary,
                create_time=create_time if isinstance(create_time, str) else None,
                raw=artifact,
            )
        )
    return refs


def _patch_from(payload: dict[str, Any], origin: str, activity_id: str | None) -> PatchInfo:
    git_patch = _git_patch(payload)

    def text(key: str) -> str | None:
        value = git_patch.get(key)
        return value if isinstance(value, str) and value.strip() else None

    source = payload.get("source")
    return PatchInfo(
        unidiff=_unidiff(payload),
        base_commit_id=text("baseCommitId"),
        suggested_commit_message=text("suggestedCommitMessage"),
        origin=origin,
        activity_id=activity_id,
        source=source if isinstance(source, str) else None,
        change_set=payload,
    )


def _time_key(value: Any) -> tuple[bool, float]:
    """Sort key by time (the text of RFC 3339 times does not sort: `...16.7Z` is later
    than `...16.700231Z` as text); missing or unparseable times sort first."""
    moment = parse_time(value) if isinstance(value, str) else None
    return (moment is not None, moment or 0.0)


def _non_empty_change_sets(refs: Iterable[ArtifactRef]) -> list[ArtifactRef]:
    return [ref for ref in refs if ref.kind == CHANGE_SET and _unidiff(ref.payload).strip()]


def select_patch(
    session: dict[str, Any],
    activities: Iterable[dict[str, Any]],
    activity_id: str | None = None,
) -> PatchInfo:
    """The session's patch: its output's change set, else the newest non-empty change set
    among its activities; with `activity_id` (bare or `sessions/S/activities/A`), that
    activity's newest non-empty change set. Raises NotFound when there is none."""
    activities = [activity for activity in activities if isinstance(activity, dict)]
    label = _session_label(session)
    if activity_id is not None:
        _, wanted = names.activity_id(activity_id)
        matching = [activity for activity in activities if _activity_id(activity) == wanted]
        if not matching:
            raise NotFound(
                f"activity {wanted} not found in session {label}",
                hint=f"run `jules activities list {label}` to see its activities",
            )
        candidates = _non_empty_change_sets(iter_artifacts({}, matching))
        if not candidates:
            raise NotFound(
                f"activity {wanted} of session {label} has no patch",
                hint=f"run `jules session artifacts {label}` to see which activities have one",
            )
        return _patch_from(candidates[-1].payload, f"activity {wanted}", wanted)

    refs = iter_artifacts(session, activities)
    outputs = [ref for ref in _non_empty_change_sets(refs) if ref.activity_id is None]
    if outputs:
        return _patch_from(outputs[-1].payload, SESSION_OUTPUT, None)

    candidates = _non_empty_change_sets(refs)
    if not candidates:
        if session.get("state") in ("COMPLETED", "FAILED"):
            # Done, with nothing to show for it: "yet" would promise a patch to come.
            raise NotFound(
                f"session {label} made no change",
                hint=f"see what it did with `jules activities list {label}`",
            )
        raise NotFound(
            f"session {label} has no patch yet",
            hint=f"follow its progress with `jules activities tail {label}`",
        )
    # Newest by time; the listing position breaks ties and covers missing times.
    newest = max(enumerate(candidates), key=lambda item: (_time_key(item[1].create_time), item[0]))[
        1
    ]
    return _patch_from(newest.payload, newest.origin, newest.activity_id)


def mime_extension(mime_type: Any) -> str:
    """File extension for a MIME type, from a fixed table; `bin` when unknown."""
    if not isinstance(mime_type, str):
        return UNKNOWN_EXTENSION
    essence = mime_type.split(";", 1)[0].strip().lower()
    return MIME_EXTENSIONS.get(essence, UNKNOWN_EXTENSION)


def decode_media(data: str) -> bytes:
    """Decode base64 media data (standard or URL-safe alphabet, padding optional).
    Raises ValueError when it is not base64."""
    compact = "".join(data.split())
    padded = compact + "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except ValueError:
        return base64.b64decode(padded.translate(str.maketrans("-_", "+/")), validate=True)


def artifact_file_name(ref: ArtifactRef) -> str:
    """`001-5b3acd1b-changeset.patch`: counter, activity id (first 8 letters/digits, or
    `session` for outputs), kind, extension. Built only from sanitized pieces."""
    if ref.activity_id is None:
        owner = "session"
    else:
        owner = re.sub(r"[^a-z0-9]", "", ref.activity_id.lower())[:8] or "activity"
    slug = _KIND_SLUGS.get(ref.kind) or re.sub(r"[^a-z0-9]", "", ref.kind.lower())[:24]
    return f"{ref.number:03d}-{owner}-{slug or 'artifact'}.{_extension(ref)}"


def _extension(ref: ArtifactRef) -> str:
    if ref.kind == CHANGE_SET:
        return "patch"
    if ref.kind == BASH_OUTPUT:
        return "log"
    if ref.kind == MEDIA:
        return mime_extension(ref.payload.get("mimeType"))
    return "json"


def _bash_log(payload: dict[str, Any]) -> str:
    command = str(payload.get("command") or "").strip("\n")
    output = str(payload.get("output") or "")
    if output and not output.endswith("\n"):
        output += "\n"
    return f"$ {command}\n{output}exit code: {_exit_code(payload)}\n"


def patch_bytes(unidiff: str) -> bytes:
    """A patch as it is saved: with its final newline, which git needs ("corrupt patch")."""
    if unidiff and not unidiff.endswith("\n"):
        unidiff += "\n"
    return text_bytes(unidiff)


_LONE_SURROGATE = re.compile(r"[\ud800-\udc7f\udd00-\udfff]")


def text_bytes(text: str) -> bytes:
    """UTF-8 for a file. Surrogate escapes (U+DC80-DCFF, raw bytes kept by
    `surrogateescape`) become their bytes again; any other lone surrogate, which the API
    may send but UTF-8 cannot hold, is written as the text `\\udXXX`."""
    if _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape")


def check_patch_target(target: Path, *, overwrite: bool = False) -> Path:
    """UsageError unless `target` can be a patch file: not a folder, in a folder that
    exists, and not an existing file unless `overwrite`. Called before any request, so a
    typo in -o costs nothing."""
    target = Path(target)
    if target.is_dir():
        raise UsageError(
            f"{target} is a folder", "give a file name for the patch, e.g. -o out.patch"
        )
    folder = target.parent
    if not folder.is_dir() and not os.path.islink(target):
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(
            f"cannot write {target}: {folder} {what}", "create the folder first, or pick another"
        )
    if not overwrite and would_replace(target):
        raise UsageError(
            f"{target} already exists", "add --overwrite to replace it, or pick another name"
        )
    return target


def check_artifacts_dir(directory: Path) -> Path:
    """UsageError when `directory` exists and is not a folder (checked before any request;
    a missing folder is created when saving)."""
    if str(directory) == "-":  # stdout elsewhere (`diff -o -`); a set of files cannot go there
        raise UsageError(
            "artifacts are saved as files into a folder, not to stdout",
            "give a folder, e.g. -o ./artifacts (./- for a folder named -)",
        )
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"not a folder: {directory}", "give a folder to save the artifacts in")
    return directory


def save_patch(target: Path, unidiff: str, *, overwrite: bool = False) -> bool:
    """Write a patch to `target` (`session diff -o FILE`) as a shell redirect would
    (files.write_output): UsageError for a folder, a missing folder or an existing file
    without `overwrite`, ArtifactError with the reason when writing fails. True when it
    replaced the content of a file that was there (with `overwrite`)."""
    target = check_patch_target(target, overwrite=overwrite)
    replaced = would_replace(target)
    try:
        write_output(target, patch_bytes(unidiff), overwrite=overwrite)
    except FileExistsError:
        raise UsageError(
            f"{target} already exists", "add --overwrite to replace it, or pick another name"
        ) from None
    except OSError as error:
        raise ArtifactError(
            f"cannot write {target}: {error.strerror or error}",
            "check that its folder exists and is writable",
        ) from error
    return replaced


def _file_content(ref: ArtifactRef) -> bytes:
    """The bytes to save for an artifact; ValueError with a reason when it has none."""
    if ref.kind == CHANGE_SET:
        return patch_bytes(_unidiff(ref.payload))
    if ref.kind == BASH_OUTPUT:
        return text_bytes(_bash_log(ref.payload))
    if ref.kind == MEDIA:
        data = ref.payload.get("data")
        if not isinstance(data, str) or not data.strip():
            raise ValueError("it has no data")
        try:
            return decode_media(data)
        except ValueError:
            raise ValueError("its data is not valid base64") from None
    from jules_cli.render.output import to_json  # valid JSON whatever the API sent

    return (to_json(ref.raw) + "\n").encode("utf-8")


def _inside(directory: Path, target: Path) -> bool:
    return (
        target.name not in ("", ".", "..")
        and target.parent.resolve() == directory.resolve()
        and os.sep not in target.name
        and (os.altsep is None or os.altsep not in target.name)
    )


def save_artifacts(
    refs: Iterable[ArtifactRef], directory: Path, *, overwrite: bool = False
) -> SavedArtifacts:
    """Save each artifact as a file in `directory` (created if missing): change sets as
    `.patch`, command outputs as `.log` (`$ command`, output, `exit code: N`), media
    decoded from base64 with an extension from its MIME type, pull requests and unknown
    kinds as `.json`.

    Media that cannot be decoded is skipped with a warning in the result rather than
    failing the whole save: the other artifacts are still worth having. Each file is
    written by files.write_output (the `-o` rule): nothing is written when any target is
    an existing file, unless `overwrite`, or a symbolic link (UsageError); a device or
    FIFO of that name is written through.
    """
    directory = check_artifacts_dir(directory)
    result = SavedArtifacts()
    planned: list[tuple[Path, bytes]] = []
    for ref in refs:
        target = directory / artifact_file_name(ref)
        if not _inside(directory, target):
            raise ArtifactError(f"refusing to write {target}: it is outside {directory}")
        try:
            planned.append((target, _file_content(ref)))
        except ValueError as error:
            result.warnings.append(
                f"skipped {ref.kind} artifact #{ref.number} ({ref.origin}): {error}"
            )

    # Names in DIR are jules's, so a link there is not the user's way of pointing
    # elsewhere: nothing is ever written outside DIR.
    links = [target for target, _ in planned if os.path.islink(target)]
    if links:
        raise UsageError(
            f"{links[0]} is a symbolic link; artifacts are written only inside {directory}",
            "remove the link, or choose another folder",
        )
    existing = [target for target, _ in planned if would_replace(target)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UsageError(
            f"{existing[0]}{more} already exist{'s' if len(existing) == 1 else ''}",
            "choose an empty folder, or allow replacing the files (--overwrite)",
        )

    result.replaced = existing
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for target, content in planned:
            write_output(target, content, overwrite=overwrite)
            result.paths.append(target)
    except FileExistsError as error:  # appeared since the check above
        raise UsageError(
            f"{error.filename} already exists",
            "choose an empty folder, or allow replacing the files (--overwrite)",
        ) from None
    except OSError as error:
        raise ArtifactError(
            f"cannot write {error.filename or directory}: {error.strerror or error}",
            "check the folder's permissions and free space",
        ) from error
    return result
