"""List output streams page by page: `Output.items` in every mode, and the list commands
(`sources list`, `session list`, `activities list`) end to end against the emulator, with
--json (one array, the same bytes as before), --jsonl, -q, and a failure part-way."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jules_cli.errors import Unavailable, UsageError
from jules_cli.render.output import Output, check_list_modes

# -- Output, in memory --------------------------------------------------------------------


class RecordingStream(io.StringIO):
    """A stdout that remembers how much had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))
        super().flush()

    def isatty(self) -> bool:
        return False


def make_output(**modes: bool) -> tuple[Output, RecordingStream, io.StringIO]:
    stdout, stderr = RecordingStream(), io.StringIO()
    return Output(stdout=stdout, stderr=stderr, **modes), stdout, stderr


def objects(count: int) -> list[dict[str, Any]]:
    """API-like objects: nesting, lists, unicode, escapes, fields of any kind."""
    return [
        {
            "name": f"sessions/{number}",
            "id": str(number),
            "title": f'Ünïcode "quoted" line\nbreak {number}',
            "sourceContext": {"source": "sources/github/o/r", "githubRepoContext": {}},
            "outputs": [{"pullRequest": {"url": "https://x/1"}}, []],
            "archived": number % 2 == 0,
            "score": number / 3,
            "none": None,
        }
        for number in range(count)
    ]


def failing_after(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from items
    raise Unavailable("INTERNAL (500): page 2 failed")


@pytest.mark.parametrize("count", [0, 1, 2, 250])
def test_json_array_is_byte_for_byte_what_a_list_dump_was(count: int) -> None:
    items = objects(count)
    out, stdout, _ = make_output(json_mode=True)
    out.items(iter(items), show=None)  # type: ignore[arg-type]
    assert stdout.getvalue() == json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(stdout.getvalue()) == items


def test_json_array_is_written_as_items_arrive_not_at_the_end() -> None:
    out, stdout, _ = make_output(json_mode=True)
    seen_before_next: list[str] = []

    def items() -> Iterator[dict[str, Any]]:
        for item in objects(3):
            seen_before_next.append(stdout.getvalue())
            yield item

    out.items(items(), show=None)  # type: ignore[arg-type]
    assert seen_before_next[0] == ""  # nothing before the first item, not even "["
    assert '"id": "0"' in seen_before_next[1] and '"id": "1"' in seen_before_next[2]


def test_json_array_failing_part_way_is_never_complete_json() -> None:
    out, stdout, _ = make_output(json_mode=True)
    with pytest.raises(Unavailable):
        out.items(failing_after(objects(2)), show=None)  # type: ignore[arg-type]
    text = stdout.getvalue()
    assert text.startswith("[\n") and text.endswith("}\n")
    assert "]" not in text.splitlines()[-1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert stdout.flushed_at[-1] == len(text)  # what was read is out before the error


def test_json_array_failing_before_the_first_item_writes_nothing() -> None:
    out, stdout, _ = make_output(json_mode=True)
    with pytest.raises(Unavailable):
        out.items(failing_after([]), show=None)  # type: ignore[arg-type]
    assert stdout.getvalue() == ""


def test_json_lines_one_compact_object_per_line() -> None:
    items = objects(5)
    out, stdout, _ = make_output(json_mode=True)
    out.items(iter(items), show=None, json_lines=True)  # type: ignore[arg-type]
    lines = stdout.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == items
    assert all(": " not in line.split('"title"')[0] for line in lines)  # compact
    out, stdout, _ = make_output(json_mode=True)
    out.items(iter([]), show=None, json_lines=True)  # type: ignore[arg-type]
    assert stdout.getvalue() == ""


def test_json_lines_and_ids_keep_what_came_before_a_failure() -> None:
    out, stdout, _ = make_output(json_mode=True)
    with pytest.raises(Unavailable):
        out.items(failing_after(objects(2)), show=None, json_lines=True)  # type: ignore[arg-type]
    assert [json.loads(line)["id"] for line in stdout.getvalue().splitlines()] == ["0", "1"]
    out, stdout, _ = make_output(quiet=True)
    with pytest.raises(Unavailable):
        out.items(failing_after(objects(2)), show=None)  # type: ignore[arg-type]
    assert stdout.getvalue() == "0\n1\n"
    assert stdout.flushed_at[-1] == len(stdout.getvalue())


def test_quiet_streams_ids_with_the_chosen_key() -> None:
    out, stdout, _ = make_output(quiet=True)
    out.items(iter(objects(3)), show=None, id_key="name")  # type: ignore[arg-type]
    assert stdout.getvalue() == "sessions/0\nsessions/1\nsessions/2\n"


def test_paged_flushes_once_per_page_before_the_next_is_fetched() -> None:
    out, stdout, _ = make_output(json_mode=True)
    written_when_fetching: list[int] = []

    def client_pages() -> Iterator[dict[str, Any]]:
        for number, item in enumerate(objects(7)):
            if number % 3 == 0:  # a page of three starts: the client would block here
                written_when_fetching.append(stdout.flushed_at[-1] if stdout.flushed_at else 0)
            yield item

    out.items(out.paged(client_pages(), page_size=3), show=None, json_lines=True)  # type: ignore[arg-type]
    lines = stdout.getvalue().splitlines(keepends=True)
    # Before fetching pages 2 and 3, pages 1 and 2 had been flushed in full.
    assert written_when_fetching == [0, len("".join(lines[:3])), len("".join(lines[:6]))]
    assert len(stdout.flushed_at) == 3  # after pages 1 and 2, then at the end


def test_pipe_table_streams_rows_and_flushes_per_page_not_per_row() -> None:
    out, stdout, _ = make_output()
    rows_seen: list[str] = []

    def show(output: Output, items) -> None:
        output.table([], ([item["id"], item["name"]] for item in items))

    def items() -> Iterator[dict[str, Any]]:
        for item in objects(4):
            rows_seen.append(stdout.getvalue())
            yield item

    out.items(out.paged(items(), page_size=2), show)
    assert stdout.getvalue() == "".join(f"{n}\tsessions/{n}\n" for n in range(4))
    assert rows_seen[2] == "0\tsessions/0\n1\tsessions/1\n"  # written before page 2
    assert len(stdout.flushed_at) <= 4


def test_jsonl_refuses_json_and_quiet() -> None:
    check_list_modes(json_mode=False, json_lines=True, quiet=False)
    check_list_modes(json_mode=True, json_lines=False, quiet=True)
    for modes in ({"json_mode": True}, {"quiet": True}):
        with pytest.raises(UsageError):
            check_list_modes(**{"json_mode": False, "quiet": False, "json_lines": True, **modes})


# -- the list commands, end to end ------------------------------------------------------------

SESSIONS = 230  # three pages of up to 100


@pytest.fixture
def many_sessions(emulator_server) -> list[dict[str, Any]]:
    """SESSIONS sessions held in QUEUED (so they do not change while listed), as served."""
    for number in range(SESSIONS):
        emulator_server.emulator.create_session({"prompt": f"Session {number} [stall:queued]"})
    served, token = [], None
    while True:
        page = emulator_server.emulator.list_sessions(page_size=100, page_token=token)
        served += page.get("sessions", [])
        token = page.get("nextPageToken")
        if not token:
            return served


@pytest.fixture
def jules(run_jules, emulator_server):
    def run(*args: str):
        return run_jules(*args, env=emulator_server.env)

    return run


def list_requests(handle, path: str) -> list[dict]:
    return [r for r in handle.requests() if r["method"] == "GET" and r["path"] == path]


def test_session_list_json_is_the_api_objects_across_pages(emulator_server, many_sessions, jules):
    result = jules("session", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == json.dumps(many_sessions, indent=2, ensure_ascii=False) + "\n"
    pages = list_requests(emulator_server, "/v1alpha/sessions")
    assert len(pages) == 3


def test_session_list_jsonl_one_object_per_line(emulator_server, many_sessions, jules):
    result = jules("session", "list", "--jsonl")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == many_sessions
    assert all(line.startswith('{"') for line in lines)


def test_session_list_quiet_and_limit(emulator_server, many_sessions, jules):
    result = jules("session", "list", "-q")
    assert result.stdout.splitlines() == [s["id"] for s in many_sessions]
    limited = jules("session", "list", "--jsonl", "--limit", "120")
    assert [json.loads(line) for line in limited.stdout.splitlines()] == many_sessions[:120]


def test_sources_and_activities_lists_stream_the_api_objects(
    emulator_server_factory, run_jules
) -> None:
    handle = emulator_server_factory(seed={"sources": [f"octo/repo-{n}" for n in range(150)]})
    sid = handle.emulator.create_session(
        {"prompt": "Busy [many:130]", "sourceContext": {"source": "sources/github/octo/repo-7"}}
    )["id"]
    handle.settle()
    sources = run_jules("sources", "list", "--json", env=handle.env)
    assert sources.returncode == 0, sources.stderr
    served_sources = handle.emulator.list_sources(page_size=100)
    served_sources = served_sources["sources"] + handle.emulator.list_sources(
        page_size=100, page_token=served_sources["nextPageToken"]
    ).get("sources", [])
    assert json.loads(sources.stdout) == served_sources
    activities = run_jules("activities", "list", sid, "--jsonl", env=handle.env)
    assert activities.returncode == 0, activities.stderr
    streamed = [json.loads(line) for line in activities.stdout.splitlines()]
    assert len(streamed) > 130 and len({a["id"] for a in streamed}) == len(streamed)
    as_array = run_jules("activities", "list", sid, "--json", env=handle.env)
    assert json.loads(as_array.stdout) == streamed


def fail_page_two(handle, path: str) -> None:
    # Faults apply in queue order, one per request: page 1 takes a harmless zero delay, and
    # every later page answers 503 (retried at once, Retry-After 0, then given up).
    handle.fault(delay=0.001, method="GET", path=path)
    handle.fault(status=503, retryAfter=0, times=None, method="GET", path=path)


@pytest.mark.parametrize("mode", ["--json", "--jsonl", "-q"])
def test_a_failure_on_page_two_is_an_error_not_a_short_list(
    emulator_server, many_sessions, jules, mode
):
    fail_page_two(emulator_server, "sessions")
    result = jules("session", "list", mode)
    assert result.returncode == 7, result.stderr  # unavailable, after retries
    error_lines = result.stderr.splitlines()
    assert len(error_lines) == 1 and error_lines[0].startswith("Error: ")
    assert "503" in error_lines[0] or "UNAVAILABLE" in error_lines[0]
    lines = result.stdout.splitlines()
    if mode == "--json":
        # Page 1 is there, but the array is never closed: no parser takes it as complete.
        assert result.stdout.startswith("[\n  {")
        assert lines[-1] == "  }"
        with pytest.raises(json.JSONDecodeError):
            json.loads(result.stdout)
        partial = json.loads(result.stdout + "]")
        assert partial == many_sessions[:100]
    elif mode == "--jsonl":
        assert [json.loads(line) for line in lines] == many_sessions[:100]
    else:
        assert lines == [s["id"] for s in many_sessions[:100]]


def test_a_failure_on_the_first_page_prints_no_array_at_all(emulator_server, jules):
    emulator_server.fault(status=403, method="GET", path="sessions")
    result = jules("session", "list", "--json")
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1


def test_jsonl_beside_json_is_a_usage_error_before_any_request(emulator_server, jules):
    result = jules("sources", "list", "--json", "--jsonl")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --jsonl cannot be combined with --json")
    assert emulator_server.requests() == []


def test_list_json_modes_never_import_rich(emulator_server, many_sessions) -> None:
    # Rich is for people: a script's --json/--jsonl/-q run must not pay for importing it.
    env = {**os.environ, **emulator_server.env}
    for mode in ("--json", "--jsonl", "-q"):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "jules_cli", "session", "list", mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
        assert not {name for name in imported if name.split(".")[0] == "rich"}, mode


def test_json_output_never_carries_a_raw_control_character():
    from jules_cli.render.output import to_json

    value = {"title": "x\x1b[2J\x9b31m\x7f é \u2028", "n": [1, None]}
    for compact in (False, True):
        text = to_json(value, compact=compact)
        assert json.loads(text) == value
        assert not any(0x7F <= ord(c) <= 0x9F or ord(c) < 0x20 and c != "\n" for c in text)
        assert "é" in text  # readable UTF-8 is kept
