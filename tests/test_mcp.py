"""`jules mcp serve`, driven by the official MCP SDK's own client over stdio, as a coding
agent would: the installed command against the in-process emulator (or a real emulator
server on loopback, where a test needs to see the requests or the key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from tests.conftest import jules_command  # noqa: E402
from tests.test_import_budget import probe  # noqa: E402

ALL_TOOLS = {
    "list_sources",
    "list_sessions",
    "get_session",
    "create_session",
    "approve_plan",
    "send_message",
    "wait_for_session",
    "list_activities",
    "get_diff",
    "archive_session",
}
READ_ONLY_TOOLS = {"list_sources", "list_sessions", "get_session", "wait_for_session",
                   "list_activities", "get_diff"}


def serve(*args: str, env: dict[str, str] | None = None, errlog: str = os.devnull):
    """Run `jules [args] mcp serve` and hand a connected ClientSession to `body`
    (the server's stderr goes to `errlog`)."""
    command = jules_command()
    # JULES_POLL_SCALE (conftest.py): the server's waits poll at the tests' pace, as the
    # CLI's followers do against an emulator.
    passed = ("JULES_CONFIG_DIR", "PATH", "JULES_POLL_SCALE")
    base = {name: os.environ[name] for name in passed if name in os.environ}

    def run(body: Callable[[ClientSession], Awaitable[Any]], *serve_args: str) -> Any:
        async def main() -> Any:
            params = StdioServerParameters(
                command=command[0],
                args=[*command[1:], *args, "mcp", "serve", *serve_args],
                env={**base, **(env or {})},
            )
            with open(errlog, "a") as stderr:
                async with (
                    stdio_client(params, errlog=stderr) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    return await body(session)

        return anyio.run(main)

    return run


@pytest.fixture
def in_process():
    return serve("--emulator", "--emulator-speed", "200")


def text_of(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


# CLI.md: every tool's arguments, `?` marking the optional ones.
CONTRACT_ARGUMENTS = {
    "list_sources": "filter?",
    "list_sessions": "state? repo? limit?",
    "get_session": "session",
    "create_session": "prompt repo? branch? title? require_approval? auto_pr? no_repo?",
    "approve_plan": "session",
    "send_message": "session message wait_reply?",
    "wait_for_session": "session until? timeout_seconds?",
    "list_activities": "session since?",
    "get_diff": "session",
    "archive_session": "session",
}


def test_the_tools_their_arguments_and_the_read_only_set(in_process):
    async def listing(session: ClientSession):
        return (await session.list_tools()).tools

    async def read_only(session: ClientSession):
        refused = await session.call_tool(
            "create_session", {"prompt": "x", "repo": "jules-demo/hello-world"}
        )
        return {tool.name for tool in (await session.list_tools()).tools}, refused

    tools = in_process(listing)
    assert {tool.name for tool in tools} == ALL_TOOLS
    for tool in tools:
        words = CONTRACT_ARGUMENTS[tool.name].split()
        schema = tool.input_schema
        assert set(schema["properties"]) == {word.rstrip("?") for word in words}, tool.name
        assert set(schema.get("required", [])) == {w for w in words if not w.endswith("?")}
        assert tool.annotations.read_only_hint is (tool.name in READ_ONLY_TOOLS), tool.name
    served, refused = in_process(read_only, "--read-only")
    assert served == READ_ONLY_TOOLS
    assert refused.is_error
    assert text_of(refused) == (
        "Error: create_session is not served: this server is read-only (--read-only) - "
        "restart it without --read-only to let the agent change sessions"
    )


def test_every_tool_on_a_session_from_start_to_end(in_process):
    progress: list[str] = []

    async def body(session: ClientSession) -> dict[str, Any]:
        async def call(name: str, **arguments: Any):
            result = await session.call_tool(name, arguments)
            assert not result.is_error, (name, text_of(result))
            return result

        seen: dict[str, Any] = {}
        seen["sources"] = (await call("list_sources")).structured_content
        only = await call("list_sources", filter="name=sources/github/jules-demo/webapp")
        seen["filtered"] = only.structured_content
        created = (
            await call(
                "create_session",
                prompt="Add a greeting module",
                repo="jules-demo/hello-world",
                require_approval=True,
                title="Greeting",
            )
        ).structured_content
        sid = created["id"]
        seen["created"] = created

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        waited = await session.call_tool(
            "wait_for_session",
            {"session": f"sessions/{sid}", "until": "settled", "timeout_seconds": 30},
            progress_callback=on_progress,
        )
        seen["waited"] = waited.structured_content
        seen["approved"] = (await call("approve_plan", session=sid)).structured_content
        done = await call("wait_for_session", session=sid, timeout_seconds=30)
        seen["done"] = done.structured_content
        seen["diff"] = text_of(await call("get_diff", session=sid))
        seen["activities"] = (await call("list_activities", session=sid)).structured_content
        last = seen["activities"]["activities"][-1]["createTime"]
        seen["recent"] = (await call("list_activities", session=sid, since="1h")).structured_content
        seen["after_last"] = (
            await call("list_activities", session=sid, since=last)
        ).structured_content
        replied = await call("send_message", session=sid, message="Thanks! [ask]", wait_reply=True)
        seen["replied"] = replied.structured_content
        listed = await call("list_sessions", repo="jules-demo/hello-world", limit=5)
        seen["listed"] = listed.structured_content
        seen["failed"] = (await call("list_sessions", state="FAILED")).structured_content
        seen["got"] = (await call("get_session", session=sid)).structured_content
        seen["archived"] = (await call("archive_session", session=sid)).structured_content
        seen["after_archive"] = (await call("list_sessions")).structured_content
        return seen

    seen = in_process(body)
    assert [s["id"] for s in seen["sources"]["sources"]] == [
        "github/jules-demo/hello-world",
        "github/jules-demo/webapp",
        "github/octo-org/data-pipeline",
    ]
    assert [s["id"] for s in seen["filtered"]["sources"]] == ["github/jules-demo/webapp"]
    created = seen["created"]
    assert created["title"] == "Greeting"
    assert created["sourceContext"]["source"] == "sources/github/jules-demo/hello-world"
    assert created["sourceContext"]["githubRepoContext"]["startingBranch"] == "main"
    assert seen["waited"]["outcome"] == "waiting"
    assert seen["waited"]["session"]["state"] == "AWAITING_PLAN_APPROVAL"
    assert any("AWAITING_PLAN_APPROVAL" in message for message in progress)
    assert seen["approved"]["id"] == created["id"]
    assert seen["done"]["outcome"] == "completed"
    assert seen["done"]["session"]["state"] == "COMPLETED"
    assert seen["diff"].startswith("diff --git ")
    kinds = [next(k for k in a if k in ("planGenerated", "planApproved", "progressUpdated",
                                          "sessionCompleted", "agentMessaged", "userMessaged"))
             for a in seen["activities"]["activities"] if any(
                 k in a for k in ("planGenerated", "planApproved", "sessionCompleted"))]
    assert kinds[0] == "planGenerated" and "planApproved" in kinds and kinds[-1] == (
        "sessionCompleted")
    # `since` takes a duration (that long ago) or a time, as `activities list --since`.
    assert seen["recent"] == seen["activities"]
    assert seen["after_last"] == {"activities": []}
    assert "agentMessaged" in seen["replied"]["reply"]
    assert seen["replied"]["session"]["id"] == created["id"]
    assert [s["id"] for s in seen["listed"]["sessions"]] == [created["id"]]
    assert seen["failed"] == {"sessions": []}
    assert seen["got"]["id"] == created["id"]
    assert seen["archived"]["archived"] is True
    assert created["id"] not in [s["id"] for s in seen["after_archive"]["sessions"]]


def test_a_failing_call_is_a_tool_error_with_the_commands_one_line(in_process, run_jules):
    async def body(session: ClientSession):
        return [
            await session.call_tool("get_session", {"session": "4242424242"}),
            await session.call_tool("get_session", {"session": "../etc"}),
            await session.call_tool("create_session", {"prompt": "Fix it"}),
            await session.call_tool("wait_for_session", {"session": "1", "until": "soon"}),
            await session.call_tool("get_session", {}),
            await session.call_tool("list_sessions", {"limit": "many"}),
            await session.call_tool("list_activities", {"session": "1", "since": "yesterday"}),
            await session.call_tool("delete_session", {"session": "1"}),
            await session.call_tool("create_session", {"prompt": "Fix it", "repo": "."}),
        ]

    (missing, malformed, no_repo, bad_until, no_session, bad_limit, bad_since,
     unknown, dot) = in_process(body)  # fmt: skip
    cli = run_jules("--emulator", "session", "show", "4242424242")
    assert cli.returncode == 3
    cli_error = [line for line in cli.stderr.splitlines() if line.startswith("Error: ")]
    assert missing.is_error and text_of(missing) == cli_error[0]
    assert malformed.is_error and text_of(malformed).startswith("Error: not a session id")
    assert no_repo.is_error
    assert text_of(no_repo) == (
        "Error: no repository given - give repo OWNER/REPO, or no_repo for a session without one"
    )
    assert bad_until.is_error and text_of(bad_until).startswith("Error: unknown wait condition")
    # Arguments that do not fit the schema: one line naming the argument, as the CLI
    # names a bad option (not the SDK's pydantic report over several lines).
    assert text_of(no_session) == (
        "Error: invalid arguments to get_session: session: Field required - see the tool's "
        "input schema"
    )
    assert text_of(bad_limit).startswith("Error: invalid arguments to list_sessions: limit: ")
    assert text_of(bad_since) == (
        "Error: since takes an RFC 3339 time or a duration, not 'yesterday' - "
        "e.g. 2026-01-17T00:03:53Z or 15m"
    )
    assert text_of(unknown) == (
        "Error: unknown tool 'delete_session' - list the tools with tools/list"
    )
    assert text_of(dot) == (
        "Error: repo '.' means a git checkout here, and the MCP server reads none - "
        "give repo OWNER/REPO, or no_repo for a session without one"
    )
    results = (missing, malformed, no_repo, bad_until, no_session, bad_limit, bad_since,
               unknown, dot)  # fmt: skip
    for result in results:
        assert result.is_error and "\n" not in text_of(result)


def test_a_wait_that_times_out_is_bounded_by_its_timeout_and_one_that_fails(in_process):
    async def body(session: ClientSession):
        failing = await session.call_tool(
            "create_session", {"prompt": "Break it [fail:no tests]", "no_repo": True}
        )
        failed = await session.call_tool(
            "wait_for_session", {"session": failing.structured_content["id"],
                                 "timeout_seconds": 30}
        )  # fmt: skip
        created = await session.call_tool(
            "create_session", {"prompt": "Never ends [stall]", "no_repo": True}
        )
        started = time.monotonic()
        waited = await session.call_tool(
            "wait_for_session", {"session": created.structured_content["id"],
                                 "timeout_seconds": 1.5}
        )
        return failed, waited, time.monotonic() - started

    failed, waited, elapsed = in_process(body)
    assert not failed.is_error  # the wait worked; its outcome says how the session ended
    assert failed.structured_content["outcome"] == "failed"
    assert failed.structured_content["session"]["state"] == "FAILED"
    assert not waited.is_error
    assert waited.structured_content["outcome"] == "timeout"
    assert waited.structured_content["session"]["state"] in ("QUEUED", "PLANNING", "IN_PROGRESS")
    assert 1.4 <= elapsed < 8


def test_against_a_server_the_key_is_sent_and_never_written(emulator_server):
    """...and the results are the API's objects unchanged; a wait is bounded by its
    timeout even when the service fails (the client's retries and their pauses, 7.5 s
    for one request here, are cut at the timeout as `session wait --timeout` cuts them)."""
    key = emulator_server.env["JULES_API_KEY"]
    run = serve(env=emulator_server.env)
    sid = emulator_server.emulator.create_session({"prompt": "Hold [stall:queued]"})["id"]
    given_up = emulator_server.emulator.create_session({"prompt": "Hold [stall]"})["id"]

    def reads_of(session_id: str) -> int:
        path = f"/v1alpha/sessions/{session_id}"
        return sum(1 for r in emulator_server.requests() if r["path"].startswith(path))

    async def body(session: ClientSession):
        listed = await session.call_tool("list_sources", {})
        got = await session.call_tool("get_session", {"session": sid})
        failing = await session.call_tool("get_session", {"session": "999"})
        # A wait the agent gives up on (the SDK sends notifications/cancelled) stops
        # polling at once, instead of spending the quota until its timeout.
        with anyio.move_on_after(0.5):
            await session.call_tool("wait_for_session",
                                    {"session": given_up, "timeout_seconds": 60})  # fmt: skip
        assert reads_of(given_up) >= 1  # it was polling
        await anyio.sleep(1.0)  # a request in flight when it was cancelled ends
        after_cancel = reads_of(given_up)
        await anyio.sleep(0.5)
        assert reads_of(given_up) == after_cancel
        emulator_server.fault(status=503, times=None, method="GET", path=f"sessions/{sid}")
        started = time.monotonic()
        outage = await session.call_tool("wait_for_session",
                                         {"session": sid, "timeout_seconds": 1})  # fmt: skip
        return listed, got, failing, outage, time.monotonic() - started

    listed, got, failing, outage, elapsed = run(body)
    assert not listed.is_error
    served = emulator_server.emulator.list_sources()["sources"]
    assert listed.structured_content == {"sources": served}
    assert json.loads(text_of(listed)) == {"sources": served}
    assert got.structured_content == emulator_server.emulator.get_session(sid)
    assert failing.is_error and key not in text_of(failing)
    assert outage.is_error and text_of(outage).startswith(f"Error: sessions/{sid}: ")
    assert "503" in text_of(outage) and elapsed < 5
    requests = emulator_server.requests()
    assert requests and all(r["apiKey"] == key for r in requests)


def test_the_key_from_the_profile_and_one_quota_for_every_reply_it_waits_for(
    tmp_path, run_jules, emulator_server_factory
):
    """With no JULES_API_KEY the profile's key is used (`--profile` as everywhere), and
    the replies it waits for at once share one ListActivities quota (CLI.md: 30 a minute,
    12 in any 20 s, per follower whatever it follows), here at JULES_POLL_SCALE=0.05: each
    follower alone would poll about every 0.1 s, as the sessions keep bringing activities;
    together they are held to 0.105 s apart. Only upper bounds: a slow machine cannot
    make it fail."""
    from jules_cli.follow import timestamp_ns
    from tests.test_pacing import most_in_any

    key = "profile-key-6c1f0e"
    server = emulator_server_factory(api_key=key)
    login = run_jules("--profile", "work", "auth", "login", "--with-key", "--no-verify",
                      input=key + "\n", env={"JULES_API_URL": server.url})  # fmt: skip
    assert login.returncode == 0, login.stderr
    scale = 0.05
    errlog = tmp_path / "stderr.txt"
    run = serve("--profile", "work", errlog=str(errlog),
                env={"JULES_API_URL": server.url, "JULES_POLL_SCALE": str(scale)})  # fmt: skip

    sids: list[str] = []

    async def body(session: ClientSession):
        # Created once the server is up, so that they are still busy when followed.
        sids.extend(server.emulator.create_session({"prompt": "Busy [many:600]"})["id"]
                    for _ in range(3))  # fmt: skip
        results: list[Any] = []

        async def reply(sid: str) -> None:
            # [slow:100]: the emulator answers after 300 simulated seconds, 1.5 s here.
            results.append(await session.call_tool(
                "send_message",
                {"session": sid, "message": "Also log it [slow:100]", "wait_reply": True},
            ))  # fmt: skip

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for sid in sids:
                group.start_soon(reply, sid)
        return results, started, time.monotonic()

    results, started, ended = run(body)
    for result in results:
        assert not result.is_error, text_of(result)
        assert "Also log it" not in json.dumps(result.structured_content["reply"])
        assert "agentMessaged" in result.structured_content["reply"]
    requests = server.requests()
    assert requests and all(r["apiKey"] == key for r in requests)
    assert key not in errlog.read_text()
    lists = [r for r in requests if r["path"].endswith("/activities")]
    assert {r["path"].split("/")[3] for r in lists} == set(sids)  # every one was followed
    spacing = 2.1 * scale
    assert len(lists) <= (ended - started) / spacing + 1
    times = [timestamp_ns(r["time"]) / 1e9 for r in lists]
    assert most_in_any(times, 20 * scale) <= 12


def test_a_client_that_goes_away_mid_wait_ends_the_server_at_once():
    """stdin closed while wait_for_session runs (the agent quit): the server exits, its
    wait stopped at the next pause, rather than polling on to the wait's timeout."""
    process = subprocess.Popen(
        [*jules_command(), "--emulator", "--emulator-speed", "200", "mcp", "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip

    def ask(message: dict[str, Any], answer: bool = True) -> dict[str, Any] | None:
        process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline()) if answer else None

    try:
        ask({"id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}})  # fmt: skip
        ask({"method": "notifications/initialized"}, answer=False)
        created = ask({"id": 2, "method": "tools/call", "params": {
            "name": "create_session",
            "arguments": {"prompt": "Never ends [stall]", "no_repo": True}}})  # fmt: skip
        sid = created["result"]["structuredContent"]["id"]
        ask({"id": 3, "method": "tools/call", "params": {
            "name": "wait_for_session",
            "arguments": {"session": sid, "timeout_seconds": 120}}}, answer=False)  # fmt: skip
        time.sleep(0.3)
        process.stdin.close()
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_with_stdin_still_open_ends_the_server_with_its_one_line():
    """A supervisor stopping the server while the agent still holds its stdin: the SDK's
    stdin reader thread would keep Python from exiting; it exits 143 with one line."""
    import signal

    process = subprocess.Popen(
        [*jules_command(), "--emulator", "mcp", "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        process.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "test", "version": "1"}}}) + "\n")  # fmt: skip
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1  # serving
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 143
        assert process.stderr.read().splitlines()[-1] == "Error: terminated (SIGTERM)"
    finally:
        process.kill()
        process.wait()


def test_without_a_key_it_says_so_and_exits_4_without_asking(tmp_path):
    result = subprocess.run(
        [*jules_command(), "mcp", "serve"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "JULES_API_URL": "http://127.0.0.1:9/v1alpha"},
    )
    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr.startswith("Error: no API key")


def test_without_the_sdk_it_says_how_to_install_it(tmp_path):
    blocked = (
        "import sys; sys.modules['mcp'] = None; "
        "from jules_cli.__main__ import main; sys.exit(main(['--emulator', 'mcp', 'serve']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'julesctl[mcp]'" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


def test_no_other_command_imports_mcp(tmp_path, emulator_server):
    for args in (("sources", "list", "--json"), ("session", "list"), ("--help",)):
        run = probe(tmp_path, *args, env=emulator_server.env)
        assert run.code == 0, run.stderr
        assert run.heavy(("mcp", "jules_cli.mcp", "pydantic", "starlette")) == [], args


def test_create_session_follows_the_branch_and_session_id_rules(in_process):
    """A branch the source does not list is sent anyway (the API lists active branches
    only; here the emulator's API refuses it, with its own message), and every tool takes
    the session's web URL where an id is wanted."""

    async def body(session: ClientSession):
        unlisted = await session.call_tool(
            "create_session",
            {"prompt": "x", "repo": "jules-demo/hello-world", "branch": "feature/not-listed"},
        )
        created = await session.call_tool(
            "create_session",
            {"prompt": "Hold [stall:queued]", "repo": "jules-demo/hello-world",
             "branch": "develop"},
        )
        sid = created.structured_content["id"]
        by_url = await session.call_tool(
            "get_session", {"session": f"https://jules.google.com/session/{sid}?tab=plan"}
        )
        return unlisted, created, by_url

    unlisted, created, by_url = in_process(body)
    assert unlisted.is_error
    assert text_of(unlisted).startswith("Error: sessions: INVALID_ARGUMENT (400): Branch ")
    assert not created.is_error, text_of(created)
    context = created.structured_content["sourceContext"]["githubRepoContext"]
    assert context["startingBranch"] == "develop"
    assert not by_url.is_error and by_url.structured_content["id"] == (
        created.structured_content["id"])
