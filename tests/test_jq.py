"""`--jq EXPR`, end to end against the emulator: on every command that takes --json, strings
raw, lists seen whole, JSON Lines and `tail` filtered object by object as they stream, and a
bad expression refused before any request."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from jules_cli.cli._command_tree import TREE
from tests.conftest import jules_command
from tests.test_import_budget import probe


def commands(node: dict, path: tuple[str, ...] = ()):
    for name, sub in node.get("commands", {}).items():
        if isinstance(sub, str):  # an alias of a sibling
            continue
        if "commands" in sub:
            yield from commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def option_names(command: dict) -> set[str]:
    return {opt for param in command.get("params", []) for opt in param.get("opts", [])}


def test_every_command_with_json_takes_jq():
    with_json = [path for path, command in commands(TREE) if "--json" in option_names(command)]
    assert len(with_json) >= 15
    missing = [
        " ".join(path)
        for path, command in commands(TREE)
        if path in with_json and "--jq" not in option_names(command)
    ]
    assert missing == []


@pytest.fixture
def jules(run_jules, emulator_server):
    def run(*args: str):
        return run_jules(*args, env=emulator_server.env)

    return run


def test_a_string_result_prints_raw_one_per_line(jules, emulator_server):
    result = jules("sources", "list", "--jq", ".[].id")
    assert result.returncode == 0, result.stderr
    expected = [s["id"] for s in emulator_server.emulator.list_sources()["sources"]]
    assert result.stdout.splitlines() == expected


def test_other_results_print_as_json(jules, emulator_server):
    result = jules("sources", "show", "jules-demo/hello-world", "--jq", ".githubRepo.branches")
    assert result.returncode == 0, result.stderr
    source = emulator_server.emulator.get_source("sources/github/jules-demo/hello-world")
    assert result.stdout == json.dumps(source["githubRepo"]["branches"], indent=2) + "\n"
    numbers = jules("sources", "list", "--jq", ".[] | .githubRepo.isPrivate // false")
    expected = [
        json.dumps(s["githubRepo"].get("isPrivate", False))
        for s in emulator_server.emulator.list_sources()["sources"]
    ]
    assert numbers.stdout.splitlines() == expected and "true" in expected


def test_jq_implies_json_on_a_command_about_one_thing(jules, emulator_server):
    sid = emulator_server.emulator.create_session({"prompt": "Hold [stall:queued]"})["id"]
    result = jules("session", "show", sid, "--jq", "[.id, .state] | @tsv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{sid}\tQUEUED\n"


def test_a_list_gives_the_expression_the_whole_array_across_pages(jules, emulator_server):
    for number in range(130):
        emulator_server.emulator.create_session({"prompt": f"S{number} [stall:queued]"})
    result = jules("session", "list", "--jq", "length")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "130\n"
    pages = [r for r in emulator_server.requests() if r["path"] == "/v1alpha/sessions"]
    assert len(pages) == 2


def test_jsonl_filters_each_object_and_streams_page_by_page(jules, emulator_server):
    created = [
        emulator_server.emulator.create_session({"prompt": f"S{n} [stall:queued]"})["id"]
        for n in range(130)
    ]
    # Page one is served, every later page fails: what page one gave is printed all the same.
    emulator_server.fault(delay=0.001, method="GET", path="sessions")
    emulator_server.fault(status=503, retryAfter=0, times=None, method="GET", path="sessions")
    result = jules("session", "list", "--jsonl", "--jq", ".id")
    assert result.returncode == 7
    assert result.stdout.splitlines() == list(reversed(created))[:100]


@pytest.mark.parametrize(
    "args",
    [
        ("sources", "list", "--jq", ".["),
        ("sources", "list", "--jq", "  "),
        ("session", "list", "--jq", ".[] | ", "--limit", "1"),
        ("session", "show", "123", "--jq", "{"),
        ("activities", "tail", "123", "--jq", "..a"),
        ("sources", "list", "--jq", ".", "-q"),
    ],
)
def test_a_bad_expression_is_exit_2_before_any_request(jules, emulator_server, args):
    result = jules(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --jq"), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert emulator_server.requests() == []


def test_an_expression_that_fails_on_the_data_says_so_in_one_line(jules):
    result = jules("sources", "list", "--jq", ".[0].id | .x")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --jq '.[0].id | .x' failed on the data: ")
    assert len(result.stderr.splitlines()) == 1


def test_jules_api_takes_jq(jules):
    result = jules("api", "sources", "--jq", ".sources | map(.githubRepo.repo) | join(\",\")")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello-world,webapp,data-pipeline\n"


def test_tail_json_jq_prints_each_activity_as_it_arrives(emulator_server):
    """The first filtered line is readable while `tail` still follows the session."""
    sid = emulator_server.emulator.create_session({"prompt": "Work then wait [stall]"})["id"]
    emulator_server.settle()
    process = subprocess.Popen(
        [*jules_command(), "activities", "tail", sid, "--jq", "keys_unsorted | .[-1]"],
        env={**os.environ, **emulator_server.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.strip() != "" and not first.startswith("{")
        time.sleep(0.2)
        assert process.poll() is None  # still following: the line came out flushed
    finally:
        process.kill()
        process.communicate()


def test_jq_is_imported_only_with_jq(tmp_path, emulator_server):
    plain = probe(tmp_path, "sources", "list", "--json", env=emulator_server.env)
    assert plain.code == 0, plain.stderr
    assert plain.heavy(("jq",)) == []
    filtered = probe(tmp_path, "sources", "list", "--jq", ".[].id", env=emulator_server.env)
    assert filtered.code == 0, filtered.stderr
    assert filtered.heavy(("jq",)) == ["jq"]
