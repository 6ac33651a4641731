"""Pacing of ListActivities: the API's 120 calls a minute per project, shared by followers.

Every follower (`session wait`, `activities tail`, `session new --follow/--wait`,
`session send --wait-reply`, and several sessions followed at once by one process: the
dashboard, a multi-session wait, the MCP server) makes at most 30 ListActivities calls a
minute, spread out: at most 12 in any 20 seconds (CLI.md, `session wait`). That is a
quarter of the project's budget, so four followers fit in it whatever the sessions do.

The rule is kept by one object, a `Pacer`, asked before every HTTP attempt of a
ListActivities call (each page and each retry count as one call):

    pacer = Pacer()                 # 30 a minute, 12 in 20 s, calls at least 2.1 s apart
    pacer.acquire()                 # blocks until a call may go, then counts it
    pacer.acquire(deadline=t)       # ... or returns False at once (counting nothing)
                                    #     when that would be after clock time t
    pacer.try_acquire()             # a call now, if one may go now (no waiting)
    pacer.delay()                   # seconds until a call could go (counts nothing)
    pacer.calls                     # how many calls it has let through

ONE pacer is meant to be shared by every follower in a process: the limit is per
follower whatever the number of sessions it follows (a dashboard or a multi-session wait
following 40 sessions is one follower), so share it rather than make one per session.
It is thread-safe and first come, first served: each `acquire` reserves the next free
slot under a lock and sleeps outside it, so threads (Textual workers, MCP requests) queue
fairly and never wake up together. Passing it:

    follow(client, sid, pacer=pacer)                  # the polling engine (jules_cli.follow)
    ActivityPoller(client, sid, pacer=pacer)          # one session's new activities
    client.list_activities(sid, since=t, pacer=pacer) # JulesClient: paces each page, retry
    send_and_wait(client, sid, text, pacer=pacer)     # `session send --wait-reply`

`shared()` is the process-wide pacer the CLI's followers use (real clock); tests make
their own with an injected `clock` and `sleep`.

Why the calls are also spaced (`spacing`, 2.1 s by default) and not only counted in
windows: counting alone would let a quick follower make 12 calls in 12 s and then stall for
8, which is both the burst the API dislikes and a worse delay for the next line. Each
window is also measured `margin` seconds longer than its nominal length, so that a
client-side count that is exact still reads as within the limit on the server's clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# The contract's numbers (CLI.md, `session wait`); the API's budget is 120 a minute.
CALLS_PER_MINUTE = 30
BURST_CALLS = 12
BURST_WINDOW = 20.0
# Calls at least this far apart: the per-minute rate evenly spread, plus 5 %, so that
# however a minute is counted (fence posts: calls at 0, 2, ... 60 s are 31 in a closed
# minute) it holds at most 29, and 20 s at most 10.
SPACING = 2.1
# Extra length of every window, for clock differences between us and the server.
MARGIN = 0.5
# How many followers, each at its limit, fit into the API's budget of one project.
API_CALLS_PER_MINUTE = 120
FOLLOWERS_PER_PROJECT = API_CALLS_PER_MINUTE // CALLS_PER_MINUTE


class Pacer:
    """A shared limit on calls: at most `limit` in any `window` seconds for each
    (limit, window) in `windows`, and consecutive calls at least `spacing` apart."""

    def __init__(
        self,
        *,
        windows: tuple[tuple[int, float], ...] = (
            (CALLS_PER_MINUTE, 60.0),
            (BURST_CALLS, BURST_WINDOW),
        ),
        spacing: float = SPACING,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not windows or any(limit < 1 or length <= 0 for limit, length in windows):
            raise ValueError("every window needs a limit of at least 1 and a positive length")
        if spacing < 0 or margin < 0:
            raise ValueError("spacing and margin must not be negative")
        self._windows = tuple((int(limit), float(length) + margin) for limit, length in windows)
        self._spacing = float(spacing)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Times of the calls (past, or reserved in the future) the windows still hold.
        self._log: deque[float] = deque(maxlen=max(limit for limit, _ in self._windows))
        self.calls = 0

    @classmethod
    def scaled(cls, scale: float, **kwargs) -> Pacer:
        """The default limits with every length multiplied by `scale` (tests against the
        emulator: JULES_POLL_SCALE); scale 1 is the contract's pacer."""
        windows = ((CALLS_PER_MINUTE, 60.0 * scale), (BURST_CALLS, BURST_WINDOW * scale))
        return cls(windows=windows, spacing=SPACING * scale, margin=MARGIN * scale, **kwargs)

    def _next_slot(self, now: float) -> float:
        """The earliest time >= now at which one more call keeps every limit."""
        slot = now
        if self._log:
            slot = max(slot, self._log[-1] + self._spacing)
        for limit, length in self._windows:
            if len(self._log) >= limit:
                # The window ending at `slot` must no longer hold the limit-th newest call.
                slot = max(slot, self._log[-limit] + length)
        return slot

    def delay(self) -> float:
        """Seconds from now until a call could go (0: at once). Reserves nothing."""
        with self._lock:
            now = self._clock()
            return max(self._next_slot(now) - now, 0.0)

    def try_acquire(self) -> bool:
        """Count a call and return True if one may go now; else False, counting nothing."""
        with self._lock:
            now = self._clock()
            if self._next_slot(now) > now:
                return False
            self._record(now)
            return True

    def acquire(self, deadline: float | None = None) -> bool:
        """Wait until a call may go and count it; True.

        With `deadline` (a time of `clock`): when the call could only go after it, return
        False at once without waiting or counting anything.
        """
        with self._lock:
            now = self._clock()
            slot = self._next_slot(now)
            if deadline is not None and slot > deadline:
                return False
            self._record(slot)
        if slot > now:
            self._sleep(slot - now)
        return True

    def _record(self, when: float) -> None:
        self._log.append(when)
        self.calls += 1


_shared: Pacer | None = None
_shared_lock = threading.Lock()


def shared(scale: float = 1.0) -> Pacer:
    """The process's one pacer for ListActivities, created on first use (with `scale`,
    see Pacer.scaled; later calls get the same pacer whatever their scale)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Pacer.scaled(scale)
        return _shared
