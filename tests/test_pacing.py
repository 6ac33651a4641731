"""The ListActivities pacer (jules_cli/pacing.py): the contract's 30 a minute, at most 12 in
any 20 s, for one follower or many sharing it, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from jules_cli.pacing import FOLLOWERS_PER_PROJECT, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def most_in_any(times: list[float], window: float) -> int:
    """The largest number of calls inside any closed interval of length `window`."""
    return max(sum(1 for t in times if start <= t <= start + window) for start in times)


def calls_of(pacer: Pacer, fake: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        assert pacer.acquire()
        times.append(fake.now)
    return times


def test_back_to_back_calls_keep_both_limits_even_counting_closed_windows() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    times = calls_of(pacer, fake, 200)
    assert most_in_any(times, 60.0) <= 30
    assert most_in_any(times, 20.0) <= 12
    # However a minute is counted, fence posts included: at most 29.
    assert most_in_any(times, 60.0) == 29 and most_in_any(times, 20.0) == 10
    # Spread out, not bursts then stalls: every gap is the even pace of 2.1 s.
    gaps = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    assert min(gaps) == pytest.approx(2.1) and max(gaps) == pytest.approx(2.1)
    # Sustained: within 5 % of 30 a minute.
    assert 28.5 <= (len(times) - 1) / (times[-1] - times[0]) * 60 <= 30


def test_the_first_call_goes_at_once_and_a_slow_caller_never_waits() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    assert pacer.delay() == 0
    for _ in range(50):
        assert pacer.acquire()
        fake.now += 5.0  # an idle follower: 12 a minute
    assert fake.sleeps == []
    assert pacer.calls == 50


def test_burst_window_binds_when_the_spacing_is_off() -> None:
    fake = FakeTime()
    pacer = Pacer(spacing=0, margin=0, clock=fake.clock, sleep=fake.sleep)
    times = calls_of(pacer, fake, 40)
    assert times[:12] == [0.0] * 12
    assert times[12] == 20.0  # the 13th waits until the first leaves the 20 s window
    assert most_in_any([t + 1e-9 * i for i, t in enumerate(times)], 19.999) <= 12
    # 30 a minute: the 31st call is a minute after the first.
    assert times[30] == 60.0


def test_delay_and_try_acquire_count_nothing_when_refused() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    assert pacer.try_acquire()
    assert not pacer.try_acquire()
    assert pacer.delay() == pytest.approx(2.1)
    fake.now += 0.5
    assert pacer.delay() == pytest.approx(1.6)
    assert pacer.calls == 1
    fake.now += 1.6
    assert pacer.try_acquire() and pacer.calls == 2


def test_acquire_with_a_deadline_refuses_at_once_rather_than_wait_past_it() -> None:
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    assert pacer.acquire()
    assert not pacer.acquire(deadline=fake.now + 1.0)
    assert fake.sleeps == [] and pacer.calls == 1
    assert pacer.acquire(deadline=fake.now + 2.1)
    assert fake.sleeps == pytest.approx([2.1]) and pacer.calls == 2


def test_one_pacer_shared_by_many_followers_keeps_the_total_at_30_a_minute() -> None:
    """Ten sessions followed by one process (the dashboard, a multi-session wait): the
    limit is the process's, so together they stay at 30 a minute, taking turns."""
    fake = FakeTime()
    pacer = Pacer(clock=fake.clock, sleep=fake.sleep)
    times: list[tuple[float, int]] = []
    for _round in range(10):
        for session in range(10):
            pacer.acquire()
            times.append((fake.now, session))
    stamps = [t for t, _ in times]
    assert most_in_any(stamps, 60.0) <= 30
    assert most_in_any(stamps, 20.0) <= 12
    # Round robin: each session got its turn every 10 calls.
    assert [s for _, s in times[:20]] == list(range(10)) * 2


def test_threads_sharing_a_pacer_get_distinct_slots() -> None:
    """Reservations are made under a lock, so concurrent followers never share a slot."""
    lock = threading.Lock()
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            slept.append(seconds)

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    threads = [threading.Thread(target=pacer.acquire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Nobody's clock moved: the 8 calls were given the slots 0, 2.1, 4.2, ... 14.7.
    assert sorted(slept) == pytest.approx([2.1 * n for n in range(1, 8)])
    assert pacer.calls == 8


def test_scaled_pacer_keeps_the_shape_and_the_budget_arithmetic() -> None:
    fake = FakeTime()
    pacer = Pacer.scaled(0.01, clock=fake.clock, sleep=fake.sleep)
    times = calls_of(pacer, fake, 100)
    assert most_in_any(times, 0.6) <= 30
    assert most_in_any(times, 0.2) <= 12
    assert FOLLOWERS_PER_PROJECT == 4  # 120 a minute per project / 30 per follower


@pytest.mark.parametrize(
    "kwargs",
    [{"windows": ()}, {"windows": ((0, 60.0),)}, {"windows": ((5, 0.0),)}, {"spacing": -1}],
)
def test_nonsense_limits_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        Pacer(**kwargs)


# -- end to end: the installed `jules` keeps to it ------------------------------------------


def test_a_follower_with_the_smallest_interval_is_still_held_to_the_quota(
    run_jules, emulator_server
):
    """`--interval 1` asks for 60 lists a minute; the pacer lets 30 through (here with the
    test scale JULES_POLL_SCALE=0.05: an interval of 0.05 s against a spacing of 0.105 s).
    Only an upper bound is asserted, so a slow machine cannot make it fail."""
    import time

    created = emulator_server.emulator.create_session({"prompt": "Stay busy [stall]"})
    emulator_server.settle()
    emulator_server.clear_requests()
    started = time.monotonic()
    result = run_jules(
        "activities", "tail", created["id"], "--interval", "1", "--timeout", "1.5",
        env={**emulator_server.env, "JULES_POLL_SCALE": "0.05"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 10, result.stderr  # the timeout, as asked
    lists = [
        r for r in emulator_server.requests()
        if r["path"] == f"/v1alpha/sessions/{created['id']}/activities"
    ]  # fmt: skip
    assert 1 <= len(lists) <= elapsed / (2.1 * 0.05) + 1
    # The emulator logs each request's wall-clock time: no burst either, at most 12 in any
    # (scaled) 20 s, and spread out: 5 in any half second when evenly spaced; 7 allowed, as
    # on a busy machine an answer that comes late (the server shares this process) lets
    # the next call go at once and squeezes a pair together, twice in a window at worst.
    from jules_cli.follow import timestamp_ns

    times = [timestamp_ns(r["time"]) / 1e9 for r in lists]
    assert most_in_any(times, 20 * 0.05) <= 12
    assert most_in_any(times, 0.5) <= 7
