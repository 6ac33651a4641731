"""Writing files so that a crash, Ctrl-C or SIGTERM never leaves one half-written.

Three kinds of writes, one rule each:

- `write_atomically`: a temporary file in the same folder, then a rename, so the target
  is its old self or complete, and no temporary file outlives an interruption.
- `write_output`: a file the user named with `-o`, written the way a shell redirect
  writes: a regular file (or a new one) is replaced atomically; a device, FIFO or
  symbolic link is written through and never replaced (`-o /dev/null` stays a device,
  `-o /dev/stdout` writes to stdout). An existing regular file is replaced only with
  `overwrite` (`--overwrite`), like `set -o noclobber`; a file that is already this
  command's stdout or stderr is not "existing" in that sense.
- `private_folder` / `write_atomically(private=True)`: what jules keeps for itself under
  the user's folders (config, caches, emulator state) is 0700 / 0600 from the start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path


def write_atomically(
    target: Path,
    content: bytes,
    *,
    private: bool = False,
    mode: int | None = None,
    redact: bool = True,
) -> None:
    """Write via a temporary file in the same folder and a rename, so `target` is either
    absent, its old self, or complete. `private` files get mode 0600 from the moment they
    exist (keys, caches); `mode` sets the final mode (an existing file's, kept); others
    follow the umask like any new file.

    Every file but config.toml (which holds the key on purpose: `redact=False`) is
    written with each piece of the API key redacted (see `redacted`)."""
    target = Path(target)
    if redact:
        content = redacted(content)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        # Inside the try, so an interrupt right after the file appears still removes it.
        descriptor = os.open(temporary, flags, 0o600 if private else 0o666)
    except FileExistsError:
        raise  # not ours: never removed
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None and not private:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def redacted(content: bytes) -> bytes:
    """`content` with each piece of the API key (8 characters or more) replaced by ***:
    a server that echoes the key back into a patch or an artifact must not get it saved.
    The file channel's one guard, as render/streams.py is stdout's and stderr's."""
    from jules_cli.errors import redact_bytes

    return redact_bytes(content)


def _own_stream(status: os.stat_result) -> bool:
    """`status` is the file this process has as stdout or stderr (`-o /dev/stdout`)."""
    for descriptor in (1, 2):
        try:
            own = os.fstat(descriptor)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (status.st_dev, status.st_ino):
            return True
    return False


def would_replace(target: Path) -> bool:
    """Writing `target` with `write_output` would replace an existing regular file's
    content (through a link too): what needs `--overwrite`."""
    try:
        status = os.stat(target)
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and not _own_stream(status)


def write_output(target: Path, content: bytes, *, overwrite: bool = False) -> None:
    """Write `content` to `target`, a path the user gave, as a shell redirect would (see
    the module's notes). FileExistsError for an existing regular file without
    `overwrite`; IsADirectoryError for a folder; other OSErrors as they come."""
    target = Path(target)
    content = redacted(content)
    try:
        status: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        status = None  # new, or a link to a file that is not there yet
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(target))
    if status is not None and not overwrite and would_replace(target):
        raise FileExistsError(17, "File exists", str(target))
    regular = status is None or stat.S_ISREG(status.st_mode)
    if not os.path.islink(target) and regular and not (status and _own_stream(status)):
        kept = stat.S_IMODE(status.st_mode) if status is not None else None
        write_atomically(target, content, mode=kept, redact=False)  # redacted above
        return
    # A device, FIFO or socket, a link, or our own stdout: written through, never
    # replaced. Truncated first only when it is a regular file (through the link).
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
    if regular:
        flags |= os.O_TRUNC
    descriptor = os.open(target, flags, 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()


# -- what jules keeps for itself -------------------------------------------------------------


def private_folder(folder: Path | str) -> Path:
    """`folder`, created 0700 if missing (each missing level: ~/.local/state may not exist
    yet either), so no file jules keeps there is ever readable by others on the way."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level, 0o700)
    if not folder.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(folder))
    return folder


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created 0600) across processes: fcntl on POSIX,
    msvcrt on Windows, and no lock where neither exists (a single process is then still
    consistent)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(descriptor, "r+b") as handle:
        try:
            import fcntl
        except ImportError:
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return
        try:
            import msvcrt
        except ImportError:
            yield
            return
        locked = False
        for _ in range(600):
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                locked = True
                break
            except OSError:
                time.sleep(0.05)
        try:
            yield
        finally:
            if locked:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
