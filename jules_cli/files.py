"""Writing files so that a crash or Ctrl-C never leaves one half-written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(target: Path, content: bytes, *, private: bool = False) -> None:
    """Write via a temporary file in the same folder and a rename, so `target` is either
    absent, its old self, or complete. `private` files get mode 0600 from the moment they
    exist (keys); others follow the umask like any new file."""
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600 if private else 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
