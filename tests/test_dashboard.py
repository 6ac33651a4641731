"""`jules dashboard` with Textual's Pilot (headless), against the emulator in-process.

Every key, its failures, a 429 while running, and the screen as text at 80x24 and 120x40.
The emulator runs on a fake clock: sessions move only when a test advances it, and the
client's retries "sleep" on that clock, so nothing here waits for real time.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytest.importorskip("textual")

from jules_cli.api.client import JulesClient, RetryPolicy  # noqa: E402
from jules_cli.emulator import DEMO_API_KEY, Emulator, EmulatorApp  # noqa: E402
from jules_cli.tui.app import (  # noqa: E402
    DiffScreen,
    HelpScreen,
    NewSessionScreen,
    SessionScreen,
    SessionsScreen,
    colour_diff,
)
from tests.emulator_fixture import FakeClock  # noqa: E402

HELLO = "sources/github/jules-demo/hello-world"


class CountingPacer:
    """Lets `allow` calls through, then none; counts what it was asked."""

    def __init__(self, allow: int = 10_000) -> None:
        self.allow = allow
        self.calls = 0

    def delay(self) -> float:
        return 0.0 if self.calls < self.allow else float("inf")

    def try_acquire(self) -> bool:
        if self.calls >= self.allow:
            return False
        self.calls += 1
        return True


class Unplugged(httpx.BaseTransport):
    """The in-process transport, with a cable to pull: `offline` refuses connections."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.offline = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.emulator = Emulator(speed=1.0, clock=self.clock, rng_seed=7)
        self.app = EmulatorApp(self.emulator, sleep=self.clock.sleep)
        self.cable = Unplugged(httpx.WSGITransport(app=self.app))
        self.client = JulesClient(
            DEMO_API_KEY,
            "http://127.0.0.1/v1alpha",
            transport=self.cable,
            retry=RetryPolicy(jitter=0),
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        self.opened: list[str] = []

    def new(self, prompt: str, **body) -> str:
        request = {
            "prompt": prompt,
            "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
            **body,
        }
        return self.emulator.create_session(request)["id"]

    def dashboard(self, **kwargs):
        from jules_cli.tui.app import Dashboard

        kwargs.setdefault("pacer", CountingPacer())

        def open_url(url: str) -> bool:
            self.opened.append(url)
            return True

        return Dashboard(
            self.client,
            since=self.clock() - 24 * 3600,
            interval=3600,  # tests poll by hand: app.poll()
            open_url=open_url,
            current_repo=lambda: "jules-demo/hello-world",
            clock=self.clock,
            **kwargs,
        )

    def calls(self, path_end: str = "") -> list[str]:
        return [
            f"{r['method']} {r['path'].removeprefix('/v1alpha/')}"
            for r in self.app.requests()
            if r["path"].endswith(path_end)
        ]


@pytest.fixture
def world():
    w = World()
    w.ask = w.new("Add a greeting [ask]")
    w.plan = w.new("Refactor the parser", requirePlanApproval=True)
    w.done = w.new("Fix the README typo")
    w.failed = w.new("Upgrade the build [fail:The build does not start.]")
    w.emulator.settle()
    w.running = w.new("Port to Rust [stall:in_progress]")
    w.emulator.advance(60)
    yield w
    w.client.close()


def screen_text(app) -> str:
    """What the terminal shows, as lines of text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


async def until(pilot, condition, what: str = "the condition", timeout: float = 15.0) -> None:
    # A deadline in real time, not a number of tries: on a busy CI machine 200 pauses of
    # 10 ms can pass before a worker thread has had its turn. A pass returns at once.
    import time

    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.01)
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{screen_text(pilot.app)}")


async def polled(pilot) -> None:
    """One poll, waited for."""
    app = pilot.app
    await until(pilot, lambda: not app._polling, "the previous poll")
    app.poll()
    await until(pilot, lambda: not app._polling, "the poll")
    await pilot.pause()


async def started(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.first_table.is_set(), "the first table")
    await until(pilot, lambda: not app._polling, "the first poll's activities")
    await pilot.pause()


def status_line(app) -> str:
    return str(app.screen.query_one("#status").render())


def selected(app) -> str | None:
    return app.screen.current_id()


async def select(pilot, sid: str) -> None:
    table = pilot.app.screen.query_one("#sessions")
    table.move_cursor(row=table.get_row_index(sid))
    await pilot.pause()


def run(coroutine):
    asyncio.run(coroutine)


# -- the table --------------------------------------------------------------------------


def test_table_groups_sessions_at_80x24(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            text = screen_text(app)
            lines = text.splitlines()
            assert len(lines) == 24 and max(len(line) for line in lines) <= 80
            assert "2 need you, 1 running, 2 ended" in lines[0]
            order = [
                "Needs you (2)",
                "AWAITING_PLAN_APPROVAL",
                "AWAITING_USER_FEEDBACK",
                "Running (1)",
                "IN_PROGRESS",
                "Ended within 24h (2)",
                "FAILED",
                "COMPLETED",
            ]
            positions = [text.index(word) for word in order]
            assert positions == sorted(positions), text
            assert "Refactor the parser" in text
            assert " hello-world " in text  # the owner left out where both do not fit
            assert "q Quit" in lines[-1] and "? Keys" in lines[-1]
            # The cursor starts on the first session, not on a group heading.
            assert selected(app) == world.plan

    run(body())


def test_a_title_too_long_for_80_columns_ends_in_an_ellipsis(world):
    long_title = "Rewrite the date parser so that every locale round-trips cleanly"
    world.new(f"{long_title} [stall:queued]")

    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            row = next(line for line in screen_text(app).splitlines() if "Rewrite the" in line)
            assert row.rstrip().endswith("…") and long_title not in row
            assert len(row) <= 80

    run(body())


def test_table_at_120x40_shows_what_each_one_waits_for(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await polled(pilot)  # the activities of the changed sessions came in
            text = screen_text(app)
            assert len(text.splitlines()) == 40
            assert max(len(line) for line in text.splitlines()) <= 120
            assert "NOW" in text and "jules-demo/hello-world" in text
            assert "plan with 4 steps" in text
            assert "Before I continue" in text
            assert "The build does not start." in text

    run(body())


def test_up_down_j_k_skip_the_group_headings(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            assert selected(app) == world.plan
            await pilot.press("j")
            assert selected(app) == world.ask
            await pilot.press("down")  # over "Running (1)"
            assert selected(app) == world.running
            await pilot.press("j", "j")
            assert selected(app) == world.done
            await pilot.press("j")  # the last row: stays
            assert selected(app) == world.done
            await pilot.press("k", "up")
            assert selected(app) == world.running
            await pilot.press("k", "k", "k")  # over the heading to the top
            assert selected(app) == world.plan

    run(body())


def test_the_cursor_stays_on_its_session_when_the_rows_move(world):
    # A redraw that moves rows (a session changes group, a new one arrives above) keeps
    # the cursor on the session it was on: the next key acts on what the person chose.
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.done)
            world.new("Arrives above [stall:queued]")
            await polled(pilot)
            assert "Arrives above" in screen_text(app)
            assert selected(app) == world.done
            # The open session moves from "Needs you" to "Ended" while it is open.
            await select(pilot, world.plan)
            await pilot.press("enter", "a")
            await until(pilot, lambda: "approved" in status_line(app), "the approval")
            world.emulator.settle()
            await polled(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert selected(app) == world.plan
            await polled(pilot)
            assert selected(app) == world.plan
            await pilot.press("x")
            await until(pilot, lambda: "Archived" in status_line(app), "the archive")
            archived = [r["path"] for r in world.app.requests() if r["path"].endswith(":archive")]
            assert archived == [f"/v1alpha/sessions/{world.plan}:archive"]

    run(body())


def test_the_table_is_live(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            new = world.new("A brand new task")
            await polled(pilot)
            assert "A brand new task" in screen_text(app)
            assert "Running (2)" in screen_text(app)
            world.emulator.settle()
            await polled(pilot)
            assert "Ended within 24h (3)" in screen_text(app)
            assert new in {s["id"] for s in app.snapshot().ended}

    run(body())


def test_the_age_column_keeps_up_with_the_clock(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await polled(pilot)
            assert "3h ago" not in screen_text(app)
            world.clock.advance(3 * 3600)  # nothing changes but the time
            await polled(pilot)
            row = next(line for line in screen_text(app).splitlines() if "Refactor" in line)
            assert "3h ago" in row

    run(body())


# -- enter, a, r -------------------------------------------------------------------------


def test_enter_opens_the_plan_as_a_checklist_and_a_approves(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            world.app.clear_requests()
            await pilot.press("enter")
            assert isinstance(app.screen, SessionScreen)
            await until(pilot, lambda: "Plan" in screen_text(app), "the plan")
            await until(pilot, lambda: not app._polling, "the open session's read")
            # Its activities at once, and no sessions page more than one per interval.
            assert world.calls() == [f"GET sessions/{world.plan}/activities"]
            text = screen_text(app)
            assert "[ ] 1. Explore the repository" in text
            assert "[ ] 4. Submit the change" in text
            assert "waits for your approval: press a" in text
            assert f"jules session approve {world.plan}" in text
            # An activity too long for 80 columns wraps within its own column.
            lines = text.splitlines()
            row = next(n for n, line in enumerate(lines) if "plan with 4 steps:" in line)
            wrapped = lines[row + 1]
            column = lines[row].index("plan with 4 steps:")
            assert wrapped[:column].strip() == "" and wrapped[column] != " "
            await pilot.press("a")
            await until(pilot, lambda: "approved" in status_line(app), "the approval")
            assert world.calls(":approvePlan") == [f"POST sessions/{world.plan}:approvePlan"]
            world.emulator.advance(5)
            await polled(pilot)
            text = screen_text(app)
            assert "[>] 1. Explore the repository" in text, text
            assert "approved" in text  # the planApproved activity, live
            await pilot.press("escape")
            assert isinstance(app.screen, SessionsScreen)
            assert app.open_id is None

    run(body())


def test_a_on_a_session_without_a_plan_says_why(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.running)
            await pilot.press("a")
            assert status_line(app) == (
                f"a: session {world.running} is IN_PROGRESS: no plan waits for approval"
            )
            assert world.calls(":approvePlan") == []

    run(body())


def test_r_sends_a_message_and_the_answer_shows_when_it_comes(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.ask)
            await pilot.press("enter")
            await until(pilot, lambda: "Jules asks" in screen_text(app), "the question")
            assert "should the new greeting also be covered by a test?" in screen_text(app)
            await pilot.press("r")
            assert app.screen.query_one("#reply").display
            await pilot.press(*"yes please")
            await pilot.press("enter")
            await until(pilot, lambda: "Message sent" in status_line(app), "the send")
            sent = [r for r in world.app.requests() if r["path"].endswith(":sendMessage")]
            assert [r["body"] for r in sent] == [{"prompt": "yes please"}]
            world.emulator.advance(5)
            await polled(pilot)
            text = screen_text(app)
            assert "you" in text and "yes please" in text

    run(body())


def test_r_from_the_table_shows_the_answer_in_the_status_line(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            # A running session: the answer moves neither its state nor its updateTime.
            await select(pilot, world.running)
            await pilot.press("r", *"add a test", "enter")
            await until(pilot, lambda: "Message sent" in status_line(app), "the send")
            sent = [r["body"] for r in world.app.requests() if r["path"].endswith(":sendMessage")]
            assert sent == [{"prompt": "add a test"}]  # once, not twice
            await polled(pilot)  # read before the answer: nothing to show yet
            assert status_line(app).startswith("Message sent")
            world.emulator.advance(5)
            await polled(pilot)
            assert status_line(app) == (
                f"Answer from {world.running}: Thanks! Carrying on with the task."
            )
            assert isinstance(app.screen, SessionsScreen)

    run(body())


def test_a_reply_goes_to_the_session_it_was_started_for(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.ask)
            await pilot.press("r", *"hello")
            # Meanwhile a new session arrives above and the rows move.
            world.new("Arrives above [stall:queued]")
            await polled(pilot)
            await pilot.press("enter")
            await until(pilot, lambda: "Message sent" in status_line(app), "the send")
            assert world.calls(":sendMessage") == [f"POST sessions/{world.ask}:sendMessage"]
            # Its session archived elsewhere while typing: nothing goes to a neighbour.
            await pilot.press("r", *"again")
            world.emulator.archive_session(world.ask)
            await polled(pilot)  # a whole scan: it is gone from the view
            await pilot.press("enter")
            assert status_line(app) == (
                f"r: session {world.ask} is no longer listed; nothing was sent"
            )
            assert len(world.calls(":sendMessage")) == 1

    run(body())


def test_an_empty_reply_and_escape_send_nothing(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("r", "enter")
            assert status_line(app) == "r: the message is empty; nothing was sent"
            await pilot.press("r", "h", "i", "escape")
            assert not app.screen.query_one("#reply").display
            assert world.calls(":sendMessage") == []

    run(body())


# -- d, o, x, u ------------------------------------------------------------------------------


def test_d_shows_the_coloured_diff_with_its_diffstat(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.done)
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), "the diff")
            await pilot.pause()
            text = screen_text(app)
            assert "files changed" in text or "file changed" in text
            assert "diff --git" in text
            patch = colour_diff(app.screen.unidiff)
            styles = {str(span.style) for span in patch.spans}
            assert {"green", "bold yellow", "cyan"} <= styles
            await pilot.press("j", "pagedown")
            await pilot.press("escape")
            assert isinstance(app.screen, SessionsScreen)

    run(body())


def test_d_without_a_change_says_why(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.plan)
            await pilot.press("d")
            await until(pilot, lambda: "failed" in status_line(app), "the failure")
            assert status_line(app).startswith(f"d: the diff of {world.plan} failed: ")
            assert isinstance(app.screen, SessionsScreen)

    run(body())


def test_o_opens_the_browser(world, monkeypatch):
    from jules_cli.tui import app as tui_app

    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("o")
            assert world.opened == [f"https://jules.google.com/session/{world.plan}"]
            assert status_line(app).startswith("Opened https://")
            app.open_url = lambda url: False
            await pilot.press("o")
            assert status_line(app).startswith("o: no browser available; the page is https://")
            # At 80 columns the message wraps, whole: the URL is there to copy.
            await pilot.pause()
            assert f"https://jules.google.com/session/{world.plan}" in screen_text(app)
            assert "q Quit" in screen_text(app).splitlines()[-1]
            # A session URL from the API that is not https:// never reaches a browser.
            world.opened.clear()
            app.open_url = lambda url: world.opened.append(url) or True
            monkeypatch.setattr(tui_app, "session_url", lambda session: "file:///etc/passwd")
            await pilot.press("o")
            assert world.opened == []
            assert status_line(app).startswith("o: not opening the session's URL")

    run(body())


def test_x_pressed_again_before_the_answer_archives_once(world):
    import threading

    answer = threading.Event()
    archive = world.client.archive_session

    def slow_archive(sid):
        answer.wait(10)  # the API has not answered yet
        return archive(sid)

    world.client.archive_session = slow_archive

    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.failed)
            await pilot.press("x", "x")
            answer.set()
            await until(pilot, lambda: "Archived" in status_line(app), "the archive")
            await pilot.pause()
            assert world.calls(":archive") == [f"POST sessions/{world.failed}:archive"]
            assert [s["id"] for s in app.archived] == [world.failed]  # one u undoes it

    run(body())


def test_a_failing_archive_or_undo_says_why_and_changes_nothing_here(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.failed)
            world.app.add_faults({"status": 403, "times": 1, "path": "*:archive"})
            await pilot.press("x")
            await until(pilot, lambda: "failed" in status_line(app), "the failure")
            assert status_line(app).startswith(f"archiving {world.failed} failed: ")
            assert "Upgrade the build" in screen_text(app)  # still shown, still there
            assert selected(app) == world.failed
            await pilot.press("x")
            await until(pilot, lambda: "Archived" in status_line(app), "the archive")
            world.app.add_faults({"status": 403, "times": 1, "path": "*:unarchive"})
            await pilot.press("u")
            await until(pilot, lambda: "failed" in status_line(app), "the undo's failure")
            assert status_line(app).startswith(f"unarchiving {world.failed} failed: ")
            await pilot.press("u")  # still undoable
            await until(pilot, lambda: "Unarchived" in status_line(app), "the undo")
            assert "Upgrade the build" in screen_text(app)

    run(body())


def test_x_from_the_open_session_goes_back_to_the_table_saying_how_to_undo(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.failed)
            await pilot.press("enter", "x")
            await until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the table")
            await until(pilot, lambda: "Archived" in status_line(app), "the message")
            assert status_line(app) == f"Archived {world.failed}: press u to undo"
            await pilot.press("u")
            await until(pilot, lambda: "Unarchived" in status_line(app), "the undo")
            assert selected(app) == world.failed

    run(body())


def test_a_browser_that_needs_the_terminal_is_never_run_over_the_screen(world, tmp_path):
    # lynx, w3m or $BROWSER run in the terminal: the dashboard hands the terminal over
    # (App.suspend, seen in tests/test_e2e_dashboard_pty.py); where it cannot (here,
    # headless) it gives the URL instead of running one over the other.
    import webbrowser

    from jules_cli.tui.app import runs_in_the_terminal

    ran = tmp_path / "ran"
    lynx = webbrowser.GenericBrowser(["sh", "-c", f"touch {ran}", "%s"])
    assert runs_in_the_terminal(lynx)
    assert not runs_in_the_terminal(webbrowser.BackgroundBrowser("firefox"))

    async def body():
        app = world.dashboard()
        app.open_url = app._browse
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            original = webbrowser.get
            webbrowser.get = lambda using=None: lynx
            try:
                await pilot.press("o")
            finally:
                webbrowser.get = original
            assert status_line(app).startswith("o: no browser available; the page is https://")
            assert not ran.exists()

    run(body())


def test_x_archives_and_u_undoes(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await select(pilot, world.failed)
            await pilot.press("x")
            await until(pilot, lambda: "Archived" in status_line(app), "the archive")
            assert status_line(app) == f"Archived {world.failed}: press u to undo"
            assert world.emulator.get_session(world.failed)["archived"] is True
            assert "Upgrade the build" not in screen_text(app)
            assert selected(app) == world.done  # the session that took its place
            await polled(pilot)  # the next page does not bring it back
            assert "Upgrade the build" not in screen_text(app)
            await pilot.press("u")
            await until(pilot, lambda: "Unarchived" in status_line(app), "the undo")
            assert world.emulator.get_session(world.failed).get("archived") in (False, None)
            assert "Upgrade the build" in screen_text(app)
            assert selected(app) == world.failed  # the cursor back on it
            await pilot.press("u")
            assert status_line(app) == "u: nothing to undo"

    run(body())


# -- n, /, ?, q ------------------------------------------------------------------------------


def test_n_starts_a_session_from_the_form(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await pilot.press("n")
            assert isinstance(app.screen, NewSessionScreen)
            form = app.screen
            await until(pilot, lambda: bool(form.sources), "the sources")
            assert form.query_one("#repo").value == HELLO  # the checkout's repository
            await pilot.press(*"Write the docs")
            form.query_one("#branch").value = "develop"
            form.query_one("#approval").value = True
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "Created session" in status_line(app), "the create")
            assert isinstance(app.screen, SessionsScreen)
            created = [r for r in world.app.requests() if r["path"].endswith("/sessions")]
            created = [r for r in created if r["method"] == "POST"]
            assert [r["body"] for r in created] == [
                {
                    "prompt": "Write the docs",
                    "sourceContext": {
                        "source": HELLO,
                        "githubRepoContext": {"startingBranch": "develop"},
                    },
                    "requirePlanApproval": True,
                }
            ]
            assert "Write the docs" in screen_text(app)
            assert selected(app) == app.snapshot().running[0]["id"]  # the new session
            assert app.session(selected(app))["prompt"] == "Write the docs"

    run(body())


def test_n_takes_the_profiles_defaults_as_session_new_does(world):
    profile = {
        "require-approval": True,
        "auto-pr": True,
        "repo": "jules-demo/hello-world",
        "branch": "develop",
    }

    async def body():
        app = world.dashboard(setting=profile.get)
        app.current_repo = lambda: "someone/else"  # the profile's repo comes first
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("n")
            form = app.screen
            await until(pilot, lambda: bool(form.sources), "the sources")
            assert form.query_one("#repo").value == HELLO
            assert form.query_one("#branch").value == "develop"
            assert form.query_one("#approval").value and form.query_one("#autopr").value
            await pilot.press(*"Write the docs", "ctrl+s")
            await until(pilot, lambda: "Created session" in status_line(app), "the create")
            posted = [r["body"] for r in world.app.requests() if r["method"] == "POST"]
            assert posted == [
                {
                    "prompt": "Write the docs",
                    "sourceContext": {
                        "source": HELLO,
                        "githubRepoContext": {"startingBranch": "develop"},
                    },
                    "requirePlanApproval": True,
                    "automationMode": "AUTO_CREATE_PR",
                }
            ]

    run(body())


def test_n_says_when_the_checkouts_repository_is_not_connected(world):
    async def body():
        app = world.dashboard()
        app.current_repo = lambda: "someone/else"
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("n")
            form = app.screen
            await until(pilot, lambda: bool(form.sources), "the sources")
            assert status_line(app) == (
                "n: someone/else is not among the connected repositories: pick one"
            )
            assert form.query_one("#approval").value is False  # no profile: off
            assert form.query_one("#autopr").value is False

    run(body())


def test_n_refuses_an_empty_prompt_and_escape_cancels(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("n")
            # q and ? are text in the prompt: the key line offers only what works here.
            assert screen_text(app).splitlines()[-1].split() == [
                "esc", "Cancel", "ctrl+s", "Create"
            ]  # fmt: skip
            await pilot.press("ctrl+s")
            assert status_line(app) == "n: the prompt is empty"
            await pilot.press("escape")
            assert isinstance(app.screen, SessionsScreen)
            assert [r for r in world.app.requests() if r["method"] == "POST"] == []

    run(body())


def test_slash_filters_by_text_state_and_repo(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("slash", *"state:fail")
            text = screen_text(app)
            assert "Upgrade the build" in text and "Refactor the parser" not in text
            await pilot.press("enter")
            assert "filter: state:fail" in screen_text(app)
            await pilot.press("slash")
            app.screen.query_one("#filter").value = "rust"
            await pilot.pause()
            assert "Port to Rust" in screen_text(app)
            assert "Upgrade the build" not in screen_text(app)
            app.screen.query_one("#filter").value = "repo:nothing/here"
            await pilot.pause()
            assert "nothing matches" in screen_text(app)
            await pilot.press("escape")
            assert app.filter_text == ""
            assert "Refactor the parser" in screen_text(app)

    run(body())


def test_question_mark_lists_the_keys_and_q_quits(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            # Every key of CLI.md (and u), each on one row beside what it does, at 80 columns.
            from jules_cli.tui.app import KEYS

            lines = text.splitlines()
            for key, what in KEYS:
                assert any(key in line and what in line for line in lines), (key, text)
            wanted = ["enter", "a", "r", "d", "o", "x", "u", "n", "/", "?", "escape", "q"]
            assert [k for k, _ in KEYS][1:] == wanted
            await pilot.press("escape")
            assert isinstance(app.screen, SessionsScreen)
            await pilot.press("question_mark", "question_mark")  # ? again closes it too
            assert isinstance(app.screen, SessionsScreen)
            await pilot.press("question_mark", "q")  # q quits, from the keys too
            await pilot.pause()
        assert app.return_code == 0

    run(body())


def test_ctrl_c_ends_the_view_as_an_interrupt(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("r")  # even from an input line
            await pilot.press("ctrl+c")
            await pilot.pause()
        assert app.return_code == 130
        assert world.calls(":sendMessage") == []

    run(body())


# -- trouble ---------------------------------------------------------------------------------


def test_a_429_while_running_shows_in_the_status_line_and_the_view_goes_on(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            world.app.add_faults({"status": 429, "times": 5, "path": "sessions"})
            await polled(pilot)
            assert status_line(app).startswith("rate limited (429): ")
            assert "Refactor the parser" in screen_text(app)  # still there
            await pilot.press("j")  # keys still work
            assert selected(app) == world.ask
            world.new("After the storm")
            await polled(pilot)
            assert status_line(app) == "connected again"
            assert "After the storm" in screen_text(app)

    run(body())


def test_a_5xx_and_a_lost_connection_are_reported_too(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            world.app.add_faults({"status": 503, "times": 5, "path": "sessions"})
            await polled(pilot)
            assert status_line(app).startswith("service unavailable: ")
            world.cable.offline = True
            await polled(pilot)
            assert status_line(app).startswith("service unavailable: cannot connect to 127.0.0.1")
            assert "Refactor the parser" in screen_text(app)
            world.cable.offline = False
            await polled(pilot)
            assert status_line(app) == "connected again"

    run(body())


def test_a_failing_action_says_why(world):
    async def body():
        app = world.dashboard()
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            stale = {"status": 400, "message": "Plan is stale.", "path": "*approvePlan"}
            world.app.add_faults(stale)
            await pilot.press("a")
            await until(pilot, lambda: "failed" in status_line(app), "the failure")
            assert status_line(app).startswith(f"approving {world.plan} failed: ")
            assert "Plan is stale." in status_line(app)
            # A 429 that outlasts the retries: said as such, and nothing "still polls".
            world.app.add_faults({"status": 429, "times": 20, "path": "*approvePlan"})
            await pilot.press("a")
            await until(pilot, lambda: "429" in status_line(app), "the 429")
            assert status_line(app).startswith(f"approving {world.plan} failed: rate limited")
            assert "still polling" not in status_line(app)

    run(body())


def test_activities_are_read_only_for_changed_sessions_and_as_the_pacer_allows(world):
    async def body():
        pacer = CountingPacer(allow=2)
        app = world.dashboard(pacer=pacer)
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            assert len(world.calls("/activities")) == 2
            await polled(pilot)
            assert len(world.calls("/activities")) == 2  # no turn left
            pacer.allow = 100
            await polled(pilot)
            # Needs you (2), running (1), FAILED (1): the COMPLETED one never.
            read = {c.split("/")[1] for c in world.calls("/activities")}
            assert read == {world.plan, world.ask, world.running, world.failed}
            world.app.clear_requests()
            await polled(pilot)
            assert world.calls("/activities") == []  # nothing changed, nothing read

    run(body())


def test_the_first_page_read_before_the_app_starts_is_used(world):
    from jules_cli.overview import Tracker

    async def body():
        tracker = Tracker(world.client, world.clock() - 86400, pacer=CountingPacer())
        first = tracker.start_first_poll()
        first.join()
        app = world.dashboard(tracker=tracker, first_poll=first)
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            assert "Refactor the parser" in screen_text(app)
            # One page read in all: the app did not read it again.
            assert world.calls("sessions") == ["GET sessions"]

    run(body())


def test_a_failed_first_page_shows_and_the_next_poll_recovers(world):
    from jules_cli.overview import Tracker

    async def body():
        world.app.add_faults({"status": 503, "times": 5, "path": "sessions"})
        tracker = Tracker(world.client, world.clock() - 86400, pacer=CountingPacer())
        first = tracker.start_first_poll()
        app = world.dashboard(tracker=tracker, first_poll=first)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "unavailable" in status_line(app), "the error")
            assert "reading the sessions..." in screen_text(app).splitlines()[0]
            assert "0 need you" not in screen_text(app)
            await polled(pilot)
            assert status_line(app) == "connected again"
            assert "Refactor the parser" in screen_text(app)

    run(body())


def test_it_polls_one_page_every_interval_by_itself(world):
    async def body():
        app = world.dashboard()
        app.interval = 0.2
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await until(pilot, lambda: world.calls().count("GET sessions") >= 4, "4 polls")
            new = world.new("Arrived while nobody pressed anything")
            await until(pilot, lambda: app.session(new) is not None, "the new session")

    run(body())
