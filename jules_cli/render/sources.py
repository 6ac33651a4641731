"""Sources (connected repositories) for people."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jules_cli.render.output import Column, Output
from jules_cli.sources import branch_names, default_branch, repo_label

# NAME (sources/github/OWNER/REPO) only repeats REPO: pipes keep it for scripts, a
# terminal leaves it out (every command takes OWNER/REPO; `sources show` prints the name).
SOURCE_COLUMNS = [
    Column("REPO", no_wrap=True),
    Column("DEFAULT BRANCH", no_wrap=True),
    Column("VISIBILITY", no_wrap=True),
    Column("NAME", no_wrap=True, terminal=False),
]


def _visibility(source: dict[str, Any]) -> str:
    return "private" if (source.get("githubRepo") or {}).get("isPrivate") else "public"


def print_sources(out: Output, sources: Iterable[dict[str, Any]]) -> int:
    rows = (
        [repo_label(s), default_branch(s) or "", _visibility(s), s.get("name", "")] for s in sources
    )
    return out.table(
        SOURCE_COLUMNS,
        rows,
        empty="No connected repositories; connect one in the Jules web app.",
    )


def print_source(out: Output, source: dict[str, Any]) -> None:
    default = default_branch(source)
    branches = [f"{b} (default)" if b == default else b for b in branch_names(source)]
    separator = "\n" if out.is_terminal else ", "
    out.fields(
        [
            ("Repo", repo_label(source)),
            ("Name", source.get("name")),
            ("Visibility", _visibility(source)),
            ("Default branch", default),
            ("Branches", separator.join(branches)),
        ]
    )
