"""Screen tests: what a person at a terminal sees, not the bytes a program wrote.

A helper module for tests (not a test file). It runs the installed `jules` in a
pseudo-terminal of a given size and feeds everything it writes into a real VT100
emulator (pyte's HistoryScreen), the way GNU screen's own tests do. Cursor movement,
erasing and redrawing (a Rich live view, a spinner) are applied as a terminal would apply
them, so a test reads the screen and the scrollback a person would scroll back through:
a line that a live view moved the cursor up over and erased is gone here too, even
though its bytes are still in the raw output.

    from tests.screen import spawn

    def test_something(emulator_server):
        with spawn(["session", "list"], env=emulator_server.env, cols=80, rows=24) as term:
            term.expect("STATE")           # waits (with a time-out) until a person sees it
            term.expect_prompt("Delete it? [y/N]: ")  # the question, whole: now type
            term.send_line("y")            # types "y" and Enter, as a person would
            term.interrupt()               # Ctrl-C, through the terminal's line discipline
            assert term.wait() == 130      # reads to the end; the exit code
            print(term.text)               # scrollback + screen, one string
            assert "Plan approved." in term.lines

The child gets the pty's slave as stdin, stdout, stderr and controlling terminal, in its
own session, exactly what an interactive shell gives it: no JULES_TTY, no CI, no NO_COLOR,
no COLUMNS/LINES (the size comes from the terminal itself, and `resize()` changes it with
a SIGWINCH as a window manager would). TERM is xterm-256color.

The API is kept small and stable; other tests depend on it:

    spawn(args, *, env=None, cols=80, rows=24, cwd=None, stdout_to_pipe=False) -> Terminal
    Terminal.expect(text_or_regex, *, timeout=20, count=1) -> str   (the visible text)
    Terminal.expect_prompt(prompt, *, timeout=20)  wait until a question is written whole
                                                   (trailing space too), the cursor after it
    Terminal.expect_gone(text, *, timeout=20)      wait until `text` is no longer on screen
    Terminal.send(keys) / send_line(line="") / interrupt() / signal(signum)
    Terminal.resize(cols, rows)
    Terminal.wait(timeout=30) -> int               read to the end, the exit code
    Terminal.display -> list[str]                  the screen's rows now (right-stripped)
    Terminal.scrollback -> list[str]               rows scrolled off the top, oldest first
    Terminal.lines -> list[str]                    scrollback + display, trailing blanks cut
    Terminal.text -> str                           "\\n".join(lines)
    Terminal.style_at(text) -> Style | None        colour/bold/dim of the first visible `text`
    Terminal.raw -> bytes                          everything written, for failure messages
    Terminal.piped_output() -> str                 stdout when stdout_to_pipe=True

Every wait has a time-out and fails with the whole screen in its message, so a test
never hangs and a failure shows what the person would have seen.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal as _signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import jules_command

pyte = pytest.importorskip("pyte")

DEFAULT_TIMEOUT = 20.0
# Variables that would make jules think it is not at a person's terminal, or that would
# override the size the terminal reports.
_NOT_A_PERSON = ("CI", "JULES_TTY", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM")


@dataclass(frozen=True)
class Style:
    """How a character is drawn. `fg`/`bg` are pyte colour names ("red", "green",
    "brown" for yellow, "default", or a hex string for 256/true colours)."""

    fg: str
    bg: str
    bold: bool
    dim: bool
    italic: bool
    underline: bool
    reverse: bool


class _Screen(pyte.HistoryScreen):
    """A HistoryScreen that also tracks SGR 2 (faint/dim), which pyte ignores.

    pyte's character cells have no "faint" flag, so faint is recorded in the `blink` flag
    (SGR 5): nothing in jules blinks, and a screen test needs to tell dim text from
    normal text. SGR 22 (normal intensity) clears both bold and faint, as on a VT220.
    """

    def select_graphic_rendition(self, *attrs, **kwargs):
        mapped: list[int] = []
        rest = list(attrs)
        while rest:
            attr = rest.pop(0)
            if attr in (38, 48) and rest:
                # An extended colour: its parameters (`5;N`, `2;R;G;B`) are not SGR codes,
                # so the 5 of a 256-colour is not blink and the 2 of an RGB one not faint.
                count = {5: 2, 2: 4}.get(rest[0], 1)
                mapped.extend((attr, *rest[:count]))
                del rest[:count]
            elif attr == 2:
                mapped.append(5)
            elif attr == 5:
                continue
            elif attr == 22:
                mapped.extend((22, 25))
            else:
                mapped.append(attr)
        if attrs and not mapped:
            return None  # only a dropped blink: nothing changes (an empty SGR would reset)
        return super().select_graphic_rendition(*mapped, **kwargs)


def _row_text(row, columns: int) -> str:
    chars = []
    for x in range(columns):
        data = row[x].data
        chars.append(data)  # a wide character's second cell holds "" in pyte
    return "".join(chars).rstrip()


def asks(screen, prompt: str) -> bool:
    """Is `prompt` (trailing space included) written right before the cursor, with
    nothing after it on the cursor's row? A prompt may wrap over several rows."""
    cursor, columns = screen.cursor, screen.columns
    rows = ["".join(screen.buffer[y][x].data for x in range(columns)) for y in range(cursor.y + 1)]
    before = "".join(rows)[: cursor.y * columns + cursor.x]
    return before.endswith(prompt) and not rows[-1][cursor.x :].strip()


def become_terminal_session() -> None:
    # In the child, after stdin/stdout/stderr are the slave: a new session whose
    # controlling terminal is the pty, so a typed Ctrl-C reaches it as SIGINT.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)


class Terminal:
    """`jules ARGS` in a pseudo-terminal, rendered by a VT100 emulator."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        cols: int = 80,
        rows: int = 24,
        cwd: str | Path | None = None,
        stdout_to_pipe: bool = False,
    ) -> None:
        self.cols, self.rows = cols, rows
        self.screen = _Screen(cols, rows, history=100_000)
        # The line discipline turns "\n" into "\r\n" on output (onlcr), so LNM stays off.
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        full_env = {k: v for k, v in os.environ.items() if k not in _NOT_A_PERSON}
        full_env["TERM"] = "xterm-256color"
        full_env.update(env or {})
        master, slave = os.openpty()
        self._set_size(slave, cols, rows)
        self.process = subprocess.Popen(
            [*jules_command(), *args],
            stdin=slave,
            stdout=subprocess.PIPE if stdout_to_pipe else slave,
            stderr=slave,
            env=full_env,
            cwd=cwd,
            preexec_fn=become_terminal_session,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self._open = True  # False once the child closed its end of the terminal

    # -- what a person sees -------------------------------------------------------------

    @property
    def display(self) -> list[str]:
        """The rows of the screen now, right-stripped (always `rows` of them)."""
        return [_row_text(self.screen.buffer[y], self.cols) for y in range(self.rows)]

    @property
    def scrollback(self) -> list[str]:
        """The rows that scrolled off the top of the screen, oldest first."""
        return [_row_text(row, self.cols) for row in self.screen.history.top]

    @property
    def lines(self) -> list[str]:
        """Scrollback then screen: everything a person can read, trailing blank rows cut."""
        lines = self.scrollback + self.display
        while lines and not lines[-1]:
            lines.pop()
        return lines

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def style_at(self, text: str) -> Style | None:
        """The style of the first character of the first visible occurrence of `text`
        (scrollback first, then screen), or None if it is not visible."""
        rows = [*self.screen.history.top, *(self.screen.buffer[y] for y in range(self.rows))]
        for row in rows:
            line = "".join(row[x].data or "\0" for x in range(self.cols))
            at = line.find(text)
            if at >= 0:
                char = row[at]
                return Style(
                    fg=char.fg,
                    bg=char.bg,
                    bold=char.bold,
                    dim=char.blink,
                    italic=char.italics,
                    underline=char.underscore,
                    reverse=char.reverse,
                )
        return None

    def __str__(self) -> str:  # what a failure message shows
        bar = "-" * self.cols
        return f"{bar}\n{self.text}\n{bar} ({self.cols}x{self.rows})"

    # -- reading ------------------------------------------------------------------------

    def _pump(self, wait: float) -> None:
        """Feed whatever output is there (waiting up to `wait` s for some) to the screen."""
        if not self._open:
            time.sleep(min(wait, 0.01))
            return
        ready, _, _ = select.select([self.master], [], [], wait)
        while ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                chunk = b""
            if not chunk:
                self._open = False
                return
            self.raw += chunk
            self.stream.feed(chunk)
            ready, _, _ = select.select([self.master], [], [], 0)

    def _wait_for(self, done, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._pump(0.02)
            if done():
                return
            if not self._open and self.process.poll() is not None:
                self._pump(0)
                if done():
                    return
                raise AssertionError(
                    f"{what}, and jules exited ({self.process.returncode}):\n{self}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {timeout:g} s:\n{self}")

    def expect(
        self, text: str | re.Pattern[str], *, timeout: float = DEFAULT_TIMEOUT, count: int = 1
    ) -> str:
        """Wait until `text` (a string, or a compiled regex) is visible in the scrollback
        or on the screen, at least `count` times; returns the visible text then."""

        def found() -> bool:
            visible = self.text
            hits = (
                len(text.findall(visible)) if isinstance(text, re.Pattern) else visible.count(text)
            )
            return hits >= count

        times = "" if count == 1 else f" {count} times"
        self._wait_for(found, f"{text!r} was not seen{times}", timeout)
        return self.text

    def expect_prompt(self, prompt: str, *, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait until `prompt` is written whole, trailing space included, and the cursor
        sits right after it: the program is asking. Type only then; text typed while a
        prompt is still being written lands inside it (the race that made click's
        confirm flaky). `expect` cannot tell, since rows are read right-stripped."""

        self._wait_for(
            lambda: asks(self.screen, prompt),
            f"the prompt {prompt!r} was not written whole",
            timeout,
        )
        return self.text

    def expect_gone(self, text: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until `text` is no longer on the screen (the scrollback is not looked at)."""
        self._wait_for(
            lambda: text not in "\n".join(self.display), f"{text!r} stayed on screen", timeout
        )

    def wait(self, timeout: float = 30.0) -> int:
        """Read to the end of the output; the exit code."""
        deadline = time.monotonic() + timeout
        while self._open or self.process.poll() is None:
            self._pump(0.02)
            if self.process.poll() is not None:
                self._pump(0)  # what is left in the pty after the child is gone
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"jules still running after {timeout:g} s:\n{self}")
        return self.process.wait(timeout=timeout)

    # -- typing -------------------------------------------------------------------------

    def send(self, keys: str | bytes) -> None:
        """Type `keys` as they are ("\\r" is Enter, "\\x03" Ctrl-C, "\\x04" Ctrl-D)."""
        self._pump(0)
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    def send_line(self, line: str = "") -> None:
        """Type `line` and press Enter."""
        self.send(line + "\r")

    def interrupt(self) -> None:
        """Press Ctrl-C: the terminal sends SIGINT to the foreground process group."""
        self.send("\x03")

    def signal(self, signum: int) -> None:
        """Send `signum` to jules's process group (e.g. SIGTERM, SIGHUP)."""
        os.killpg(self.process.pid, signum)

    def resize(self, cols: int, rows: int) -> None:
        """Resize the window: the screen, the pty's size and a SIGWINCH to jules."""
        self._pump(0)
        self.cols, self.rows = cols, rows
        self.screen.resize(rows, cols)
        self._set_size(self.master, cols, rows)  # the kernel sends SIGWINCH itself

    @staticmethod
    def _set_size(fd: int, cols: int, rows: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def piped_output(self) -> str:
        """What went to stdout when it is a pipe (call after wait())."""
        assert self.process.stdout is not None, "spawn(..., stdout_to_pipe=True) first"
        return self.process.stdout.read().decode()

    # -- cleaning up --------------------------------------------------------------------

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spawn(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cols: int = 80,
    rows: int = 24,
    cwd: str | Path | None = None,
    stdout_to_pipe: bool = False,
) -> Terminal:
    """Start `jules ARGS` in a `cols` x `rows` terminal. `env` is added to the test's own
    environment (e.g. `emulator_server.env`); use it as a context manager, or close()."""
    return Terminal(args, env=env, cols=cols, rows=rows, cwd=cwd, stdout_to_pipe=stdout_to_pipe)


#: The two sizes every screen test should hold up at.
SIZES = [(80, 24), (120, 40)]
SIZE_IDS = ["80x24", "120x40"]
