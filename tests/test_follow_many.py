"""The multi-session wait engine (jules_cli.follow.follow_many) and --stall, against the
in-process emulator on a fake clock: every request is real (WSGI), no time really passes,
and the emulator's request log says exactly what reached the server and when."""

from __future__ import annotations

from collections import Counter

import pytest

from jules_cli.errors import ExitCode, NotFound
from jules_cli.follow import (
    OUTCOME_COMPLETED,
    OUTCOME_FAILED,
    OUTCOME_NEEDS_USER,
    OUTCOME_STALLED,
    OUTCOME_TIMEOUT,
    StallWatch,
    follow,
    follow_many,
    most_severe,
)
from jules_cli.pacing import Pacer
from jules_cli.times import parse_time

SOURCE = "sources/github/jules-demo/hello-world"


def create(env, prompt: str, **fields) -> str:
    body = {
        "prompt": prompt,
        "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": "main"}},
        **fields,
    }
    return env.emulator.create_session(body)["id"]


def wait_many(env, ids, **kwargs):
    """follow_many on the fake clock with a real pacer on the same clock."""
    clock = env.clock
    kwargs.setdefault("pacer", Pacer(clock=clock, sleep=clock.sleep))
    changes: list[tuple[str, str | None, str]] = []
    ended: list[str] = []
    results = follow_many(
        env.client,
        ids,
        clock=clock,
        wall=clock,
        sleep=clock.sleep,
        on_state_change=lambda sid, old, new, session: changes.append((sid, old, new)),
        on_end=lambda sid, result: ended.append(sid),
        **kwargs,
    )
    return results, changes, ended


def api_requests(env, suffix: str | None = None, method: str = "GET") -> list[dict]:
    """The API requests received, each `path` relative to /v1alpha/ (e.g. sessions/123)."""
    found = [
        {**r, "path": r["path"].removeprefix("/v1alpha/")}
        for r in env.app.requests()
        if r["method"] == method
    ]
    if suffix is not None:
        found = [r for r in found if r["path"].endswith(suffix)]
    return found


def test_most_severe_follows_the_contract_order() -> None:
    assert most_severe([0, 11, 10, 9, 8]) == 8
    assert most_severe([0, 11, 10, 9]) == 9
    assert most_severe([11, 10, 0]) == 10
    assert most_severe([0, 11]) == 11
    assert most_severe([0, 0]) == 0
    assert most_severe([]) == 0


def test_waits_on_all_of_them_and_returns_results_in_the_order_given(emulator_wsgi) -> None:
    env = emulator_wsgi
    ok = create(env, "Add a greeting")
    failing = create(env, "Add a greeting [fail:no tests]")
    asking = create(env, "Add a greeting [ask]")
    results, changes, ended = wait_many(env, [asking, ok, failing])
    assert [r.outcome for r in results] == [OUTCOME_NEEDS_USER, OUTCOME_COMPLETED, OUTCOME_FAILED]
    assert [r.exit_code for r in results] == [9, 0, 8]
    assert [r.session["id"] for r in results] == [asking, ok, failing]
    assert most_severe(r.exit_code for r in results) == ExitCode.WAIT_FAILED
    assert sorted(ended) == sorted([ok, failing, asking])
    # Every session's moves were reported with its id, starting from its first state.
    for sid, final in ((ok, "COMPLETED"), (failing, "FAILED"), (asking, "AWAITING_USER_FEEDBACK")):
        moves = [(old, new) for s, old, new in changes if s == sid]
        assert moves[0][0] is None and moves[-1][1] == final


def test_any_returns_as_soon_as_the_first_one_ends(emulator_wsgi) -> None:
    env = emulator_wsgi
    slow = create(env, "Work forever [stall]")
    quick = create(env, "Ask first [ask]")
    results, _, ended = wait_many(env, [slow, quick], first=True)
    assert results[0] is None
    assert results[1].outcome == OUTCOME_NEEDS_USER and results[1].session["id"] == quick
    assert ended == [quick]


def test_one_list_page_serves_recent_sessions_instead_of_a_get_each(emulator_wsgi) -> None:
    env = emulator_wsgi
    ids = [create(env, f"Task {n}") for n in range(5)]
    results, _, ended = wait_many(env, ids)
    assert all(r.exit_code == 0 for r in results)
    gets = [r for r in api_requests(env) if r["path"].count("/") == 1]
    lists = [r for r in api_requests(env) if r["path"] == "sessions"]
    assert lists, "the states were read with sessions.list"
    # Every state came from the list page while it served two or more; a last one left
    # alone is read by id (as cheap, and a smaller answer).
    assert {r["path"] for r in gets} <= {f"sessions/{ended[-1]}"}
    assert len(gets) < len(lists)
    assert lists[0]["query"]["pageSize"] == "100"  # then only as far as the oldest one
    # The archived ones too: a session archived meanwhile must not vanish from the wait.
    assert all("archived = true" in r["query"]["filter"] for r in lists)


def test_an_old_session_is_read_by_id_and_a_lone_one_never_lists(emulator_wsgi) -> None:
    env = emulator_wsgi
    old = create(env, "An old one [stall]")
    env.clock.advance(1)
    for n in range(100):  # push it out of the newest page
        create(env, f"Filler {n} [stall]")
        env.clock.advance(0.001)
    recent = [create(env, "Recent A"), create(env, "Recent B"), create(env, "Recent C")]
    results, _, ended = wait_many(env, [old, *recent], timeout=120)
    assert [r.outcome for r in results] == [OUTCOME_TIMEOUT] + [OUTCOME_COMPLETED] * 3
    gets = Counter(r["path"] for r in api_requests(env) if r["path"].count("/") == 1)
    lists = [r for r in api_requests(env) if r["path"] == "sessions"]
    assert gets[f"sessions/{old}"] >= len(lists)  # read by id at every cycle
    assert gets[f"sessions/{recent[0]}"] + gets[f"sessions/{recent[1]}"] <= 1

    env.app.clear_requests()
    alone = create(env, "Alone")
    wait_many(env, [alone])
    assert not [r for r in api_requests(env) if r["path"] == "sessions"]


def test_a_timeout_ends_every_open_wait_with_10(emulator_wsgi) -> None:
    env = emulator_wsgi
    done = create(env, "Quick")
    stuck = create(env, "Forever [stall]")
    started = env.clock()
    results, _, _ = wait_many(env, [done, stuck], timeout=300)
    assert [r.exit_code for r in results] == [0, 10]
    assert results[1].state == "IN_PROGRESS"
    assert env.clock() - started == pytest.approx(300, abs=0.01)  # never slept past it


def test_an_unknown_session_ends_the_whole_wait_at_once(emulator_wsgi) -> None:
    env = emulator_wsgi
    real = create(env, "Quick")
    with pytest.raises(NotFound):
        wait_many(env, [real, "999999"])


# -- --stall ---------------------------------------------------------------------------------


def test_a_silent_session_stalls_with_11_and_how_long(emulator_wsgi) -> None:
    env = emulator_wsgi
    stuck = create(env, "Forever [stall]")
    env.clock.advance(300)  # its last activity is well before the wait starts
    fine = create(env, "Quick")
    started = env.clock()
    results, _, ended = wait_many(env, [stuck, fine], stall=30)
    assert results[1].exit_code == 0 and ended == [stuck, fine]  # the stall ended its wait only
    stalled = results[0]
    assert stalled.outcome == OUTCOME_STALLED and stalled.exit_code == ExitCode.WAIT_STALLED
    assert stalled.state == "IN_PROGRESS"
    # Counted from the start of the wait (later than its newest activity): it ends 30 s
    # and a bit after the start; the silence reported is the whole of it, since the newest
    # activity, some 300 s before the wait began.
    newest = max(
        parse_time(a["createTime"])
        for a in env.emulator.list_activities(stuck, page_size=100)["activities"]
    )
    assert stalled.silent_for > 300
    assert 30 <= newest + stalled.silent_for - started < 33  # when its wait ended


def test_stall_counts_from_the_newest_activity_when_that_is_later(emulator_wsgi) -> None:
    env = emulator_wsgi
    stuck = create(env, "Forever [stall]")
    started = env.clock()
    results, _, _ = wait_many(env, [stuck], stall=30)
    newest = max(
        parse_time(a["createTime"])
        for a in env.emulator.list_activities(stuck, page_size=100)["activities"]
    )
    assert newest > started  # the session kept working a while after the wait began
    assert results[0].outcome == OUTCOME_STALLED
    assert env.clock() - newest == pytest.approx(results[0].silent_for, abs=0.01)
    assert 30 <= results[0].silent_for < 33


def test_a_session_waiting_for_the_user_ends_with_9_not_as_a_stall(emulator_wsgi) -> None:
    env = emulator_wsgi
    asking = create(env, "Ask [ask]")
    env.emulator.settle()
    env.clock.advance(3600)  # silent for an hour: waiting for you, not stuck
    results, _, _ = wait_many(env, [asking], stall=0.5)
    assert results[0].outcome == OUTCOME_NEEDS_USER and results[0].exit_code == 9


def test_stall_watch_needs_a_look_after_the_deadline() -> None:
    watch = StallWatch(10, started_wall=100.0)
    assert not watch.needs_look(105) and watch.stalled(105, "IN_PROGRESS") is None
    assert watch.needs_look(110) and watch.stalled(110, "IN_PROGRESS") is None
    watch.saw([{"createTime": "1970-01-01T00:01:48Z"}], listed_at=110)  # an activity at 108
    assert watch.due_at == 118 and watch.stalled(112, "IN_PROGRESS") is None
    watch.saw([], listed_at=118.5)
    assert watch.stalled(118.5, "IN_PROGRESS") == pytest.approx(10.5)
    assert watch.stalled(118.5, "PAUSED") is None


def test_activities_tail_engine_stalls_too(emulator_wsgi) -> None:
    env = emulator_wsgi
    stuck = create(env, "Forever [stall]")
    seen: list[dict] = []
    result = follow(
        env.client,
        stuck,
        on_activity=seen.append,
        stall=20,
        clock=env.clock,
        wall=env.clock,
        sleep=env.clock.sleep,
    )
    assert result.outcome == OUTCOME_STALLED and result.exit_code == 11
    assert seen and 20 <= result.silent_for < 23


# -- the quota, with 20 sessions and faults ----------------------------------------------------


def test_twenty_sessions_with_faults_stay_within_the_list_activities_quota(emulator_wsgi) -> None:
    env = emulator_wsgi
    ids = []
    for n in range(20):
        suffix = " [fail:boom]" if n % 7 == 3 else " [ask]" if n % 5 == 4 else ""
        ids.append(create(env, f"Task {n}{suffix}"))
        env.clock.advance(0.5)
    # Faults on some: 503s and 429s on activities and on sessions (retried by the client).
    env.app.add_faults(
        [
            {"status": 503, "times": 3, "path": f"sessions/{ids[2]}/activities"},
            {"status": 429, "retryAfter": 2, "times": 2, "path": f"sessions/{ids[5]}/activities"},
            {"status": 503, "times": 2, "method": "GET", "path": "sessions"},
        ]
    )
    started = env.clock()
    results, _, ended = wait_many(env, ids, stall=600)
    codes = [r.exit_code for r in results]
    assert codes == [8 if n % 7 == 3 else 9 if n % 5 == 4 else 0 for n in range(20)]

    lists = [parse_time(r["time"]) for r in api_requests(env, "/activities")]
    assert len(lists) >= 14  # every completed session's activities were looked at
    for at in lists:  # no window of a minute, nor of 20 s, holds more than the contract allows
        assert sum(1 for t in lists if at <= t < at + 60) <= 30
        assert sum(1 for t in lists if at <= t < at + 20) <= 12
    # And the states cost one list page a cycle, not twenty GETs.
    gets = [r for r in api_requests(env) if r["path"].count("/") == 1]
    pages = [r for r in api_requests(env) if r["path"] == "sessions"]
    minutes = max((env.clock() - started) / 60, 1)
    assert {r["path"] for r in gets} <= {f"sessions/{ended[-1]}"}  # the last one, alone
    assert len(pages) / minutes <= 60


def test_stalls_due_together_wait_for_the_pacer_without_a_busy_loop(emulator_wsgi) -> None:
    env = emulator_wsgi
    ids = [create(env, f"Forever {n} [stall]") for n in range(4)]
    env.emulator.settle()
    env.clock.advance(600)
    env.app.clear_requests()
    started = env.clock()
    results, _, _ = wait_many(env, ids, stall=30)
    assert [r.outcome for r in results] == [OUTCOME_STALLED] * 4
    elapsed = env.clock() - started
    reads = [r for r in api_requests(env) if r["path"] == "sessions" or r["path"].count("/") == 1]
    # The four looks are spaced by the pacer (2 s apart); meanwhile the states are read at
    # the follower's pace, a few times a second at most, never in a tight loop.
    assert elapsed < 45
    assert len(reads) <= elapsed * 2, (len(reads), elapsed)


def test_the_list_page_shrinks_to_just_past_the_oldest_session_followed(emulator_wsgi) -> None:
    env = emulator_wsgi
    ids = [create(env, f"Task {n}") for n in range(3)]
    for n in range(30):  # newer sessions, not followed
        create(env, f"Newer {n} [stall]")
    wait_many(env, ids)
    sizes = [int(r["query"]["pageSize"]) for r in api_requests(env) if r["path"] == "sessions"]
    assert sizes[0] == 100  # the first read learns where they are
    # Then only to the oldest still followed (the 33rd newest at first), plus the slack.
    assert len(sizes) > 1 and sizes[1] == 33 + 10 and max(sizes[1:]) == 43
