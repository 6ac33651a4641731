"""Apply a session's patch to a local git checkout, all or nothing.

Everything that can refuse runs first and changes nothing: the folder is a git work
tree, git knows who commits (with `commit`), the tree is clean (unless `allow_dirty`),
HEAD is the patch's base commit (a warning, or a refusal with `strict`), the branch name
is new and valid, and `git apply --check` accepts the patch. Only then does anything
change, and a snapshot taken just before (the index file, and the bytes of every path the
patch touches) lets any later failure - a three-way merge with conflicts, a pre-commit
hook that says no, Ctrl-C - put the checkout back exactly as it was.

Dirty means: changes to tracked files (staged or not), and untracked files at paths the
patch touches. Other untracked files never matter, since applying cannot lose them.

git runs as a subprocess with an argument list, never through a shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jules_cli import signals
from jules_cli.artifacts import PatchInfo
from jules_cli.diffstat import MODIFIED, FileStat, diffstat
from jules_cli.errors import ExitCode, JulesError, UsageError

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_DIRTY_HINT = "commit or stash your changes first, or pass --allow-dirty"


class PatchApplyError(JulesError):
    """The patch was not applied; the checkout is as it was before."""

    exit_code = ExitCode.UNEXPECTED


@dataclass
class ApplyResult:
    """What `apply_patch` did. `branch` is the branch checked out afterwards (None when
    HEAD is detached); `created_branch` tells whether it is new; `commit_sha` is set
    when it committed."""

    files_changed: list[FileStat]
    branch: str | None
    created_branch: bool = False
    commit_sha: str | None = None
    warnings: list[str] = field(default_factory=list)


class _GitFailed(Exception):
    def __init__(self, args: list[str], completed: subprocess.CompletedProcess[bytes]) -> None:
        super().__init__(f"git {' '.join(args)} exited {completed.returncode}")
        self.message = git_message(completed.stderr) or git_message(completed.stdout)


def git_message(output: bytes) -> str:
    """The one line of git's output worth showing: its first error, else its first line."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        for prefix in ("error: ", "fatal: "):
            if line.startswith(prefix):
                return line[len(prefix) :]
    return lines[0] if lines else ""


def _git(
    root: Path, *args: str, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    command = ["git", *args]
    # No terminal prompts (credentials, editors): this runs from scripts and CI too.
    # No optional locks: `git status` and friends then never take `index.lock` just to
    # refresh stat data, so a query cannot leave one behind.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    section = signals.current()
    try:
        if section is not None:
            # Inside apply's transaction: a signal is passed on to git (and its hooks),
            # git ends cleanly, and the signal is raised here, for the rollback.
            completed = section.run(
                command, input=stdin if stdin is not None else b"", cwd=root, env=env
            )
            section.check()
        else:
            completed = subprocess.run(
                command,
                cwd=root,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                env=env,
            )
    except FileNotFoundError:
        # Like `--repo .` without git: the user's setup, caught before any change (exit 2).
        raise UsageError(
            "`session apply` needs git, which is not installed (or not on PATH)",
            "install git, or save the patch with `jules session diff ID -o FILE`",
        ) from None
    if check and completed.returncode != 0:
        raise _GitFailed(list(args), completed)
    return completed


def _output(root: Path, *args: str) -> str | None:
    """Stripped stdout of a git query, or None when it fails."""
    completed = _git(root, *args, check=False)
    if completed.returncode != 0:
        return None
    return os.fsdecode(completed.stdout).strip()


def worktree_root(folder: Path) -> Path:
    """The top folder of the git work tree containing `folder`; UsageError otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"not a folder: {folder}")
    completed = _git(folder, "rev-parse", "--is-inside-work-tree", "--show-toplevel", check=False)
    lines = os.fsdecode(completed.stdout).splitlines()
    if completed.returncode != 0 or not lines or lines[0] != "true" or len(lines) < 2:
        detail = git_message(completed.stderr)
        raise UsageError(
            f"not a git checkout: {folder.resolve()}" + (f" ({detail})" if detail else ""),
            "run it inside a clone of the session's repository",
        )
    return Path(lines[1])


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def _session_id(session: dict[str, Any]) -> str:
    value = session.get("id") or str(session.get("name") or "").removeprefix("sessions/")
    return re.sub(r"[^A-Za-z0-9_-]", "", str(value))[:32].strip("-_")


def default_branch_name(session: dict[str, Any]) -> str:
    """`jules/<slug of the title>-<session id>`, using only characters every git ref
    accepts (letters, digits, `-`, `_`)."""
    title = session.get("title")
    parts = [_slug(title, 40) if isinstance(title, str) else "", _session_id(session)]
    return "jules/" + ("-".join(part for part in parts if part) or "session")


def commit_message_for(patch: PatchInfo, session: dict[str, Any]) -> str:
    """The patch's suggested commit message, else one made from the session's title."""
    if patch.suggested_commit_message and patch.suggested_commit_message.strip():
        return patch.suggested_commit_message
    title = session.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    session_id = _session_id(session)
    return f"Apply changes from Jules session {session_id}" if session_id else _FALLBACK_MESSAGE


_FALLBACK_MESSAGE = "Apply changes from Jules"


@dataclass
class _Snapshot:
    """The state a transaction may change: HEAD, the index file, the touched paths."""

    root: Path
    head: str | None
    head_ref: str | None  # e.g. refs/heads/main; None when detached
    index_path: Path
    index_bytes: bytes | None
    lock_existed: bool
    files: dict[str, tuple[Any, ...]]
    missing_dirs: list[Path]

    @classmethod
    def take(cls, root: Path, paths: set[str]) -> _Snapshot:
        head = _output(root, "rev-parse", "--verify", "-q", "HEAD") or None
        head_ref = _output(root, "symbolic-ref", "-q", "HEAD") or None
        index_path = root / (_output(root, "rev-parse", "--git-path", "index") or ".git/index")
        index_bytes = index_path.read_bytes() if index_path.exists() else None
        lock_existed = _lock_path(index_path).exists()
        files: dict[str, tuple[Any, ...]] = {}
        missing_dirs: set[Path] = set()
        for relative in paths:
            full = root / relative
            if full.is_symlink():
                files[relative] = ("link", os.readlink(full))
            elif full.is_file():
                files[relative] = ("file", full.read_bytes(), full.stat().st_mode & 0o7777)
            elif full.exists():
                files[relative] = ("other",)
            else:
                files[relative] = ("absent",)
                parent = full.parent
                while parent != root and not parent.exists():
                    missing_dirs.add(parent)
                    parent = parent.parent
        deepest_first = sorted(missing_dirs, key=lambda path: len(path.parts), reverse=True)
        return cls(
            root, head, head_ref, index_path, index_bytes, lock_existed, files, deepest_first
        )

    def restore(
        self, new_branch: str | None, stale_lock: bool, moved_refs: dict[str, str] | None = None
    ) -> list[str]:
        """Put everything back; returns what could not be restored (empty when all was).
        `new_branch` is deleted if it exists (the transaction was to create it);
        `stale_lock`: a git child was killed outright, so an `index.lock` that was not
        there before is its, and goes; `moved_refs` (ref -> commit) are set back."""
        problems: list[str] = []

        def attempt(what: str, action: Any) -> None:
            try:
                action()
            except (OSError, _GitFailed) as error:
                problems.append(f"{what}: {getattr(error, 'message', None) or error}")

        lock = _lock_path(self.index_path)
        if stale_lock and not self.lock_existed and lock.exists():
            attempt("index.lock", lock.unlink)
        attempt("HEAD", lambda: self._restore_head(new_branch))
        for ref, sha in (moved_refs or {}).items():
            attempt(ref, lambda ref=ref, sha=sha: _git(self.root, "update-ref", ref, sha))
        attempt("index", self._restore_index)
        for relative, state in self.files.items():
            attempt(
                relative, lambda relative=relative, state=state: self._restore_file(relative, state)
            )
        for directory in self.missing_dirs:
            if directory.is_dir() and not any(directory.iterdir()):
                attempt(str(directory), directory.rmdir)
        # The restored files have new timestamps; refresh so `git status` is quiet at once.
        _git(self.root, "update-index", "-q", "--refresh", check=False)
        return problems

    def _restore_head(self, new_branch: str | None) -> None:
        # First HEAD itself (a checkout of a new branch moved it), then the branch it
        # names (a commit moved that), then the new branch goes.
        current_ref = _output(self.root, "symbolic-ref", "-q", "HEAD") or None
        if self.head_ref and current_ref != self.head_ref:
            _git(self.root, "symbolic-ref", "HEAD", self.head_ref)
        elif not self.head_ref and (current_ref or _head(self.root) != self.head) and self.head:
            _git(self.root, "update-ref", "--no-deref", "HEAD", self.head)
        if _head(self.root) != self.head:
            if self.head:
                _git(self.root, "update-ref", "-m", "jules: roll back", "HEAD", self.head)
            else:
                _git(self.root, "update-ref", "-d", "HEAD")
        if new_branch and _branch_exists(self.root, new_branch):
            _git(self.root, "branch", "-D", new_branch)

    def _restore_index(self) -> None:
        if self.index_bytes is None:
            self.index_path.unlink(missing_ok=True)
        else:
            _replace_file(self.index_path, self.index_bytes, None)

    def _restore_file(self, relative: str, state: tuple[Any, ...]) -> None:
        full = self.root / relative
        kind = state[0]
        if kind == "other":
            return
        if full.is_symlink() or full.is_file():
            full.unlink()
        if kind == "file":
            full.parent.mkdir(parents=True, exist_ok=True)
            _replace_file(full, state[1], state[2])
        elif kind == "link":
            full.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(state[1], full)


def _lock_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".lock")


def _head(root: Path) -> str | None:
    return _output(root, "rev-parse", "--verify", "-q", "HEAD") or None


def _branch_exists(root: Path, branch: str) -> bool:
    found = _git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return found.returncode == 0


class Transaction:
    """What `transaction()` yields. Set `step` to say what is being done (it names the
    step in the error when a rollback is incomplete)."""

    def __init__(self, snapshot: _Snapshot, new_branch: str | None) -> None:
        self.snapshot = snapshot
        self.new_branch = new_branch
        self.step = "changing the checkout"
        # Other branches the block moves (ref -> the commit it held): a rollback puts them
        # back too (HEAD's own branch is restored with HEAD).
        self.moved_refs: dict[str, str] = {}


@contextlib.contextmanager
def transaction(
    root: Path, paths: set[str], *, new_branch: str | None = None
) -> Iterator[Transaction]:
    """Changes to the checkout at `root` that happen all together or not at all.

    Snapshots HEAD (and the branch it names), the index file and the bytes of `paths`
    (relative to `root`); if the block raises anything - a git failure, Ctrl-C, SIGTERM,
    SIGHUP - all of it is put back, `new_branch` (which the block may create) is
    deleted, and the exception goes on. SIGINT, SIGTERM and SIGHUP are held for the
    whole block (see jules_cli.signals): git is passed the signal and ends cleanly, so
    no git step is cut off half-way, and the rollback itself cannot be interrupted.
    A rollback that cannot finish raises PatchApplyError naming the step and the first
    thing left over. Also for `session checkout` and `apply --worktree`.
    """
    with signals.held() as section:
        snapshot = _Snapshot.take(root, paths)
        tx = Transaction(snapshot, new_branch)
        try:
            section.check()
            yield tx
            section.check()  # a signal held during the last step still undoes it all
        except BaseException as error:
            with section.finishing():
                problems = snapshot.restore(new_branch, section.child_killed, tx.moved_refs)
            if problems:
                raise PatchApplyError(
                    f"{tx.step} failed and the checkout could not be fully restored: {problems[0]}",
                    "check `git status` and restore the rest by hand",
                ) from error
            raise


def _replace_file(target: Path, content: bytes, mode: int | None) -> None:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        temporary.write_bytes(content)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _status_entries(root: Path) -> list[tuple[str, str]]:
    """(XY code, path) from `git status --porcelain -z`, untracked files listed singly."""
    completed = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    fields = os.fsdecode(completed.stdout).split("\0")
    entries = []
    i = 0
    while i < len(fields):
        item = fields[i]
        i += 1
        if len(item) < 4:
            continue
        code, path = item[:2], item[3:]
        entries.append((code, path))
        if code[0] in "RC":
            i += 1  # a rename's or copy's source path follows
    return entries


def _numstat(root: Path, patch_bytes: bytes) -> list[FileStat]:
    """git's own reading of the patch (`git apply --numstat`); PatchApplyError when git
    cannot parse it. Statuses are not in numstat: every entry says "modified"."""
    try:
        completed = _git(root, "apply", "--numstat", "-z", stdin=patch_bytes)
    except _GitFailed as failure:
        raise PatchApplyError(
            f"not a valid patch: {failure.message}", "see it with `jules session diff ID`"
        ) from None
    stats = []
    for record in os.fsdecode(completed.stdout).split("\0"):
        parts = record.split("\t", 2)
        if len(parts) == 3 and parts[2]:
            added, removed = (int(value) if value.isdigit() else 0 for value in parts[:2])
            stats.append(FileStat(parts[2], added, removed, MODIFIED))
    return stats


def _touched_paths(ours: list[FileStat], gits: list[FileStat]) -> set[str]:
    """Every path the patch reads or writes: git's reading of the patch, plus ours, which
    also knows a rename's old path (git's --numstat shows only the new one)."""
    paths = {stat.path for stat in [*ours, *gits]} | {s.old_path for s in ours if s.old_path}
    for path in paths:
        # Lexical, not resolve(): a tracked symlink may rightly point outside the checkout.
        if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
            raise PatchApplyError(f"the patch writes outside the repository: {path}")
    return paths


def _check_clean(root: Path, touched: set[str], allow_dirty: bool, commit: bool) -> None:
    entries = _status_entries(root)
    if commit and allow_dirty:
        staged = [path for code, path in entries if code[0] not in " ?!"]
        if staged:
            raise PatchApplyError(
                f"there are staged changes ({_examples(staged)}); committing would include them",
                "commit or unstage them first (git restore --staged PATH)",
            )
    if allow_dirty:
        return
    dirty = [path for code, path in entries if code != "??" or path in touched]
    if dirty:
        raise PatchApplyError(
            f"the working tree has uncommitted changes ({_examples(dirty)})", _DIRTY_HINT
        )


def _examples(paths: list[str]) -> str:
    shown = ", ".join(paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _short(sha: str) -> str:
    # Also shown when it is not hex: keep API text printable and short.
    return re.sub(r"[^0-9A-Za-z_.-]", "?", sha[:10])


def _check_base(root: Path, head: str | None, base: str | None, strict: bool) -> list[str]:
    if not base:
        if strict:
            raise PatchApplyError(
                "the patch names no base commit, so --strict cannot confirm HEAD is it",
                "apply without --strict",
            )
        return ["the patch names no base commit; applying it to HEAD"]
    wanted = base.strip().lower()
    if head and _HEX.match(wanted) and head.startswith(wanted):
        return []
    # Only hex goes to rev-parse: API text must never be read as an option or revision syntax.
    known = _HEX.match(wanted) is not None and (
        _output(root, "rev-parse", "--verify", "-q", f"{wanted}^{{commit}}") is not None
    )
    where = f"HEAD is {_short(head)}" if head else "this repository has no commits"
    detail = f"{where}, but the patch was made on {_short(wanted)}"
    if not known:
        detail += ", which this checkout does not have"
    if strict:
        hint = (
            f"check out {_short(wanted)} first, or apply without --strict"
            if known
            else "git fetch the branch the session worked on, or apply without --strict"
        )
        raise PatchApplyError(detail, hint)
    return [detail + "; applying anyway"]


def _check_new_branch(root: Path, branch: str, head: str | None) -> None:
    valid = _git(root, "check-ref-format", "--branch", branch, check=False).returncode == 0
    if branch.startswith("-") or not valid:
        raise UsageError(f"not a valid branch name: {branch!r}", "choose another with --branch")
    exists = _git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    if exists.returncode == 0:
        raise UsageError(
            f"branch {branch} already exists",
            f"choose another name with --branch NAME, or delete it (git branch -D {branch})",
        )
    if head is None:
        raise PatchApplyError(
            "cannot create a branch: this repository has no commits yet",
            "commit something first, or apply without --branch",
        )


# What git leaves in the git folder while an operation waits for the user to finish it.
_IN_PROGRESS = (
    ("MERGE_HEAD", "a merge", "git merge --continue` or `git merge --abort"),
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply", "a rebase or `git am`", "git rebase --abort` or `git am --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue` or `--abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
    ("BISECT_LOG", "a bisect", "git bisect reset"),
)


def check_no_operation_in_progress(root: Path) -> None:
    """UsageError (exit 2) while a merge, rebase, cherry-pick, revert or bisect is in
    progress in the checkout at `root`: applying then would mix the patch into it (and a
    commit would become a merge commit)."""
    args = [arg for marker, _, _ in _IN_PROGRESS for arg in ("--git-path", marker)]
    found = _git(root, "rev-parse", *args, check=False)
    paths = os.fsdecode(found.stdout).splitlines()
    for (_, what, finish), path in zip(_IN_PROGRESS, paths, strict=False):
        if (root / path).exists():
            raise UsageError(
                f"{what} is in progress in this checkout", f"finish it first (`{finish}`)"
            )


def _require_identity(root: Path) -> None:
    for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        if _git(root, "var", variable, check=False).returncode != 0:
            raise PatchApplyError(
                "git does not know who you are, so it cannot commit",
                'run git config --global user.name "Your Name" and '
                "git config --global user.email you@example.com",
            )


def apply_patch(
    patch: PatchInfo,
    repo_dir: Path,
    *,
    allow_dirty: bool = False,
    strict: bool = False,
    three_way: bool = False,
    branch: str | None = None,
    commit: bool = False,
    commit_message: str | None = None,
) -> ApplyResult:
    """Apply `patch` to the git checkout containing `repo_dir`, or change nothing.

    Without `commit` the patch lands in the working tree only, like `git apply` (with
    `three_way`, also in the index, as `git apply --3way` does). With `commit` it is
    applied to the index too, so new files are included, and committed with
    `commit_message`, else the patch's suggested message. A three-way apply that leaves
    conflicts is rolled back. Raises UsageError (not a checkout, bad or existing branch
    name) or PatchApplyError (refused or failed; the checkout is unchanged).
    """
    if not patch.unidiff.strip():
        raise PatchApplyError("the patch is empty; there is nothing to apply")
    root = worktree_root(Path(repo_dir))
    patch_text = patch.unidiff if patch.unidiff.endswith("\n") else patch.unidiff + "\n"
    patch_bytes = patch_text.encode("utf-8", "surrogateescape")
    # Signals are held from here on: a git query cut off by Ctrl-C could leave a lock.
    with signals.held():
        return _apply(
            patch, patch_bytes, root, allow_dirty, strict, three_way, branch, commit, commit_message
        )


def _apply(
    patch: PatchInfo,
    patch_bytes: bytes,
    root: Path,
    allow_dirty: bool,
    strict: bool,
    three_way: bool,
    branch: str | None,
    commit: bool,
    commit_message: str | None,
) -> ApplyResult:
    check_no_operation_in_progress(root)
    head = _head(root)
    if commit:
        _require_identity(root)
    stats = diffstat(patch.unidiff)
    git_stats = _numstat(root, patch_bytes)
    touched = _touched_paths(stats, git_stats)
    _check_clean(root, touched, allow_dirty, commit)
    warnings = _check_base(root, head, patch.base_commit_id, strict)
    if branch is not None:
        _check_new_branch(root, branch, head)

    apply_args = ["apply", "--whitespace=nowarn"]
    if three_way:
        apply_args.append("--3way")  # implies --index
    elif commit:
        apply_args.append("--index")
    try:
        _git(root, *apply_args, "--check", stdin=patch_bytes)
    except _GitFailed as failure:
        hint = (
            "the checkout differs from what the session worked on; "
            + ("update it" if three_way else "try --3way, or update it")
            + " (`jules session diff ID` shows the patch)"
        )
        raise PatchApplyError(f"the patch does not apply: {failure.message}", hint) from None

    commit_sha = None
    try:
        with transaction(root, touched, new_branch=branch) as tx:
            if branch is not None:
                tx.step = "creating the branch"
                _git(root, "checkout", "-q", "-b", branch)
            tx.step = "applying the patch"
            applied = _git(root, *apply_args, stdin=patch_bytes, check=False)
            if applied.returncode != 0:
                conflicts = _output(root, "diff", "--name-only", "--diff-filter=U") or ""
                if conflicts:
                    raise PatchApplyError(
                        "the three-way apply left conflicts in "
                        f"{_examples(conflicts.splitlines())}",
                        "nothing was changed; to resolve them by hand run "
                        "`jules session diff ID | git apply --3way`",
                    )
                raise _GitFailed(apply_args, applied)
            if commit:
                tx.step = "committing"
                message = commit_message or patch.suggested_commit_message or _FALLBACK_MESSAGE
                _git(
                    root, "commit", "-q", "--cleanup=whitespace", "-F", "-", stdin=message.encode()
                )
                commit_sha = _output(root, "rev-parse", "HEAD")
            current_branch = _output(root, "symbolic-ref", "-q", "--short", "HEAD") or None
    except _GitFailed as error:
        hint = (
            "fix what the commit hooks report, then retry"
            if tx.step == "committing"
            else "`jules session diff ID | git apply --check -v` shows the details"
        )
        raise PatchApplyError(
            f"{tx.step} failed, nothing was changed: {error.message}", hint
        ) from None

    return ApplyResult(
        files_changed=stats or git_stats,
        branch=current_branch,
        created_branch=branch is not None,
        commit_sha=commit_sha,
        warnings=warnings,
    )


# -- session checkout / apply --worktree ----------------------------------------------------------
#
# Both put a session's work on a new branch: `checkout` in this checkout (the pull request's
# head when there is one, else the patch on the base commit), `apply --worktree` in a new
# git worktree. They use the guards above, and the same snapshot-and-restore, so a failure
# or Ctrl-C part-way leaves everything as it was.

_PULL_URL = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/pull/(\d+)(?:[/?#].*)?$")


@dataclass(frozen=True)
class PullRequestRef:
    """A session's pull request: GitHub's owner/repo and number, and its head branch."""

    repo: str
    number: int
    head_ref: str | None
    url: str


def pull_request_of(session: dict[str, Any]) -> PullRequestRef | None:
    """The session's (first) GitHub pull request, or None."""
    for output in session.get("outputs") or []:
        pull = output.get("pullRequest") if isinstance(output, dict) else None
        if not isinstance(pull, dict):
            continue
        match = _PULL_URL.match(str(pull.get("url") or ""))
        if match:
            head = pull.get("headRef")
            return PullRequestRef(
                f"{match[1]}/{match[2]}",
                int(match[3]),
                head if isinstance(head, str) and head else None,
                match[0],
            )
    return None


def session_repo(session: dict[str, Any]) -> str | None:
    """owner/repo of the session's GitHub source, or None (repoless)."""
    source = str((session.get("sourceContext") or {}).get("source") or "")
    parts = source.split("/")
    if len(parts) == 4 and parts[0] == "sources" and parts[1] == "github":
        return f"{parts[2]}/{parts[3]}"
    return None


def remote_for(root: Path, repo: str | None) -> str | None:
    """The name of this checkout's remote for GitHub's owner/repo (`origin` first), or
    None. The URL is read as configured: `url.<base>.insteadOf` rewrites only where git
    fetches from, not which repository a remote stands for."""
    from jules_cli.gitremote import parse_github_remote

    if not repo:
        return None
    listed = _output(root, "config", "--get-regexp", r"^remote\..*\.url$") or ""
    matches = []
    for line in listed.splitlines():
        key, _, url = line.partition(" ")
        name = key[len("remote.") : -len(".url")]
        found = parse_github_remote(url)
        if found and found.lower() == repo.lower():
            matches.append(name)
    for preferred in ("origin", "upstream"):
        if preferred in matches:
            return preferred
    return matches[0] if matches else None


def _need_remote(root: Path, repo: str | None, why: str) -> str:
    remote = remote_for(root, repo)
    if remote is None:
        where = f"github.com/{repo}" if repo else "the session's repository"
        raise UsageError(
            f"no remote of this checkout points at {where}, so {why}",
            f"add one: git remote add upstream https://github.com/{repo or 'OWNER/REPO'}",
        )
    return remote


def _is_ancestor(root: Path, older: str, newer: str) -> bool:
    return _git(root, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def _has_commit(root: Path, sha: str) -> bool:
    return _output(root, "rev-parse", "--verify", "-q", f"{sha}^{{commit}}") is not None


def _fetch(root: Path, remote: str, refspec: str) -> str | None:
    """Fetch one ref or commit; git's one-line reason when it fails, else None."""
    completed = _git(root, "fetch", "--no-tags", "-q", remote, refspec, check=False)
    if completed.returncode == 0:
        return None
    return git_message(completed.stderr) or f"git fetch exited {completed.returncode}"


def ensure_base(
    root: Path, base: str, *, repo: str | None, branch: str | None
) -> str:
    """The full id of the patch's base commit, fetched from the session's remote when this
    checkout lacks it (by id, else with the session's starting branch)."""
    wanted = base.strip().lower()
    if not _HEX.match(wanted):
        raise PatchApplyError(f"the patch's base commit {_short(base)!r} is not a commit id")
    if not _has_commit(root, wanted):
        remote = _need_remote(root, repo, f"its base commit {_short(wanted)} cannot be fetched")
        reason = _fetch(root, remote, wanted)
        if reason is not None and branch and not _has_commit(root, wanted):
            reason = _fetch(root, remote, f"refs/heads/{branch}") or reason
        if not _has_commit(root, wanted):
            raise PatchApplyError(
                f"the patch's base commit {_short(wanted)} is not in this checkout, and "
                f"fetching it from {remote} failed" + (f": {reason}" if reason else ""),
                "git fetch the branch the session worked on, then retry",
            )
    return _output(root, "rev-parse", "--verify", "-q", f"{wanted}^{{commit}}") or wanted


def _changed_between(root: Path, old: str | None, new: str) -> set[str]:
    """The paths that differ between two commits (what a checkout from one to the other
    rewrites): the snapshot must hold them to undo it."""
    if old is None:
        listed = _output(root, "ls-tree", "-r", "--name-only", "-z", new) or ""
    else:
        listed = _output(root, "diff", "--name-only", "--no-renames", "-z", old, new) or ""
    return {path for path in listed.split("\0") if path}


@dataclass
class CheckoutResult:
    """What `checkout_pull_request` / `checkout_patch` / `apply_in_worktree` did."""

    branch: str
    commit_sha: str
    pull_request: PullRequestRef | None = None
    remote: str | None = None
    worktree: Path | None = None
    reused_branch: bool = False
    updated_from: str | None = None  # an existing branch fast-forwarded from this commit
    files_changed: list[FileStat] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_checkout_target(root: Path, branch: str) -> None:
    """The guards a checkout shares with apply, before any request: not mid-merge/rebase,
    a valid branch name."""
    check_no_operation_in_progress(root)
    valid = _git(root, "check-ref-format", "--branch", branch, check=False).returncode == 0
    if branch.startswith("-") or not valid:
        raise UsageError(f"not a valid branch name: {branch!r}", "choose another with --branch")


def _switch_all_or_nothing(
    root: Path, target: str, branch: str, extra_paths: set[str], then: Any = None
) -> None:
    """Create `branch` at commit `target` and check it out, then run `then(tx)` (apply and
    commit), in one transaction(): any failure or signal puts HEAD, the index and every
    file the switch or `then` touches back, and deletes the branch."""
    touched = _changed_between(root, _head(root), target) | extra_paths
    steps = [f"checking out {branch}"]
    try:
        with transaction(root, touched, new_branch=branch) as tx:
            tx.step = steps[0]
            _git(root, "checkout", "-q", "-b", branch, target)
            if then is not None:
                then(tx)
    except _GitFailed as error:
        step = tx.step
        hint = "fix what the commit hooks report, then retry" if step == "committing" else None
        raise PatchApplyError(
            f"{step} failed, nothing was changed: {error.message}", hint
        ) from None


def checkout_pull_request(
    root: Path, pull: PullRequestRef, branch: str, *, session_repo_name: str | None = None
) -> CheckoutResult:
    """Fetch the pull request's head (`refs/pull/N/head`) from this checkout's remote for
    its repository into the new local branch `branch`, and check it out (like `gh pr
    checkout`). A `branch` that exists already is checked out only if it holds exactly
    that head (running the command twice is fine); otherwise it is refused."""
    check_no_operation_in_progress(root)
    remote = _need_remote(
        root, pull.repo or session_repo_name, f"pull request #{pull.number} cannot be fetched"
    )
    reason = _fetch(root, remote, f"refs/pull/{pull.number}/head")
    if reason is not None:
        raise PatchApplyError(
            f"fetching pull request #{pull.number} from {remote} failed: {reason}",
            f"check the remote ({remote}) and your access to it, then retry",
        )
    target = _output(root, "rev-parse", "--verify", "-q", "FETCH_HEAD^{commit}")
    if not target:
        raise PatchApplyError(f"fetching pull request #{pull.number} brought no commit")
    existing = _output(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")
    head = _output(root, "rev-parse", "--verify", "-q", "HEAD") or None
    # The paths a switch rewrites; for an existing branch also those on the way to it.
    touched = _changed_between(root, head, target)
    if existing is not None and existing != target:
        if not _is_ancestor(root, existing, target):
            raise UsageError(
                f"branch {branch} already exists and has commits that are not in pull "
                f"request #{pull.number}'s head",
                f"choose another name with --branch NAME, or delete it (git branch -D {branch})",
            )
        touched |= _changed_between(root, head, existing)
    _check_clean(root, touched, allow_dirty=False, commit=False)
    result = CheckoutResult(branch, target, pull, remote)
    if existing is not None:
        # As `gh pr checkout` does: switch to it, and bring it up to the pull request's
        # head when Jules pushed more since (a fast-forward only; local commits refuse).
        current = _output(root, "symbolic-ref", "-q", "--short", "HEAD")
        if current != branch or existing != target:
            tx = None
            try:
                with transaction(root, touched) as tx:
                    if current != branch:
                        tx.step = f"checking out {branch}"
                        _git(root, "checkout", "-q", branch)
                    if existing != target:
                        tx.moved_refs[f"refs/heads/{branch}"] = existing
                        tx.step = f"updating {branch} to pull request #{pull.number}'s head"
                        _git(root, "merge", "-q", "--ff-only", target)
            except _GitFailed as failure:
                step = tx.step if tx is not None else f"checking out {branch}"
                raise PatchApplyError(
                    f"{step} failed, nothing was changed: {failure.message}"
                ) from None
        result.reused_branch = True
        result.updated_from = existing if existing != target else None
        return result

    def track(tx: Transaction) -> None:
        # `git pull` on the branch then brings the pull request's new commits, as gh does.
        tx.step = "setting the branch's upstream"
        _git(root, "config", f"branch.{branch}.remote", remote)
        _git(root, "config", f"branch.{branch}.merge", f"refs/pull/{pull.number}/head")

    _switch_all_or_nothing(root, target, branch, set(), track)
    return result


def checkout_patch(
    patch: PatchInfo,
    root: Path,
    branch: str,
    message: str,
    *,
    repo: str | None,
    starting_branch: str | None,
) -> CheckoutResult:
    """A new branch at the patch's base commit (fetched when missing), the patch applied
    and committed with `message`, checked out; all or nothing. Without a base commit the
    branch starts at HEAD (with a warning)."""
    if not patch.unidiff.strip():
        raise PatchApplyError("the patch is empty; there is nothing to check out")
    check_no_operation_in_progress(root)
    target, warnings = _new_branch_base(root, patch, branch, repo, starting_branch, "branch")
    head = _output(root, "rev-parse", "--verify", "-q", "HEAD") or None
    stats = diffstat(patch.unidiff)
    patch_bytes = _patch_bytes(patch)
    git_stats = _numstat(root, patch_bytes)
    patch_paths = _touched_paths(stats, git_stats)
    moved = _changed_between(root, head, target)
    _check_clean(root, moved | patch_paths, allow_dirty=False, commit=True)
    _check_applies_at(root, target, patch_bytes)
    done: dict[str, str] = {}

    def apply_and_commit(tx: Transaction) -> None:
        tx.step = "applying the patch"
        _git(root, "apply", "--whitespace=nowarn", "--index", stdin=patch_bytes)
        tx.step = "committing"
        _git(root, "commit", "-q", "--cleanup=whitespace", "-F", "-", stdin=message.encode())
        done["sha"] = _output(root, "rev-parse", "HEAD") or ""

    _switch_all_or_nothing(root, target, branch, patch_paths, apply_and_commit)
    return CheckoutResult(
        branch, done["sha"], files_changed=stats or git_stats, warnings=warnings
    )


def _new_branch_base(
    root: Path,
    patch: PatchInfo,
    branch: str,
    repo: str | None,
    starting_branch: str | None,
    what: str,
) -> tuple[str, list[str]]:
    """Where a new branch for `patch` starts (checkout and --worktree alike): its base
    commit, fetched when missing, else HEAD with a warning; after the checks that a commit
    can be made and that `branch` is a new name."""
    _require_identity(root)
    _check_new_branch(root, branch, _output(root, "rev-parse", "--verify", "-q", "HEAD"))
    if patch.base_commit_id:
        return ensure_base(root, patch.base_commit_id, repo=repo, branch=starting_branch), []
    head = _output(root, "rev-parse", "--verify", "-q", "HEAD") or ""
    return head, [f"the patch names no base commit; the {what} starts at HEAD"]


def _patch_bytes(patch: PatchInfo) -> bytes:
    text = patch.unidiff if patch.unidiff.endswith("\n") else patch.unidiff + "\n"
    return text.encode("utf-8", "surrogateescape")


def _check_applies_at(root: Path, commit: str, patch_bytes: bytes) -> None:
    """`git apply --check` against the tree of `commit`, in a throw-away index: the
    refusal comes before anything changes, whatever is checked out now."""
    name = f"jules-check-index-{secrets.token_hex(4)}"
    index = root / (_output(root, "rev-parse", "--git-path", name) or f".git/{name}")
    env_index = {"GIT_INDEX_FILE": str(index)}
    try:
        _git_env(root, env_index, "read-tree", commit)
        completed = _git_env(
            root, env_index, "apply", "--cached", "--check", "--whitespace=nowarn",
            stdin=patch_bytes, check=False,
        )
        if completed.returncode != 0:
            detail = git_message(completed.stderr)
            raise PatchApplyError(
                f"the patch does not apply to its base commit {_short(commit)}: {detail}",
                "`jules session diff ID` shows the patch",
            )
    finally:
        index.unlink(missing_ok=True)


def _git_env(
    root: Path, extra: dict[str, str], *args: str, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **extra}
    command, data = ["git", *args], stdin or b""
    section = signals.current()
    if section is not None:  # as in _git: a held signal is passed on, git ends cleanly
        completed = section.run(command, input=data, cwd=root, env=env)
        section.check()
    else:
        completed = subprocess.run(command, cwd=root, input=data, capture_output=True, env=env)
    if check and completed.returncode != 0:
        raise _GitFailed(list(args), completed)
    return completed


def check_worktree_dir(directory: Path) -> None:
    """`apply --worktree DIR`: DIR must not exist, or be an empty folder (exit 2)."""
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise UsageError(f"{directory} exists and is not a folder", "choose a new path")
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} exists and is not empty", "choose a new path for the worktree"
        )


def apply_in_worktree(
    patch: PatchInfo,
    root: Path,
    directory: Path,
    branch: str,
    message: str,
    *,
    repo: str | None,
    starting_branch: str | None,
) -> CheckoutResult:
    """A new git worktree at `directory` on the new branch `branch` from the patch's base
    commit (fetched when missing), the patch applied and committed there with `message`.
    The current checkout's files, index and HEAD are not touched. On any failure or
    interrupt the worktree and the branch are removed again."""
    if not patch.unidiff.strip():
        raise PatchApplyError("the patch is empty; there is nothing to apply")
    check_worktree_dir(directory)
    target, warnings = _new_branch_base(root, patch, branch, repo, starting_branch, "worktree")
    patch_bytes = _patch_bytes(patch)
    stats = diffstat(patch.unidiff)
    git_stats = _numstat(root, patch_bytes)
    _touched_paths(stats, git_stats)
    _check_applies_at(root, target, patch_bytes)
    existed = directory.is_dir()
    added = False
    step = "creating the worktree"
    # Signals held throughout (jules_cli.signals): git steps end cleanly, and any failure
    # or signal removes the worktree and the branch again, uninterrupted.
    with signals.held() as section:
        try:
            section.check()
            _git(root, "worktree", "add", "-q", "-b", branch, str(directory.resolve()), target)
            added = True
            step = "applying the patch"
            place = directory.resolve()
            _git(place, "apply", "--whitespace=nowarn", "--index", stdin=patch_bytes)
            step = "committing"
            _git(place, "commit", "-q", "--cleanup=whitespace", "-F", "-", stdin=message.encode())
            sha = _output(place, "rev-parse", "HEAD") or ""
            section.check()
        except BaseException as error:
            with section.finishing():
                problems = _remove_worktree(root, directory, branch, added, existed)
            _report_worktree_failure(step, error, problems)
            raise
    return CheckoutResult(
        branch, sha, worktree=directory, files_changed=stats or git_stats, warnings=warnings
    )


def _report_worktree_failure(step: str, error: BaseException, problems: list[str]) -> None:
    """Raise the error a failed `apply --worktree` reports; a signal or another error is
    re-raised by the caller."""
    if problems:
        raise PatchApplyError(
            f"{step} failed and the worktree could not be fully removed: {problems[0]}",
            "remove it by hand: git worktree remove --force DIR; git branch -D BRANCH",
        ) from error
    if isinstance(error, _GitFailed):
        hint = "fix what the commit hooks report, then retry" if step == "committing" else None
        raise PatchApplyError(
            f"{step} failed, nothing was changed: {error.message}", hint
        ) from None


def _remove_worktree(
    root: Path, directory: Path, branch: str, added: bool, existed: bool
) -> list[str]:
    import shutil

    problems: list[str] = []
    if added:
        place = str(directory.resolve())
        removed = _git(root, "worktree", "remove", "--force", place, check=False)
        if removed.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            _git(root, "worktree", "prune", check=False)
    elif directory.exists() and not existed:
        shutil.rmtree(directory, ignore_errors=True)
    if existed and not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)  # it was an empty folder
    if _output(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}") is not None:
        deleted = _git(root, "branch", "-D", branch, check=False)
        if deleted.returncode != 0:
            problems.append(f"branch {branch}: {git_message(deleted.stderr)}")
    if directory.exists() and existed and any(directory.iterdir()):
        problems.append(f"{directory} is not empty")
    return problems
