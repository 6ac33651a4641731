"""Per-file statistics of a unified diff, and their `git diff --stat` rendering.

The patches come from the Jules API as text (`gitPatch.unidiffPatch`), so this parses text
and never runs git. It understands `git diff` output (extended headers, quoted paths,
renames, copies, mode changes, binary patches) and plain `diff -u` output (`---`/`+++`
pairs, `/dev/null`, timestamps after a tab). Hunk bodies are counted by their `@@` line
counts, so a removed line that starts with `--` is never mistaken for a file header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ADDED = "added"
DELETED = "deleted"
MODIFIED = "modified"
RENAMED = "renamed"
BINARY = "binary"

DEV_NULL = "/dev/null"

_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_C_ESCAPES = {
    "a": 7,
    "b": 8,
    "t": 9,
    "n": 10,
    "v": 11,
    "f": 12,
    "r": 13,
    '"': 34,
    "\\": 92,
}


@dataclass(frozen=True)
class FileStat:
    """One file of a diff. `path` is the new path (the old one for a deletion); `old_path`
    is set for renames and copies. Binary files have 0 added/removed lines."""

    path: str
    added: int
    removed: int
    status: str  # ADDED | DELETED | MODIFIED | RENAMED | BINARY
    old_path: str | None = None

    @property
    def changes(self) -> int:
        return self.added + self.removed


def unquote_c_path(text: str) -> str | None:
    """Decode git's C-style quoted path (`"a/\\303\\274.txt"`); None when `text` is not
    exactly one quoted string. Octal escapes are bytes, decoded as UTF-8 the way git
    wrote them (undecodable bytes kept via surrogateescape, like os.fsdecode)."""
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        return None
    out = bytearray()
    body = text[1:-1]
    i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            return None  # an unescaped quote inside: not one quoted string
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= len(body):
            return None
        escape = body[i + 1]
        if escape in _C_ESCAPES:
            out.append(_C_ESCAPES[escape])
            i += 2
        elif re.match(r"[0-7]{3}", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            return None
    return out.decode("utf-8", "surrogateescape")


def _split_quoted_head(text: str) -> tuple[str, str] | None:
    """`"quoted name" rest` -> (name, rest)."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            name = unquote_c_path(text[: i + 1])
            if name is None:
                return None
            return name, text[i + 1 :].lstrip(" ")
        i += 1
    return None


def _strip_prefix(name: str) -> str:
    """Drop git's `a/` / `b/` (or any one-component) prefix of a `diff --git` name."""
    return name.split("/", 1)[1] if "/" in name else name


def _git_header_names(rest: str) -> tuple[str, str] | None:
    """The two names of `diff --git A B`, prefixes removed; None when ambiguous."""
    if rest.startswith('"'):
        head = _split_quoted_head(rest)
        if head is None:
            return None
        first, second = head
        unquoted = unquote_c_path(second)
        return _strip_prefix(first), _strip_prefix(unquoted if unquoted is not None else second)
    if rest.endswith('"'):
        # Unquoted first name, quoted second: find where the quoted tail starts.
        for match in re.finditer(' "', rest):
            tail = unquote_c_path(rest[match.start() + 1 :])
            if tail is not None:
                return _strip_prefix(rest[: match.start()]), _strip_prefix(tail)
        return None
    # Both unquoted and possibly with spaces: git itself relies on the two names being
    # equal apart from the prefix (true unless renamed, and renames carry `rename from/to`).
    for match in re.finditer(" ", rest):
        first, second = rest[: match.start()], rest[match.end() :]
        if _strip_prefix(first) == _strip_prefix(second):
            return _strip_prefix(first), _strip_prefix(second)
    match = re.search(r" b/", rest)
    if match:
        return _strip_prefix(rest[: match.start()]), _strip_prefix(rest[match.start() + 1 :])
    return None


def _marker_name(text: str) -> str:
    """The name on a `---`/`+++` line, without a trailing tab + timestamp, unquoted."""
    text = text.rstrip("\r")
    unquoted = unquote_c_path(text.split("\t", 1)[0]) if text.startswith('"') else None
    if unquoted is not None:
        return unquoted
    # git ends names that contain a space with a tab; diff -u appends a tab + timestamp.
    text = text.split("\t", 1)[0]
    return DEV_NULL if text.rstrip() == DEV_NULL else text


class _FileBuilder:
    def __init__(self, git_style: bool) -> None:
        self.git_style = git_style
        self.header_old: str | None = None
        self.header_new: str | None = None
        self.minus_name: str | None = None
        self.plus_name: str | None = None
        self.renamed_from: str | None = None
        self.renamed_to: str | None = None
        self.copied_from: str | None = None
        self.copied_to: str | None = None
        self.new_file = False
        self.deleted_file = False
        self.binary = False
        self.has_hunks = False
        self.added = 0
        self.removed = 0

    def set_markers(self, minus: str, plus: str) -> None:
        self.minus_name, self.plus_name = minus, plus
        if minus == DEV_NULL:
            self.new_file = True
        if plus == DEV_NULL:
            self.deleted_file = True

    def _marker_paths(self) -> tuple[str | None, str | None]:
        old, new = self.minus_name, self.plus_name
        old = None if old == DEV_NULL else old
        new = None if new == DEV_NULL else new
        strip = self.git_style or (
            (old is None or old.startswith("a/")) and (new is None or new.startswith("b/"))
        )
        if strip:
            old = _strip_prefix(old) if old is not None else None
            new = _strip_prefix(new) if new is not None else None
        return old, new

    def build(self) -> FileStat | None:
        marker_old, marker_new = self._marker_paths()
        old = self.renamed_from or self.copied_from or marker_old or self.header_old
        new = self.renamed_to or self.copied_to or marker_new or self.header_new
        if self.deleted_file:
            new = None
        elif self.new_file:
            old = None
        path = new or old
        if not path:
            return None
        # Only git marks a rename or copy; a plain `diff -u x.orig x` names two files too.
        moved = self.git_style and old is not None and new is not None and old != new
        if self.binary:
            status = BINARY
        elif self.new_file or self.copied_to:
            status = ADDED
        elif self.deleted_file:
            status = DELETED
        elif moved:
            status = RENAMED
        else:
            status = MODIFIED
        return FileStat(path, self.added, self.removed, status, old if moved else None)


def diffstat(unidiff: str) -> list[FileStat]:
    """Files of a unified diff in patch order, with their added/removed line counts."""
    stats: list[FileStat] = []
    current: _FileBuilder | None = None
    old_left = new_left = 0
    # Not splitlines(): it would also split on form feeds and other separators that are
    # ordinary characters inside a line of code.
    lines = [line[:-1] if line.endswith("\r") else line for line in unidiff.split("\n")]

    def finish() -> None:
        if current is not None:
            built = current.build()
            if built is not None:
                stats.append(built)

    i = 0
    while i < len(lines):
        line = lines[i]
        if current is not None and (old_left > 0 or new_left > 0):
            if line.startswith("+"):
                current.added += 1
                new_left -= 1
            elif line.startswith("-"):
                current.removed += 1
                old_left -= 1
            elif line.startswith(" ") or line == "":
                old_left -= 1
                new_left -= 1
            elif not line.startswith("\\"):
                # A truncated hunk: stop counting and read this line as a header.
                old_left = new_left = 0
                continue
            i += 1
            continue

        if line.startswith("diff --git "):
            finish()
            current = _FileBuilder(git_style=True)
            names = _git_header_names(line[len("diff --git ") :])
            if names:
                current.header_old, current.header_new = names
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if current is None or current.has_hunks or current.minus_name is not None:
                finish()
                current = _FileBuilder(git_style=False)
            current.set_markers(_marker_name(line[4:]), _marker_name(lines[i + 1][4:]))
            i += 2
            continue
        elif current is not None and line.startswith("@@ "):
            match = _HUNK_HEADER.match(line)
            if match:
                current.has_hunks = True
                old_left = int(match.group(1)) if match.group(1) is not None else 1
                new_left = int(match.group(2)) if match.group(2) is not None else 1
        elif current is not None and not current.has_hunks:
            _read_extended_header(current, line)
        i += 1
    finish()
    return stats


def _header_path(value: str) -> str:
    unquoted = unquote_c_path(value)
    return unquoted if unquoted is not None else value


def _read_extended_header(current: _FileBuilder, line: str) -> None:
    if line.startswith("new file mode"):
        current.new_file = True
    elif line.startswith("deleted file mode"):
        current.deleted_file = True
    elif line.startswith("rename from "):
        current.renamed_from = _header_path(line[len("rename from ") :])
    elif line.startswith("rename to "):
        current.renamed_to = _header_path(line[len("rename to ") :])
    elif line.startswith("copy from "):
        current.copied_from = _header_path(line[len("copy from ") :])
    elif line.startswith("copy to "):
        current.copied_to = _header_path(line[len("copy to ") :])
    elif line.startswith("GIT binary patch") or (
        line.startswith("Binary files ") and line.endswith(" differ")
    ):
        current.binary = True
        if line.startswith("Binary files /dev/null and "):
            current.new_file = True
        elif line.endswith(" and /dev/null differ"):
            current.deleted_file = True


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def summary_line(stats: Iterable[FileStat]) -> str:
    """git's summary: ` 3 files changed, 10 insertions(+), 2 deletions(-)`."""
    items = list(stats)
    added = sum(stat.added for stat in items)
    removed = sum(stat.removed for stat in items)
    parts = [" " + _plural(len(items), "file changed", "files changed")]
    # Like git: both counts when both are zero, otherwise only the non-zero ones.
    if added or not removed:
        parts.append(_plural(added, "insertion(+)", "insertions(+)"))
    if removed or not added:
        parts.append(_plural(removed, "deletion(-)", "deletions(-)"))
    return ", ".join(parts)


def compact_summary(stats: Iterable[FileStat]) -> str:
    """One short phrase for listings: `3 files, +10 -2`."""
    items = list(stats)
    added = sum(stat.added for stat in items)
    removed = sum(stat.removed for stat in items)
    return f"{_plural(len(items), 'file', 'files')}, +{added} -{removed}"


def display_name(stat: FileStat) -> str:
    """The path as `git diff --stat` shows it; renames as `dir/{old => new}.py`."""
    if not stat.old_path or stat.old_path == stat.path:
        return stat.path
    old, new = stat.old_path, stat.path
    # Common leading directories and common trailing components, as git's pprint_rename.
    prefix_len = 0
    for index in range(min(len(old), len(new))):
        if old[index] != new[index]:
            break
        if old[index] == "/":
            prefix_len = index + 1
    suffix_len = 0
    limit = min(len(old), len(new)) - prefix_len
    for index in range(1, limit + 1):
        if old[-index] != new[-index]:
            break
        if old[-index] == "/":
            suffix_len = index
    if not prefix_len and not suffix_len:
        return f"{old} => {new}"
    old_mid = old[prefix_len : len(old) - suffix_len]
    new_mid = new[prefix_len : len(new) - suffix_len]
    return f"{old[:prefix_len]}{{{old_mid} => {new_mid}}}{old[len(old) - suffix_len :]}"


def _printable(name: str) -> str:
    """A path fit for one line of a terminal: control characters and undecodable bytes
    shown as escapes, the way git quotes such names."""
    if name.isprintable():
        return name
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in raw)


def _scale(value: int, width: int, max_change: int) -> int:
    return 0 if not value else 1 + (value * (width - 1)) // max_change


def format_stat(stats: Iterable[FileStat], width: int = 80) -> str:
    """`git diff --stat` as plain text: one ` path | 12 ++++----` line per file, then the
    summary line; no trailing newline, and "" for no files. `width` is the line budget
    (git's default is 80)."""
    items = list(stats)
    if not items:
        return ""
    names = [_printable(display_name(stat)) for stat in items]
    max_change = max(stat.changes for stat in items)
    number_width = len(str(max_change))
    if any(stat.status == BINARY for stat in items):
        number_width = max(number_width, len("Bin"))
    name_width = max(len(name) for name in names)
    graph_width = max_change
    # git's layout rule: when it does not fit, the graph gets at most 3/8 of the width
    # (but at least 6 columns) and the names take what is left.
    width = max(width, 16 + 6 + number_width)
    if name_width + number_width + 6 + graph_width > width:
        graph_cap = max(width * 3 // 8 - number_width - 6, 6)
        graph_width = min(graph_width, graph_cap)
        room_for_names = width - number_width - 6 - graph_width
        if name_width > room_for_names:
            name_width = room_for_names
        else:
            graph_width = width - number_width - 6 - name_width

    lines = []
    for stat, name in zip(items, names, strict=True):
        if len(name) > name_width:
            tail = name[len(name) - (name_width - 3) :]
            slash = tail.find("/")
            name = "..." + (tail[slash:] if slash >= 0 else tail)
        if stat.status == BINARY:
            lines.append(f" {name:<{name_width}} | {'Bin':>{number_width}}")
            continue
        added, removed = stat.added, stat.removed
        if max_change > graph_width:
            total = _scale(added + removed, graph_width, max_change)
            if total < 2 and added and removed:
                total = 2
            if added < removed:
                added = _scale(added, graph_width, max_change)
                removed = total - added
            else:
                removed = _scale(removed, graph_width, max_change)
                added = total - removed
        graph = "+" * added + "-" * removed
        lines.append(f" {name:<{name_width}} | {stat.changes:>{number_width}} {graph}".rstrip())
    lines.append(summary_line(items))
    return "\n".join(lines)
