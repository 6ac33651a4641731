"""AppContext: what every command needs, built once from the global options.

Heavy pieces (the config file, httpx, the client) are created on first use, so commands
that need none of them (help, completion, config path) stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jules_cli.errors import UsageError

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient
    from jules_cli.config import Profile
    from jules_cli.render.jq import JqFilter
    from jules_cli.render.output import Output
    from jules_cli.render.progress import Spinner

EMULATOR_URL = "http://127.0.0.1/v1alpha"  # in-process: never leaves the process
# A default emulated session takes about a minute of simulated time; ten times faster
# keeps a demo or a script's test run short while every state stays visible.
DEFAULT_EMULATOR_SPEED = "10"
POLL_SCALE_ENV = "JULES_POLL_SCALE"


@dataclass
class AppContext:
    profile_name: str = "default"
    api_url_option: str | None = None
    debug: bool = False
    no_color: bool = False
    emulator: bool = False
    no_input: bool = False
    emulator_speed: float | None = None
    jq: JqFilter | None = None  # --jq EXPR of the running command, compiled
    _profile: Profile | None = field(default=None, repr=False)
    _client: JulesClient | None = field(default=None, repr=False)
    _output: Output | None = field(default=None, repr=False)
    _spinner: Spinner | None = field(default=None, repr=False)

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            from jules_cli.config import Profile

            self._profile = Profile(self.profile_name)
        return self._profile

    def setting(self, name: str, default: Any = None) -> Any:
        return self.profile.get(name, default)

    @property
    def api_url(self) -> str:
        from jules_cli.api.client import DEFAULT_API_URL

        return self.api_url_option or self.setting("api-url") or DEFAULT_API_URL

    def output(self, *, json_mode: bool = False, quiet: bool = False) -> Output:
        from jules_cli.render.output import Output

        if self.jq is not None and quiet:
            raise UsageError("--jq cannot be combined with --quiet", "choose one output form")
        spinner = self._make_spinner(json_mode or self.jq is not None)
        self._output = Output(
            json_mode=json_mode or self.jq is not None,
            quiet=quiet,
            no_color=self.no_color,
            jq=self.jq,
            stderr=spinner.stream if spinner is not None else None,
        )
        return self._output

    def _make_spinner(self, json_mode: bool) -> Spinner | None:
        """The spinner for slow requests and waits: only for a person at a terminal
        (stdout and stderr), never with --json, --debug (its trace is the sign of life),
        --no-input or CI."""
        if self._spinner is not None:
            return self._spinner
        if json_mode or self.debug or not self.interactive_output:
            return None
        from jules_cli.render.progress import Spinner

        self._spinner = Spinner(sys.stderr, is_busy=self._live_view_shown)
        return self._spinner

    def progress_status(self) -> str | None:
        """The spinner's text now (a slow request, a retry), for a live view to show."""
        return self._spinner.status() if self._spinner is not None else None

    def _live_view_shown(self) -> bool:
        """A Rich live view owns the screen: the spinner keeps out of its way."""
        output = self._output
        if output is None:
            return False
        consoles = [c for c in (output._console, output._err_console) if c is not None]
        # Rich keeps the live display it shows in `_live_stack` (Rich 14+) or `_live`
        # (13.x), set by Console.set_live(); there is no public way to ask.
        return any(
            getattr(console, "_live_stack", None) or getattr(console, "_live", None)
            for console in consoles
        )

    @property
    def interactive_output(self) -> bool:
        """A person watches: stdout and stderr are terminals, no --no-input, no CI."""
        if self.no_input or _in_ci():
            return False
        # The real thing, not JULES_TTY: tests that force the terminal layout read stderr.
        try:
            return sys.stdout.isatty() and sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    @contextmanager
    def waiting(self, what: str | Callable[[], str]) -> Iterator[None]:
        """A spinner saying `what` for as long as the block runs (a wait), if any."""
        if self._spinner is None:
            yield
            return
        with self._spinner.holding(what):
            yield

    def list_output(self, *, json_mode: bool, json_lines: bool, quiet: bool) -> Output:
        """The output of a list command: --json, --jsonl (refused beside the other two),
        -q, or a table."""
        from jules_cli.render.output import check_list_modes

        if json_lines and self.jq is not None:
            json_mode = False  # the --json that --jq implies; --jsonl --jq filters each line
        check_list_modes(json_mode=json_mode, json_lines=json_lines, quiet=quiet)
        return self.output(json_mode=json_mode or json_lines, quiet=quiet)

    @property
    def out(self) -> Output:
        """The output of the running command (plain mode unless the command chose one)."""
        return self._output or self.output()

    @property
    def interactive(self) -> bool:
        """May we ask the user something? Never without a terminal, in CI, or --no-input."""
        if self.no_input or _in_ci():
            return False
        from jules_cli.render.output import stream_is_terminal

        return stream_is_terminal(sys.stdin) and stream_is_terminal(sys.stderr)

    @property
    def poll_scale(self) -> float:
        """JULES_POLL_SCALE: multiplies every pause of a follower and its quota's windows,
        for tests (0.01 keeps the schedule's shape, not its waiting). Honoured only when
        the API is an emulator (--emulator or a loopback URL): the real API's quota is
        the project's, and no setting may spend it faster."""
        text = os.environ.get(POLL_SCALE_ENV, "").strip()
        if not text:
            return 1.0
        try:
            scale = float(text)
        except ValueError:
            scale = -1.0
        if not 0 < scale <= 1:
            raise UsageError(f"invalid {POLL_SCALE_ENV}: {text!r}", "use a number in (0, 1]")
        if self.emulator:
            return scale
        from urllib.parse import urlsplit

        from jules_cli.api.client import is_loopback

        return scale if is_loopback(urlsplit(self.api_url).hostname) else 1.0

    def trace(self, line: str) -> None:
        if self.debug:
            from jules_cli.render.output import safe_text  # a URL may hold the API's text

            sys.stderr.write(f"debug: {safe_text(line)}\n")
            sys.stderr.flush()

    def client(self) -> JulesClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> JulesClient:
        from jules_cli.api.client import JulesClient
        from jules_cli.config import require_key, resolve_key

        if self.emulator:
            import httpx

            from jules_cli.emulator.inprocess import PersistentEmulatorApp
            from jules_cli.emulator.state import bash_output_default

            try:
                bash_output_default()  # $JULES_EMULATOR_BASH_OUTPUT, checked before any request
            except ValueError as exc:
                raise UsageError(str(exc), "set it to 1 (on) or 0 (off)") from exc
            source = resolve_key(None)
            state_path = emulator_state_path()
            transport = httpx.WSGITransport(
                app=PersistentEmulatorApp(
                    state_path,
                    checked_emulator_speed(self.emulator_speed),
                    note=self._emulator_note,
                )
            )
            # So that nobody mistakes the emulator's answers for the real service's.
            sys.stderr.write(
                f"note: using the built-in Jules emulator, not the API (state: {state_path})\n"
            )
            sys.stderr.flush()
            return JulesClient(
                source.key if source else "emulator",
                EMULATOR_URL,
                transport=transport,
                trace=self.trace if self.debug else None,
                progress=self._spinner,
            )
        source = require_key(self.profile)
        return JulesClient(
            source.key,
            self.api_url,
            trace=self.trace if self.debug else None,
            progress=self._spinner,
        )

    def _emulator_note(self, text: str) -> None:
        """A note from the in-process emulator (its state file set aside): one line on
        stderr, written mid-request, so through the spinner's stream (which first erases
        a spinner line a slow load may already show)."""
        stream = self._spinner.stream if self._spinner is not None else sys.stderr
        stream.write(f"note: {text}\n")
        stream.flush()

    def close(self) -> None:
        if self._spinner is not None:
            self._spinner.close()
        if self._client is not None:
            self._client.close()
            self._client = None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def emulator_state_path() -> Path:
    override = os.environ.get("JULES_EMULATOR_STATE")
    if override:
        return Path(override).expanduser()
    from jules_cli.folders import data_folder

    # Data, not configuration or cache: the sessions a user made live here until
    # `jules emulator reset`.
    return Path(data_folder()) / "emulator-state.json"


def checked_emulator_speed(speed: float | None) -> float:
    """The in-process emulator's speed (--emulator-speed / JULES_EMULATOR_SPEED)."""
    if speed is None:
        return float(DEFAULT_EMULATOR_SPEED)
    if not speed > 0 or speed == float("inf"):
        raise UsageError(f"invalid emulator speed: {speed:g}", "use a positive number, e.g. 10")
    return speed


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext of the running command (set up by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
