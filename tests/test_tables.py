"""How a terminal table divides its width (render.output.table_layout) and prints."""

from __future__ import annotations

import io

from jules_cli.render.output import Column, Output, table_layout

COLUMNS = [
    Column("ID", no_wrap=True),
    Column("TITLE"),
    Column("REPO", no_wrap=True, drop=1),
    Column("CREATED", no_wrap=True, drop=2),
]
# Header widths, then two rows: ID 20, TITLE 70, REPO 22, CREATED 7.
WIDTHS = [[2, 5, 4, 7], [20, 70, 22, 7], [19, 5, 10, 7]]


def test_whole_columns_keep_their_width_and_the_title_gets_the_rest():
    shown, widths = table_layout(COLUMNS, WIDTHS, 120)
    assert shown == [0, 1, 2, 3]
    assert widths == {0: 20, 1: 120 - 20 - 22 - 7 - 6, 2: 22, 3: 7}


def test_narrow_terminals_leave_out_the_highest_drop_first():
    shown, widths = table_layout(COLUMNS, WIDTHS, 80)
    assert shown == [0, 1, 2, 3] and widths[1] == 80 - 20 - 22 - 7 - 6
    shown, widths = table_layout(COLUMNS, WIDTHS, 70)
    assert shown == [0, 1, 2]  # CREATED went, so that the title keeps at least 20
    assert widths[1] == 70 - 20 - 22 - 4
    shown, widths = table_layout(COLUMNS, WIDTHS, 60)
    assert shown == [0, 1]
    assert widths[1] == 60 - 20 - 2


def test_a_short_title_is_not_padded_out_to_the_width():
    shown, widths = table_layout(COLUMNS, [[2, 5, 4, 7], [20, 11, 22, 7]], 120)
    assert widths[1] == 11


def test_the_printed_table_has_one_line_per_row_cut_with_an_ellipsis():
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), no_color=True)
    out.is_terminal = True
    out.console.width = 60
    rows = [["1" * 20, "A title far too long for sixty columns " * 3, "octo/app", "1h ago"]]
    assert out.table(COLUMNS, rows) == 1
    lines = out.stdout.getvalue().splitlines()
    assert len(lines) == 3 and all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("1" * 20 + "  A title far") and lines[2].endswith("…  octo/app")
