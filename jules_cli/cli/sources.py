"""`jules sources`: the repositories connected to Jules."""

# No `from __future__ import annotations` in the command modules: Typer reads every
# command's signature at each start, and string annotations cost a compile() each there
# (some 15 ms per run for these modules); real ones cost nothing (Python >= 3.10 has `X | Y`).

from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import (
    JqOption,
    JsonLinesOption,
    JsonOption,
    LimitOption,
    QuietOption,
    examples,
)
from jules_cli.completion import complete_sources, remember_sources, remember_sources_while

app = typer.Typer(
    help="Repositories connected to Jules.",
    no_args_is_help=True,
    epilog=examples(
        ("The repositories Jules can work on", "jules sources list"),
        ("One of them with its branches", "jules sources show octo/app"),
    ),
)


@app.command(
    "list",
    epilog=examples(
        ("The connected repositories", "jules sources list"),
        ("Only their names, for a script", "jules sources list -q"),
        (
            "The owner and name of each, from the JSON",
            "jules sources list --jq '.[].githubRepo | .owner + \"/\" + .repo'",
        ),
    ),
)
def list_sources(
    ctx: typer.Context,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="EXPR",
            help="AIP-160 filter, e.g. name=sources/github/o/r OR name=sources/github/o/s",
        ),
    ] = None,
    limit: LimitOption = None,
    json_output: JsonOption = False,
    jq: JqOption = None,
    jsonl: JsonLinesOption = False,
    quiet: QuietOption = False,
) -> None:
    """Connected repositories, all pages unless limited.

    --json prints one JSON array, --jsonl one object per line; both stream page by page.
    """
    from jules_cli.render.sources import print_sources

    appctx = app_context(ctx)
    out = appctx.list_output(json_mode=json_output, json_lines=jsonl, quiet=quiet)
    pages = out.paged(appctx.client().list_sources(filter=filter, limit=limit))
    out.items(remember_sources_while(pages), print_sources, id_key="name", json_lines=jsonl)


@app.command(
    "show",
    epilog=examples(
        ("A repository's default branch and other branches", "jules sources show octo/app"),
        ("The same by source name, as JSON", "jules sources show sources/github/octo/app --json"),
    ),
)
def show_source(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="sources/github/o/r, github/o/r or o/r",
            autocompletion=complete_sources,
        ),
    ],
    json_output: JsonOption = False,
    jq: JqOption = None,
) -> None:
    """One source with its branches."""
    from jules_cli.api.names import source_name
    from jules_cli.render.sources import print_source
    from jules_cli.sources import resolve_source

    source_name(source)  # a malformed name is a usage error before the key is looked up
    appctx = app_context(ctx)
    out = appctx.output(json_mode=json_output)
    found = resolve_source(appctx.client(), source)
    remember_sources([found])
    out.item(found, print_source)
