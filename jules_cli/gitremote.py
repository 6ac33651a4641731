"""`--repo .`: the GitHub repository of the git checkout in the current folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from jules_cli.errors import UsageError

# https://github.com/o/r(.git), ssh://git@github.com/o/r(.git), git@github.com:o/r(.git)
_REMOTE_PATTERNS = (
    re.compile(
        r"^(?:https?|git|ssh)://(?:[^@/]+@)?github\.com(?::\d+)?/([^/]+)/([^/]+?)(?:\.git)?/?$"
    ),
    re.compile(r"^(?:[^@/]+@)?github\.com:([^/]+)/([^/]+?)(?:\.git)?/?$"),
)


def parse_github_remote(url: str) -> str | None:
    """`owner/repo` of a GitHub remote URL in https or ssh form, else None."""
    text = url.strip()
    for pattern in _REMOTE_PATTERNS:
        match = pattern.match(text)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


# `scheme://userinfo@host...` and scp-like `userinfo@host:path`: the userinfo may hold a
# password or token (`https://user:ghp_...@github.com/o/r`), so it is never shown.
_URL_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_SCP_USERINFO = re.compile(r"^[^/:@]+(?::[^/@]*)?@(?=[^/:]+:)")


def without_userinfo(url: str) -> str:
    """`url` as it may be shown: without the user name and password part, if any."""
    text = url.strip()
    stripped = _URL_USERINFO.sub(r"\1", text, count=1)
    if stripped != text:
        return stripped
    return _SCP_USERINFO.sub("", text, count=1)


def _remote_url(name: str, cwd: Path | None) -> str | None:
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", name],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise UsageError("`--repo .` needs git, which is not installed") from exc
    return result.stdout.strip() if result.returncode == 0 else None


def current_repo(cwd: Path | None = None) -> str:
    """owner/repo from the `origin` remote, else `upstream`."""
    check = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise UsageError("`--repo .` needs a git checkout, and this folder is not one")
    seen = []
    for remote in ("origin", "upstream"):
        url = _remote_url(remote, cwd)
        if url is None:
            continue
        repo = parse_github_remote(url)
        if repo:
            return repo
        seen.append(f"{remote}={without_userinfo(url)}")
    detail = f" (found {', '.join(seen)})" if seen else ""
    raise UsageError(
        f"no GitHub remote named origin or upstream in this checkout{detail}",
        "give the repository explicitly with --repo owner/repo",
    )
