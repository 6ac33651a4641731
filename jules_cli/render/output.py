"""Where output goes and in which form, decided once per invocation.

Modes: `--json` (the API's objects, never touched by Rich), `--jsonl` (one object per line),
`--quiet` (ids), a terminal (Rich tables and colour), or a pipe (plain, untruncated,
tab-separated lines). Data goes to stdout; diagnostics, progress and prompts go to stderr.

Lists stream: every mode but the terminal table writes each item as it arrives from the
client's lazy paging, so memory does not grow with the number of items, and stdout is
flushed whenever the next page is about to be fetched (`Output.paged`).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jules_cli.render.jq import JqFilter

# Wide enough that a pipe never wraps or ellipsises a line; Rich's default is 80.
PIPE_WIDTH = 10_000
# Items per page the list commands ask for (the API's maximum, as JulesClient does).
LIST_PAGE_SIZE = 100

# Control characters other than newline and tab: ESC starts escape sequences (colours,
# cursor moves, screen clears, window titles), BEL rings, CR overwrites the line, and
# 0x80-0x9f are the 8-bit forms of the same. Text from the API (titles, command output,
# messages) may carry any of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# json.dumps(ensure_ascii=False) escapes C0 controls but leaves DEL and the 8-bit C1
# controls raw: valid JSON, yet a terminal showing it may act on them (0x9b is CSI). It
# also leaves a lone surrogate (the API may send "\ud800") raw, which no UTF-8 stream can
# write; as an escape it is valid JSON again.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\ud800-\udfff]")
# A lone surrogate in text for the terminal, shown as its escape like a control character.
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# How proto3 JSON writes the floats JSON has no number for (Python reads NaN, Infinity and
# 1e999 from an answer; json.dumps would write them back as invalid JSON).
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_json(data: Any, *, compact: bool = False) -> str:
    """The API's data as JSON text (UTF-8 kept readable), always valid JSON, with no raw
    control character: NaN and infinities become proto3's "NaN"/"Infinity"/"-Infinity"
    strings, lone surrogates \\u escapes."""
    separators = (",", ":") if compact else None
    indent = None if compact else 2
    try:
        try:
            text = json.dumps(
                data, indent=indent, separators=separators, ensure_ascii=False, allow_nan=False
            )
        except ValueError:
            text = json.dumps(
                _finite(data), indent=indent, separators=separators, ensure_ascii=False
            )
    except RecursionError:
        from jules_cli.errors import Unavailable

        raise Unavailable(
            "the answer is nested too deeply to print",
            hint="the service (or something in between) sent a broken answer",
        ) from None
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _finite(data: Any) -> Any:
    """`data` with every NaN or infinite float replaced by its proto3 JSON string."""
    if isinstance(data, float) and not math.isfinite(data):
        return _NON_FINITE[repr(data)]
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def safe_text(text: str) -> str:
    """Text from the API made harmless for a terminal: each control character shown as a
    visible escape such as `\\x1b`, so it can neither restyle nor rewrite the screen, and
    each lone surrogate as `\\ud800`, so it can be written at all."""
    text = text.replace("\r\n", "\n")
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text


def safe_renderable(value: Any) -> Any:
    """safe_text() for a str or a rich Text (kept with its style); others unchanged."""
    if isinstance(value, str):
        return safe_text(value)
    plain = getattr(value, "plain", None)
    if isinstance(plain, str) and _CONTROL.search(plain):
        from rich.text import Text

        return Text(safe_text(plain), style=value.style)
    return value


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.strip().lower() not in ("0", "false", "no", "off")


def stream_is_terminal(stream: IO[str]) -> bool:
    """A real terminal, or one forced with JULES_TTY=1 (tests, screen recordings)."""
    forced = _env_flag("JULES_TTY")
    if forced is not None:
        return forced
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_disabled(no_color_flag: bool = False) -> bool:
    return no_color_flag or "NO_COLOR" in os.environ


def make_console(stream: IO[str], *, terminal: bool, no_color: bool):
    from rich.console import Console

    return Console(
        file=stream,
        force_terminal=terminal,
        no_color=no_color or not terminal,
        color_system="auto" if terminal and not no_color else None,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if terminal else PIPE_WIDTH,
        soft_wrap=not terminal,
    )


def check_list_modes(*, json_mode: bool, json_lines: bool, quiet: bool) -> None:
    """--jsonl is its own output form: refuse it beside --json or --quiet."""
    if json_lines and (json_mode or quiet):
        from jules_cli.errors import UsageError

        other = "--json" if json_mode else "--quiet"
        raise UsageError(f"--jsonl cannot be combined with {other}", "choose one output form")


@dataclass
class Column:
    """A table column. In a terminal every row is one line: a `no_wrap` column (ids,
    states, repos, branches, times) is shown whole; the others share the width left and
    are cut with an ellipsis. When even that leaves too little room, the columns with the
    highest `drop` are left out first (0: never left out). A pipe gets every column whole."""

    header: str
    style: str | None = None
    no_wrap: bool = False  # shown whole, never cut, never wrapped
    justify: str = "left"
    drop: int = 0
    terminal: bool = True  # False: in pipes only (a terminal has it elsewhere)


# Between two columns of a terminal table, as gh spaces them.
COLUMN_GAP = 2
# A column that is cut gets at least this much (or its whole text, if shorter) before a
# droppable column is left out to make room for it.
FLEX_MIN = 20


class Output:
    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        no_color: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        jq: JqFilter | None = None,
    ) -> None:
        self.stdout = stdout or sys.stdout
        # --jq: every JSON value this output would print goes through the filter instead.
        self.jq = jq
        self.stderr = stderr or sys.stderr
        self.json_mode = json_mode
        self.quiet = quiet
        self.is_terminal = stream_is_terminal(self.stdout)
        self.err_is_terminal = stream_is_terminal(self.stderr)
        self.no_color = color_disabled(no_color)
        self._console = None
        self._err_console = None

    @property
    def console(self):
        if self._console is None:
            self._console = make_console(
                self.stdout, terminal=self.is_terminal, no_color=self.no_color
            )
        return self._console

    @property
    def err(self):
        if self._err_console is None:
            self._err_console = make_console(
                self.stderr, terminal=self.err_is_terminal, no_color=self.no_color
            )
        return self._err_console

    # -- data on stdout ---------------------------------------------------------------

    def json(self, data: Any) -> None:
        self._write_json(data, compact=False)
        self.stdout.flush()

    def json_line(self, data: Any) -> None:
        """One compact object per line, flushed at once (JSON Lines for streams)."""
        self._write_json(data, compact=True)
        self.stdout.flush()

    def _write_json(self, data: Any, *, compact: bool) -> None:
        """`data` as JSON, or with --jq each value the filter yields for it: a string raw
        (as gh and `jq -r` print it), anything else as JSON."""
        if self.jq is None:
            self.stdout.write(to_json(data, compact=compact) + "\n")
            return
        for result in self.jq.results(data):
            text = result if isinstance(result, str) else to_json(result, compact=compact)
            self.stdout.write(text + "\n")

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def ids(self, ids: Iterable[str]) -> None:
        for value in ids:
            self.line(_plain(value).replace("\n", " "))

    def paged(
        self, items: Iterable[dict[str, Any]], page_size: int = LIST_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """`items` unchanged, flushing stdout before each further page is fetched.

        Wrap the client's lazy paging (before any client-side filter): what a page brought
        reaches the reader before the command waits on the network again, with one write
        per page rather than one per item."""
        for count, item in enumerate(items, 1):
            yield item
            if count % page_size == 0:
                self.stdout.flush()

    def items(
        self,
        items: Iterable[dict[str, Any]],
        show: Callable[..., Any],
        id_key: str = "id",
        *,
        json_lines: bool = False,
    ) -> None:
        """A list command's output: a JSON array (or JSON Lines), ids (-q), or
        `show(out, items)`. Streams: `items` is read once, lazily, item by item."""
        if json_lines:
            self.json_lines(items)
        elif self.json_mode:
            self.json_array(items)
        elif self.quiet:
            write = self.stdout.write
            try:
                for item in items:
                    # An id is the API's text too: `1\x1b]0;owned\x07` must not retitle
                    # the terminal (nor a newline in it make two ids).
                    write(_plain(item.get(id_key, "")).replace("\n", " ") + "\n")
            except BaseException:
                self._flush_quietly()  # the ids already read are true; then the error
                raise
            self.stdout.flush()
        else:
            try:
                show(self, items)
            except BaseException:
                self._flush_quietly()
                raise
            self.stdout.flush()

    def json_array(self, items: Iterable[Any]) -> None:
        """A JSON array written item by item, the same bytes as `json(list(items))`.

        Nothing is written before the first item arrives, and `]` only after the last: when
        the items fail part-way (an API error on page 3), stdout holds an unclosed array
        that no JSON parser accepts, ended by a newline, never a complete-looking one; the
        error itself goes to stderr and the exit code (main()) tells what happened.

        With --jq the filter sees the whole array, so the items are gathered first."""
        if self.jq is not None:
            self.json(list(items))
            return
        write = self.stdout.write
        opened = False
        try:
            for item in items:
                text = to_json(item)
                # Nested lines get the array's own indent; JSON strings hold no raw newline.
                write(("[\n  " if not opened else ",\n  ") + text.replace("\n", "\n  "))
                opened = True
        except BaseException:
            if opened:
                self._flush_quietly("\n")  # the error line on a terminal starts on its own line
            raise
        write("\n]\n" if opened else "[]\n")
        self.stdout.flush()

    def json_lines(self, items: Iterable[Any]) -> None:
        """JSON Lines: one compact object per line (flushed by `paged` and at the end);
        with --jq, what the filter yields for each object in turn."""
        try:
            for item in items:
                self._write_json(item, compact=True)
        except BaseException:
            self._flush_quietly()
            raise
        self.stdout.flush()

    def _flush_quietly(self, text: str = "") -> None:
        """On the way out of a list that failed part-way: write what is pending, without
        letting a stdout that is itself broken (closed pipe) replace the first error."""
        try:
            if text:
                self.stdout.write(text)
            self.stdout.flush()
        except Exception:
            pass

    def item(self, item: dict[str, Any], show: Callable[..., Any]) -> None:
        """A command about one thing: the object as JSON, or `show(out, item)`."""
        if self.json_mode:
            self.json(item)
        else:
            show(self, item)

    def print(self, renderable: Any = "", **kwargs: Any) -> None:
        """A Rich renderable on stdout (terminal mode) or its plain text (pipe); control
        characters in text are shown, never obeyed."""
        if isinstance(renderable, str) and not self.is_terminal and not kwargs:
            self.line(safe_text(renderable))  # what Rich would print, without loading it
            return
        self.console.print(safe_renderable(renderable), **kwargs)

    def table(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Any]],
        *,
        empty: str | None = None,
        title: str | None = None,
    ) -> int:
        """Rows as a Rich table in a terminal, tab-separated lines in a pipe.

        Cells may be str or rich Text (styled in a terminal, plain in a pipe). Returns the
        number of rows printed.
        """
        count = 0
        if not self.is_terminal:
            # Streamed row by row; flushed by `paged` and at the end, not per row.
            write = self.stdout.write
            for row in rows:
                write(
                    "\t".join(_plain(cell).replace("\t", " ").replace("\n", " ") for cell in row)
                    + "\n"
                )
                count += 1
            self.stdout.flush()
            if count == 0 and empty:
                self.info(empty)
            return count
        from rich.text import Text

        keep = [i for i, column in enumerate(columns) if column.terminal]
        columns = [columns[i] for i in keep]
        cells = [[_cell_text(row[i] if i < len(row) else None) for i in keep] for row in rows]
        count = len(cells)
        if count == 0 and empty:
            self.info(empty)
            return 0
        headers = [Text(column.header) for column in columns]
        shown, widths = table_layout(
            columns,
            [[text.cell_len for text in line] for line in [headers, *cells]],
            self.console.width,
        )
        gap = " " * COLUMN_GAP
        header = _table_line(headers, columns, shown, widths, gap, style="bold")
        self.console.print(header, no_wrap=True, overflow="crop", crop=True)
        width = sum(widths[i] for i in shown) + COLUMN_GAP * (len(shown) - 1)
        self.console.print("\u2500" * width, no_wrap=True, crop=True)
        for line in cells:
            text = _table_line(line, columns, shown, widths, gap)
            self.console.print(text, no_wrap=True, overflow="crop", crop=True)
        return count

    def fields(self, pairs: Iterable[tuple[str, Any]]) -> None:
        """`label: value` lines: aligned and styled in a terminal, tab-separated in a pipe."""
        pairs = [(label, value) for label, value in pairs if value not in (None, "")]
        if not self.is_terminal:
            for label, value in pairs:
                self.line(f"{label}\t{_plain(value)}")
            return
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in pairs:
            grid.add_row(label, safe_renderable(value))
        self.console.print(grid)

    # -- diagnostics on stderr --------------------------------------------------------

    # Diagnostics are one logical line each, never broken by Rich: a command in them
    # (`jules session approve ID`) must survive copy and paste; the terminal wraps it.
    # They often quote the API (an id, a file name from an artifact, an error message),
    # so their text is shown, never obeyed (safe_text); their style comes from Rich.

    def info(self, message: str) -> None:
        style = "dim" if self.err_is_terminal else None
        self.err.print(safe_text(message), style=style, soft_wrap=True)

    def success(self, message: str) -> None:
        self.err.print(safe_text(message), style="green", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(f"Warning: {safe_text(message)}", style="yellow", soft_wrap=True)


def table_layout(
    columns: Sequence[Column], widths: Sequence[Sequence[int]], total: int
) -> tuple[list[int], dict[int, int]]:
    """Which columns a terminal table of `total` cells shows, and how wide each is.

    `widths` holds the cell widths of each line (the header's first). Whole columns get
    their widest cell; the others (cut with an ellipsis) share what is left, each at most
    its widest cell; droppable columns go, highest `drop` first, while that share is below
    FLEX_MIN (or the whole columns alone do not fit)."""
    natural = [max((line[i] for line in widths), default=0) for i in range(len(columns))]
    shown = list(range(len(columns)))
    while True:
        flex = [i for i in shown if not columns[i].no_wrap]
        room = total - sum(natural[i] for i in shown if columns[i].no_wrap)
        room -= COLUMN_GAP * (len(shown) - 1)
        floor = sum(min(natural[i], max(FLEX_MIN, len(columns[i].header))) for i in flex)
        droppable = [i for i in shown if columns[i].drop]
        if room >= floor or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    alloted = {i: natural[i] for i in shown if columns[i].no_wrap}
    # The cut columns share the room fairly: narrow ones keep their whole text, and what
    # they leave goes to the wider ones.
    left = max(room, 0)
    pending = sorted((i for i in shown if not columns[i].no_wrap), key=lambda i: natural[i])
    for position, index in enumerate(pending):
        share = left // (len(pending) - position)
        alloted[index] = max(min(natural[index], share), min(natural[index], 1))
        left -= alloted[index]
    return shown, alloted


def _cell_text(cell: Any):
    """A cell as one line of rich Text: control characters shown, line breaks as spaces."""
    from rich.text import Text

    if cell is None:
        return Text("")
    text = safe_renderable(cell)
    if not isinstance(text, Text):
        text = Text(str(text))
    if "\n" in text.plain or "\t" in text.plain:
        flat = text.plain.replace("\n", " ").replace("\t", " ")
        text = Text(flat, style=text.style, spans=text.spans)
    return text


def _table_line(cells, columns, shown, widths, gap: str, style: str | None = None):
    from rich.text import Text

    line = Text(style=style or "")
    for position, index in enumerate(shown):
        cell = cells[index].copy() if index < len(cells) else Text("")
        width = widths[index]
        if columns[index].style:
            cell.stylize_before(columns[index].style)  # the cell's own styles win
        if cell.cell_len > width:
            cell.truncate(width, overflow="ellipsis")
        last = position == len(shown) - 1
        if columns[index].justify == "right":
            cell.pad_left(width - cell.cell_len)
        elif not last:
            cell.pad_right(width - cell.cell_len)
        if position:
            line.append(gap)
        line.append_text(cell)
    return line


def _plain(cell: Any) -> str:
    if cell is None:
        return ""
    plain = getattr(cell, "plain", None)
    return safe_text(plain if isinstance(plain, str) else str(cell))
