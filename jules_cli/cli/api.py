"""`jules api`: a raw escape hatch to any endpoint, with the key, retries and errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from jules_cli.cli.context import app_context
from jules_cli.cli.options import JqOption, examples
from jules_cli.errors import UsageError

METHODS = ("GET", "POST", "DELETE", "PATCH", "PUT")


def _relative_path(path: str, base_url: str) -> str:
    """Accept `sessions`, `/sessions`, `v1alpha/sessions` or a full URL of the base."""
    from urllib.parse import urlsplit

    text = path.strip()
    if text.startswith(base_url):
        text = text[len(base_url) :]
    base_path = urlsplit(base_url).path.strip("/")
    text = text.lstrip("/")
    if base_path and text.startswith(base_path + "/"):
        text = text[len(base_path) + 1 :]
    if "://" in text:
        raise UsageError(f"{path} is not under the API URL {base_url}")
    return text


def _body(data: str | None):
    if data is None:
        return None
    raw = sys.stdin.read() if data == "-" else data
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise UsageError(f"--data is not valid JSON ({exc.msg} at position {exc.pos})") from exc


def _params(values: list[str]) -> dict[str, str]:
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes key=value, not {item!r}")
        params[key] = value
    return params


def api(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Endpoint path, e.g. sessions or sources/github/o/r")],
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-X",
            metavar="METHOD",
            help="HTTP method (default GET, or POST with --data).",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", metavar="JSON", help="JSON request body, or - for stdin."),
    ] = None,
    param: Annotated[
        list[str] | None,
        # No -p: that is --port (`emulator serve -p`); one meaning per short flag.
        typer.Option("--param", metavar="KEY=VALUE", help="Query parameter key=value."),
    ] = None,
    paginate: Annotated[
        bool, typer.Option("--paginate", help="Follow nextPageToken and merge all pages.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", hidden=True, help="Accepted for uniformity: always JSON.")
    ] = False,
    jq: JqOption = None,
) -> None:
    """Call any API endpoint with the configured key and print the JSON answer."""
    appctx = app_context(ctx)
    out = appctx.output(json_mode=True)
    verb = (method or ("POST" if data is not None else "GET")).upper()
    if verb not in METHODS:
        raise UsageError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    body = _body(data)
    params = _params(param or [])
    client = appctx.client()
    relative = _relative_path(path, client.base_url)
    if not paginate:
        out.json(client.request(verb, relative, params=params, body=body))
        return
    if verb != "GET":
        raise UsageError("--paginate works with GET only")
    out.json(_all_pages(client, relative, params))


def _all_pages(client, path: str, params: dict[str, str]) -> dict:
    """Every page merged: list fields concatenated, nextPageToken dropped.

    The client's paging stops a server that sends pages in a circle or empty pages
    without end, and the pages kept here may hold at most the size of one answer."""
    from jules_cli.api.client import MAX_RESPONSE_BYTES

    merged: dict = {}
    for page in client.pages(path, params, max_bytes=MAX_RESPONSE_BYTES):
        for key, value in page.items():
            if key == "nextPageToken":
                continue
            if isinstance(value, list) and isinstance(merged.get(key, []), list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


def register(app: typer.Typer) -> None:
    app.command(
        "api",
        epilog=examples(
            ("Any endpoint, with the stored key", "jules api sessions --param pageSize=5"),
            ("Every page of a list, merged", "jules api sources --paginate --jq '.sources[].name'"),
            (
                "A POST with a JSON body",
                'jules api -X POST sessions/1234:sendMessage -d \'{"prompt": "Go on"}\'',
            ),
        ),
    )(api)
