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
        # Before the session is created (each one costs a daily task) or waited for.
        ("session", "new", "--no-repo", "Do it", "--follow", "--jq", ".["),
        ("session", "new", "--no-repo", "Do it", "--parallel", "2", "--jq", "{"),
        ("session", "wait", "123", "--jq", "map("),
        ("status", "--jq", ")"),
        ("api", "sessions", "--jq", "..a"),
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


# -- every other --json command, end to end ------------------------------------------------
#
# Each case: (setup(emulator) -> (args, stdout, exit code)). The expression picks something
# the emulator's own state says, so the filter is shown to see the command's JSON: one
# object, the whole array of a list, or each object of a stream in turn; exit codes stay
# what the command says (8 for a failed wait, with --jq too).


def _done(emulator, prompt: str = "Work", **extra) -> str:
    sid = emulator.create_session({"prompt": prompt, **extra})["id"]
    emulator.settle()
    return sid


def _activity_ids(emulator, sid: str) -> list[str]:
    return [a["id"] for a in emulator.list_activities(sid)["activities"]]


def _approve(em):
    sid = _done(em, "Plan first", requirePlanApproval=True)
    return ("session", "approve", sid, "--jq", ".id"), f"{sid}\n", 0


def _send(em):
    sid = _done(em)
    return ("session", "send", sid, "And a test", "--jq", ".id"), f"{sid}\n", 0


def _wait_failed(em):
    sid = _done(em, "Break [fail:no tests]")
    return ("session", "wait", sid, "--jq", ".state"), "FAILED\n", 8


def _wait_many(em):
    good, bad = _done(em), _done(em, "Break [fail:no tests]")
    args = ("session", "wait", good, bad, "--jq", 'map(.state) | join(",")')
    return args, "COMPLETED,FAILED\n", 8


def _diff(em):
    sid = _done(em)
    base = em.get_session(sid)["outputs"][0]["changeSet"]["gitPatch"]["baseCommitId"]
    return ("session", "diff", sid, "--jq", ".gitPatch.baseCommitId"), f"{base}\n", 0


def _artifacts(em):
    sid = _done(em)
    args = ("session", "artifacts", sid, "--jq", "map(select(.changeSet)) | length > 0")
    return args, "true\n", 0


def _archive(em):
    sid = _done(em)
    return ("session", "archive", sid, "--jq", ".archived"), "true\n", 0


def _delete_dry_run(em):
    _done(em)
    bad = _done(em, "Break [fail:no tests]")
    args = ("session", "delete", "--state", "FAILED", "--dry-run", "--jq", ".[].id")
    return args, f"{bad}\n", 0


def _activities_list(em):
    sid = _done(em)
    ids = _activity_ids(em, sid)
    return ("activities", "list", sid, "--jq", "map(.id) | join(\" \")"), " ".join(ids) + "\n", 0


def _activities_jsonl(em):
    sid = _done(em)
    ids = _activity_ids(em, sid)
    return ("activities", "list", sid, "--jsonl", "--jq", ".id"), "".join(f"{i}\n" for i in ids), 0


def _activities_show(em):
    sid = _done(em)
    aid = _activity_ids(em, sid)[0]
    return ("activities", "show", sid, aid, "--jq", ".id"), f"{aid}\n", 0


def _status(em):
    ended = sorted([_done(em), _done(em, "Break [fail:no tests]")])
    args = ("status", "--jq", '.ended | map(.id) | sort | join(" ")')
    return args, " ".join(ended) + "\n", 0


def _new(em):
    args = ("session", "new", "--no-repo", "Hold [stall:queued]", "--jq", ".state")
    return args, "QUEUED\n", 0


def _new_parallel(em):
    args = ("session", "new", "--no-repo", "Hold [stall:queued]", "--parallel", "2",
            "--jq", 'map(.state) | join(",")')  # fmt: skip
    return args, "QUEUED,QUEUED\n", 0


def _new_follow(em):
    # A stream: the expression sees each activity, so exactly one of them is selected.
    args = ("session", "new", "--no-repo", "Work", "--follow",
            "--jq", 'select(.sessionCompleted) | "completed"')  # fmt: skip
    return args, "completed\n", 0


def _retry(em):
    sid = _done(em, "Break it again [fail:flaky]")
    prompt = em.get_session(sid)["prompt"]
    return ("session", "retry", sid, "--jq", ".prompt"), f"{prompt}\n", 0


def _auth_status(em):
    return ("auth", "status", "--jq", "[.profile, .source] | join(\" \")"), "default env\n", 0


@pytest.mark.parametrize(
    "case",
    [_approve, _send, _wait_failed, _wait_many, _diff, _artifacts, _archive, _delete_dry_run,
     _activities_list, _activities_jsonl, _activities_show, _status, _new, _new_parallel,
     _new_follow, _retry, _auth_status],
    ids=lambda case: case.__name__.strip("_"),
)  # fmt: skip
def test_jq_on_every_other_json_command(jules, emulator_server, case):
    args, stdout, code = case(emulator_server.emulator)
    result = jules(*args)
    assert (result.returncode, result.stdout) == (code, stdout), result.stderr


def test_jq_on_config(run_jules):
    assert run_jules("config", "set", "repo", "jules-demo/webapp").returncode == 0
    listed = run_jules("config", "list", "--jq", ".repo")
    got = run_jules("config", "get", "repo", "--jq", 'split("/") | .[1]')
    assert (listed.returncode, listed.stdout) == (0, "jules-demo/webapp\n"), listed.stderr
    assert (got.returncode, got.stdout) == (0, "webapp\n"), got.stderr
