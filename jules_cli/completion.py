"""Shell completion values that need no network: a small local cache and the callbacks.

Every TAB press runs `jules`, so completion must answer from what is already on disk.
List commands remember what they fetched (session ids, sources and their branches) in
`completion-cache.json` under `config.state_dir()`; the callbacks here read only that
file, and entries older than their time-to-live are ignored, so a TAB never waits on
HTTP and never offers a long-deleted session.

This module is imported on the completion path and by the option definitions, so it uses
the standard library only (no httpx, no Rich, not even Typer), and the TAB path imports as
little of that as it can: not typing, not pathlib, not jules_cli.config.
"""

from __future__ import annotations

import json
import os
import time

from jules_cli.states import CONDITION_CHOICES, WAITABLE_STATES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path
    from typing import Any

CACHE_FILE = "completion-cache.json"
CACHE_VERSION = 1
# Session states change quickly and ids come and go; repositories and branches less so.
SESSION_TTL = 10 * 60.0
SOURCE_TTL = 60 * 60.0
# Enough for anyone's recent work, small enough to read in well under a millisecond.
MAX_SESSIONS = 200
MAX_SOURCES = 200
# Completion menus are read by people: help text beyond this is cut.
HELP_WIDTH = 60


# -- the cache file -------------------------------------------------------------------------


def cache_path() -> Path:
    from pathlib import Path

    return Path(_cache_file())


def _cache_file() -> str:
    from jules_cli.folders import state_folder

    return os.path.join(state_folder(), CACHE_FILE)


def _load(path: Path | str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    return data


def _entries(data: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    entries = data.get(section)
    if not isinstance(entries, dict):
        return {}
    return {key: value for key, value in entries.items() if isinstance(value, dict)}


def _fresh(entries: dict[str, dict[str, Any]], ttl: float, now: float) -> dict[str, dict]:
    return {
        key: entry
        for key, entry in entries.items()
        if isinstance(entry.get("seen"), (int, float)) and 0 <= now - entry["seen"] <= ttl
    }


def _save(path: Path, data: dict[str, Any]) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file.

    A cache is a convenience: a read-only home or a full disk must never make a list
    command fail, so write errors are swallowed."""
    # Not on the TAB path: list commands only. Private (0600 in a 0700 folder): the
    # titles of someone's sessions are theirs.
    from jules_cli.files import private_folder, write_atomically

    try:
        private_folder(path.parent)
        write_atomically(path, json.dumps(data, sort_keys=True).encode("utf-8"), private=True)
    except OSError:
        pass


def _update(
    section: str,
    new_entries: dict[str, dict[str, Any]],
    *,
    limit: int,
    now: float,
    path: Path | None = None,
) -> None:
    path = path or cache_path()
    data = _load(path)
    entries = _entries(data, section)
    for key, entry in new_entries.items():
        entries[key] = {**entry, "seen": now}
    newest = sorted(entries.items(), key=lambda item: item[1].get("seen", 0), reverse=True)
    data.update({"version": CACHE_VERSION, section: dict(newest[:limit])})
    _save(path, data)


def _one_line(text: Any) -> str:
    words = " ".join(printable(str(text or "")).split())
    return words if len(words) <= HELP_WIDTH else words[: HELP_WIDTH - 3].rstrip() + "..."


# -- what may be offered at all ---------------------------------------------------------------
#
# A completed value is typed into the user's command line, so API text that is not what it
# claims to be (an id `1; touch x`, a branch with `$(...)`) is never offered: each kind of
# value has its alphabet, and anything outside it is left out. Descriptions beside values
# (zsh, fish, PowerShell) lose their control characters.


def _all_in(text: Any, allowed: str) -> bool:
    """`text` is a non-empty str made only of `allowed` characters."""
    return isinstance(text, str) and bool(text) and all(char in allowed for char in text)


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# The contract's: letters, digits, `-` and `_`; the same as jules_cli.api.names.ID_ALPHABET
# (a test holds them equal), which a TAB press cannot import (jules_cli.api loads httpx).
ID_ALPHABET = _ALNUM + "-_"


def is_api_id(text: Any) -> bool:
    """An id as the API returns them: letters, digits, `-` and `_` (CLI.md)."""
    return _all_in(text, ID_ALPHABET)


def is_repo_label(text: Any) -> bool:
    """`owner/repo` with GitHub's characters (letters, digits, `-`, `_`, `.`)."""
    if not isinstance(text, str) or text.count("/") != 1:
        return False
    parts = text.split("/")
    return all(_all_in(part, ID_ALPHABET + ".") and part not in (".", "..") for part in parts)


def is_safe_branch(text: Any) -> bool:
    """A branch name made of characters no shell reads specially."""
    return _all_in(text, ID_ALPHABET + "./+@,=") and not text.startswith("-")


def is_source_name(text: Any) -> bool:
    """`sources/github/owner/repo`, each part with GitHub's characters."""
    if not isinstance(text, str) or not text.startswith("sources/"):
        return False
    return all(_all_in(part, ID_ALPHABET + ".") for part in text.split("/")[1:])


def printable(text: str) -> str:
    """`text` without control characters (C0, C1, DEL; tabs and newlines become spaces)
    or the invisible ones that reorder or split a line (bidi controls, U+2028/9): a
    shell's completion menu would run or show them."""
    return "".join(
        " " if char in "\t\n\r" else char
        for char in text
        if char in "\t\n\r" or not (ord(char) < 32 or 127 <= ord(char) < 160 or char in _INVISIBLE)
    )


_INVISIBLE = frozenset(
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff"
)


# -- what list commands call -----------------------------------------------------------------


def _session_entry(session: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    session_id = session.get("id") or str(session.get("name") or "").removeprefix("sessions/")
    if not is_api_id(session_id):
        return None
    return session_id, {"title": _one_line(session.get("title")), "state": session.get("state")}


def _source_entry(source: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    repo = source.get("githubRepo") or {}
    name = source.get("name")
    if repo.get("owner") and repo.get("repo"):
        label = f"{repo['owner']}/{repo['repo']}"
    elif isinstance(name, str) and name.startswith("sources/"):
        label = name.removeprefix("sources/").removeprefix("github/")
    else:
        return None
    name = name or f"sources/github/{label}"
    if not is_repo_label(label) or not is_source_name(name):
        return None
    default = (repo.get("defaultBranch") or {}).get("displayName")
    branches = [default] if is_safe_branch(default) else []
    for branch in repo.get("branches") or []:
        branch_name = branch.get("displayName") if isinstance(branch, dict) else None
        if is_safe_branch(branch_name) and branch_name not in branches:
            branches.append(branch_name)
    return label, {"name": name, "branches": branches}


def remember_sessions(sessions: Iterable[dict[str, Any]], *, now: float | None = None) -> None:
    """Record these sessions' ids (with title and state, shown beside them in zsh and
    fish) for completion."""
    found = dict(filter(None, (_session_entry(s) for s in sessions if isinstance(s, dict))))
    if found:
        _update("sessions", found, limit=MAX_SESSIONS, now=time.time() if now is None else now)


def remember_sources(sources: Iterable[dict[str, Any]], *, now: float | None = None) -> None:
    """Record these sources as owner/repo, with their branches when the objects have them."""
    found = dict(filter(None, (_source_entry(s) for s in sources if isinstance(s, dict))))
    if found:
        _update("sources", found, limit=MAX_SOURCES, now=time.time() if now is None else now)


def forget_sessions(session_ids: Iterable[str]) -> None:
    """Drop deleted sessions at once rather than offering them until the TTL runs out."""
    path = cache_path()
    data = _load(path)
    entries = _entries(data, "sessions")
    gone = {str(i).removeprefix("sessions/") for i in session_ids} & entries.keys()
    if gone:
        data["sessions"] = {k: v for k, v in entries.items() if k not in gone}
        _save(path, data)


def _remembering(items: Iterable[dict[str, Any]], remember, keep: int) -> Iterator[dict[str, Any]]:
    # Only the first `keep` items: the cache holds no more, and a list of 10,000 sessions
    # must stream in constant memory.
    seen: list[dict[str, Any]] = []
    try:
        for item in items:
            if len(seen) < keep:
                seen.append(item)
            yield item
    finally:
        # Also after a partial read (--limit, `| head`, an error on page 3): what was
        # seen is still true.
        remember(seen)


def remember_sessions_while(sessions: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pass `sessions` through unchanged, lazily, and record the first MAX_SESSIONS (the
    newest) once iteration ends.

    For list commands that stream pages: `sessions = remember_sessions_while(pages)`."""
    return _remembering(sessions, remember_sessions, MAX_SESSIONS)


def remember_sources_while(sources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Like `remember_sessions_while`, for sources."""
    return _remembering(sources, remember_sources, MAX_SOURCES)


# -- completion callbacks (Typer's `autocompletion=`) -----------------------------------------
#
# Typer passes arguments by name: `incomplete` is the word being completed and `ctx` the
# context of the command, whose `params` hold the options already on the line (on a TAB
# press, cli._tab.LineContext). Typer evaluates these signatures, so their annotations
# name only builtins (not `Any`, which is imported for type checkers only).


def _matching(values: Iterable[tuple[str, str]], incomplete: str) -> list[tuple[str, str]]:
    return [(value, help_text) for value, help_text in values if value.startswith(incomplete)]


def cached_sessions(now: float | None = None) -> dict[str, dict[str, Any]]:
    now = time.time() if now is None else now
    return _fresh(_entries(_load(_cache_file()), "sessions"), SESSION_TTL, now)


def cached_sources(now: float | None = None) -> dict[str, dict[str, Any]]:
    now = time.time() if now is None else now
    return _fresh(_entries(_load(_cache_file()), "sources"), SOURCE_TTL, now)


def complete_session_ids(incomplete: str) -> list[tuple[str, str]]:
    """Recently listed session ids, newest first, with state and title as help."""
    sessions = sorted(cached_sessions().items(), key=lambda kv: kv[1].get("seen", 0), reverse=True)
    # `sessions/12<TAB>` completes in the form it was started in. Ids may start with a
    # letter, so `s<TAB>` offers both the ids that start with it and the `sessions/` form.
    forms = ("", "sessions/") if incomplete and "sessions/".startswith(incomplete[:9]) else ("",)
    candidates = []
    for session_id, entry in sessions:
        if not is_api_id(session_id):
            continue
        state = entry.get("state") or ""
        help_text = _one_line(f"{state} {entry.get('title') or ''}")
        candidates.extend((form + session_id, help_text) for form in forms)
    return _matching(candidates, incomplete)


def complete_sources(incomplete: str) -> list[tuple[str, str]]:
    """Cached sources as owner/repo (what --repo and `sources show` take)."""
    sources = sorted(cached_sources().items())
    labels = ((label, str(entry.get("name") or "")) for label, entry in sources)
    return _matching(((k, v) for k, v in labels if is_repo_label(k)), incomplete)


def complete_source_names(incomplete: str) -> list[tuple[str, str]]:
    """Cached sources as full resource names (what --source takes)."""
    sources = sorted(cached_sources().items())
    names = ((str(entry.get("name") or ""), label) for label, entry in sources)
    return _matching(((name, label) for name, label in names if is_source_name(name)), incomplete)


def _wanted_source(ctx: Any) -> str | None:
    params = getattr(ctx, "params", None) or {}
    for key in ("repo", "source"):
        value = params.get(key)
        if isinstance(value, str) and value and value != ".":
            return value
    return None


def complete_branches(ctx: object, incomplete: str) -> list[tuple[str, str]]:
    """Branches of the --repo/--source given on the line if cached, else of every cached
    source."""
    sources = cached_sources()
    wanted = _wanted_source(ctx)
    if wanted:
        key = wanted.removeprefix("sources/").removeprefix("github/")
        chosen = {k: v for k, v in sources.items() if k == key or v.get("name") == wanted}
        sources = chosen or sources
    branches: dict[str, str] = {}
    for label, entry in sorted(sources.items()):
        for branch in entry.get("branches") or []:
            if is_safe_branch(branch):
                branches.setdefault(branch, label)
    return _matching(branches.items(), incomplete)


def _names_like(incomplete: str, names: Iterable[str]) -> list[str]:
    """`names` in the case the user started typing (commands take either case)."""
    lower = incomplete[:1].islower()
    return [name.lower() if lower else name for name in names]


def complete_states(incomplete: str) -> list[str]:
    """Session state names for --state, which also takes a comma-separated list."""
    done, _, current = incomplete.rpartition(",")
    head = f"{done}," if done else ""
    names = _names_like(current, WAITABLE_STATES)
    return [head + name for name in names if name.startswith(current)]


def complete_until(incomplete: str) -> list[str]:
    """What `--until` takes: done, settled or a state name."""
    conditions = [c for c in CONDITION_CHOICES if c.islower()]
    states = _names_like(incomplete, [c for c in CONDITION_CHOICES if not c.islower()])
    return [value for value in (*conditions, *states) if value.startswith(incomplete)]
