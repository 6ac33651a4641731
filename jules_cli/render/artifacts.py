"""Patches and artifacts for people: coloured diffs, diffstats, listings, apply reports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jules_cli.render.output import Column, Output, safe_text


def print_diff(out: Output, unidiff: str) -> None:
    """Coloured in a terminal; byte-for-byte raw in a pipe, so `| git apply` works.

    In a terminal the patch's control characters are shown escaped: a patch is data from
    the API and must not drive the screen, with or without colour."""
    if not out.is_terminal:
        out.stdout.write(unidiff if unidiff.endswith("\n") else unidiff + "\n")
        out.stdout.flush()
        return
    shown = safe_text(unidiff)
    if out.no_color:
        out.line(shown.rstrip("\n"))
        return
    from rich.syntax import Syntax

    out.print(Syntax(shown.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))


def print_stat(out: Output, unidiff: str) -> None:
    from jules_cli.diffstat import diffstat, format_stat

    width = out.console.width if out.is_terminal else 80
    out.line(safe_text(format_stat(diffstat(unidiff), width=width)))


ARTIFACT_COLUMNS = [
    Column("#", justify="right", no_wrap=True),
    Column("ACTIVITY", no_wrap=True),
    Column("KIND", no_wrap=True),
    Column("SUMMARY"),
]


def print_artifacts(out: Output, refs: Iterable[Any]) -> int:
    rows = (
        [
            str(ref.number),
            ref.activity_id if ref.activity_id is not None else "(output)",
            ref.kind,
            ref.summary,
        ]
        for ref in refs
    )
    return out.table(ARTIFACT_COLUMNS, rows, empty="No artifacts.")


def _files_json(files: Iterable[Any]) -> list[dict[str, Any]]:
    shown = []
    for stat in files:
        entry: dict[str, Any] = {
            "path": stat.path,
            "status": stat.status,
            "added": stat.added,
            "removed": stat.removed,
        }
        if stat.old_path is not None:
            entry["oldPath"] = stat.old_path
        shown.append(entry)
    return shown


def applied_json(session_id: str, result: Any) -> dict[str, Any]:
    """`session apply --json`: what it did to the checkout here (no API object says it).
    `commit` is null without --commit; `branch` null on a detached HEAD."""
    return {
        "session": session_id,
        "branch": result.branch,
        "createdBranch": result.created_branch,
        "commit": result.commit_sha or None,
        "worktree": None,
        "pullRequest": None,
        "remote": None,
        "files": _files_json(result.files_changed),
        "warnings": list(result.warnings),
    }


def checked_out_json(session_id: str, result: Any) -> dict[str, Any]:
    """`session checkout --json` and `apply --worktree --json`, in the shape of
    applied_json: the branch and commit now checked out (or in the new worktree), the
    pull request fetched (with the remote it came from), the files the patch changed."""
    pull = result.pull_request
    return {
        "session": session_id,
        "branch": result.branch,
        "createdBranch": not result.reused_branch,
        "commit": result.commit_sha,
        "worktree": str(result.worktree.resolve()) if result.worktree is not None else None,
        "pullRequest": None
        if pull is None
        else {"number": pull.number, "url": pull.url, "repo": pull.repo, "headRef": pull.head_ref},
        "remote": result.remote,
        "files": _files_json(result.files_changed),
        "warnings": list(result.warnings),
    }


def print_applied(out: Output, result: Any, origin: str, session_id: str = "") -> None:
    """The files `session apply` changed (stdout), and what it did (stderr); with --json
    the one object of applied_json (warnings still on stderr)."""
    for warning in result.warnings:
        out.warn(safe_text(warning))
    if out.json_mode:
        out.json(applied_json(session_id, result))
        return
    out.table(
        [
            Column("STATUS", no_wrap=True),
            Column("FILE"),
            Column("+", justify="right", no_wrap=True),
            Column("-", justify="right", no_wrap=True),
        ],
        ([s.status, s.path, str(s.added), str(s.removed)] for s in result.files_changed),
    )
    what = f"Applied the patch from the {origin}"
    if result.created_branch:
        what += f" on the new branch {result.branch}"
    if result.commit_sha:
        what += f", committed as {result.commit_sha[:12]}"
    out.success(safe_text(what + "."))


def print_checked_out(out: Output, result: Any, origin: str, session_id: str = "") -> None:
    """What `session checkout` and `apply --worktree` did: the files the patch changed
    (stdout, as `apply` prints them), and the branch, commit and folder (stderr); with
    --json the one object of checked_out_json."""
    for warning in result.warnings:
        out.warn(safe_text(warning))
    if out.json_mode:
        out.json(checked_out_json(session_id, result))
        return
    if result.files_changed:
        out.table(
            [
                Column("STATUS", no_wrap=True),
                Column("FILE"),
                Column("+", justify="right"),
                Column("-", justify="right"),
            ],
            ([s.status, s.path, str(s.added), str(s.removed)] for s in result.files_changed),
        )
    sha = result.commit_sha[:12]
    if result.pull_request is not None:
        pull = result.pull_request
        how = "Switched to the existing" if result.reused_branch else "Checked out the new"
        moved = ""
        if result.updated_from:
            moved = f" (fast-forwarded from {result.updated_from[:12]})"
        out.success(
            safe_text(
                f"{how} branch {result.branch} at {sha}{moved}: {origin} of {pull.repo}, "
                f"fetched from {result.remote}."
            )
        )
        return
    where = f" in the new worktree {result.worktree}" if result.worktree is not None else ""
    out.success(
        safe_text(
            f"Applied the patch from the {origin}{where} on the new branch {result.branch}, "
            f"committed as {sha}."
        )
    )
    if result.worktree is not None:
        out.info(safe_text(f"Next: cd {result.worktree}"))
