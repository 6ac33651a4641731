from __future__ import annotations

from jules_cli.diffstat import (
    FileStat,
    compact_summary,
    diffstat,
    display_name,
    format_stat,
    summary_line,
    unquote_c_path,
)

GIT_PATCH = """\
diff --git a/src/app.py b/src/app.py
index 2019eda..f893115 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,5 @@
 import os
-import sys
+import sys  # noqa
+import re
 # comment
 def main():
diff --git a/README.md b/README.md
new file mode 100644
index 0000000..3e75765
--- /dev/null
+++ b/README.md
@@ -0,0 +1,2 @@
+# Title
+text
diff --git a/old.txt b/old.txt
deleted file mode 100644
index c600332..0000000
--- a/old.txt
+++ /dev/null
@@ -1,3 +0,0 @@
-a
-b
-c
"""


def test_git_patch_added_modified_deleted() -> None:
    assert diffstat(GIT_PATCH) == [
        FileStat("src/app.py", 2, 1, "modified"),
        FileStat("README.md", 2, 0, "added"),
        FileStat("old.txt", 0, 3, "deleted"),
    ]


def test_removed_lines_that_look_like_headers_are_counted_as_content() -> None:
    patch = """\
diff --git a/notes.md b/notes.md
--- a/notes.md
+++ b/notes.md
@@ -1,3 +1,3 @@
--- a/fake
+++ b/fake
 keep
-diff --git a/x b/x
+@@ -1 +1 @@
"""
    # The hunk has 3 old and 3 new lines: two removed, two added, one context.
    assert diffstat(patch) == [FileStat("notes.md", 2, 2, "modified")]


def test_rename_with_and_without_changes_and_spaces_in_names() -> None:
    patch = """\
diff --git a/sp ace.txt b/sp ace2.txt
similarity index 100%
rename from sp ace.txt
rename to sp ace2.txt
diff --git a/lib/a.py b/pkg/a.py
similarity index 80%
rename from lib/a.py
rename to pkg/a.py
index 1111111..2222222 100644
--- a/lib/a.py
+++ b/pkg/a.py
@@ -1 +1 @@
-x = 1
+x = 2
"""
    assert diffstat(patch) == [
        FileStat("sp ace2.txt", 0, 0, "renamed", "sp ace.txt"),
        FileStat("pkg/a.py", 1, 1, "renamed", "lib/a.py"),
    ]


def test_quoted_paths_are_unquoted() -> None:
    patch = """\
diff --git "a/\\303\\274n\\303\\257.txt" "b/\\303\\274n\\303\\257.txt"
deleted file mode 100644
index c600332..0000000
--- "a/\\303\\274n\\303\\257.txt"
+++ /dev/null
@@ -1 +0,0 @@
-x
diff --git a/plain b/"tab\\there"
similarity index 100%
rename from plain
rename to "tab\\there"
"""
    assert diffstat(patch) == [
        FileStat("ünï.txt", 0, 1, "deleted"),
        FileStat("tab\there", 0, 0, "renamed", "plain"),
    ]
    assert unquote_c_path('"a\\"b\\\\c"') == 'a"b\\c'
    assert unquote_c_path("not quoted") is None


def test_space_in_name_with_trailing_tab_on_markers() -> None:
    patch = (
        "diff --git a/my file.txt b/my file.txt\n"
        "index 1..2 100644\n"
        "--- a/my file.txt\t\n"
        "+++ b/my file.txt\t\n"
        "@@ -1 +1,2 @@\n"
        " a\n"
        "+b\n"
    )
    assert diffstat(patch) == [FileStat("my file.txt", 1, 0, "modified")]


def test_binary_patches() -> None:
    patch = """\
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..1234567
GIT binary patch
literal 12
TcmZ?wbhEHbRA6CX00001

literal 0
HcmV?d00001

diff --git a/icon.ico b/icon.ico
index 1111111..2222222 100644
Binary files a/icon.ico and b/icon.ico differ
diff --git a/src/x.py b/src/x.py
--- a/src/x.py
+++ b/src/x.py
@@ -1 +1 @@
-a
+b
"""
    assert diffstat(patch) == [
        FileStat("logo.png", 0, 0, "binary"),
        FileStat("icon.ico", 0, 0, "binary"),
        FileStat("src/x.py", 1, 1, "modified"),
    ]


def test_mode_change_only() -> None:
    patch = "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
    assert diffstat(patch) == [FileStat("run.sh", 0, 0, "modified")]


def test_plain_unified_diff_with_timestamps_and_dev_null() -> None:
    patch = """\
--- app.py.orig\t2024-01-01 10:00:00.000000000 +0000
+++ app.py\t2024-01-02 10:00:00.000000000 +0000
@@ -1,2 +1,2 @@
-a
+b
 c
--- /dev/null\t1970-01-01 00:00:00.000000000 +0000
+++ new.txt\t2024-01-02 10:00:00.000000000 +0000
@@ -0,0 +1 @@
+hello
\\ No newline at end of file
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""
    assert diffstat(patch) == [
        FileStat("app.py", 1, 1, "modified"),
        FileStat("new.txt", 1, 0, "added"),
        FileStat("gone.txt", 0, 1, "deleted"),
    ]


def test_crlf_and_hunk_without_counts_and_empty_input() -> None:
    patch = "--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n"
    assert diffstat(patch) == [FileStat("x", 1, 1, "modified")]
    # A blank context line whose leading space an editor stripped still counts as context.
    stripped = "--- a/y\n+++ b/y\n@@ -1,3 +1,3 @@\n-a\n+b\n\n c\n--- a/z\n+++ b/z\n"
    assert diffstat(stripped) == [FileStat("y", 1, 1, "modified"), FileStat("z", 0, 0, "modified")]
    assert diffstat("") == []
    assert diffstat("just some text\nnot a diff\n") == []


def test_truncated_hunk_does_not_swallow_the_next_file() -> None:
    patch = """\
diff --git a/a b/a
--- a/a
+++ b/a
@@ -1,5 +1,5 @@
-x
+y
diff --git a/b b/b
--- a/b
+++ b/b
@@ -1 +1 @@
-p
+q
"""
    assert [stat.path for stat in diffstat(patch)] == ["a", "b"]


def test_format_stat_matches_git_layout() -> None:
    text = format_stat(diffstat(GIT_PATCH))
    assert text.splitlines() == [
        " src/app.py | 3 ++-",
        " README.md  | 2 ++",
        " old.txt    | 3 ---",
        " 3 files changed, 4 insertions(+), 4 deletions(-)",
    ]
    assert format_stat([]) == ""


def test_format_stat_scales_graph_and_truncates_long_names() -> None:
    stats = [
        FileStat("a/very/long/directory/name/that/goes/on/and/on/module.py", 300, 100, "modified"),
        FileStat("b.py", 1, 0, "added"),
        FileStat("img.png", 0, 0, "binary"),
    ]
    lines = format_stat(stats, width=60).splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith(" .../") and lines[0].endswith("-")
    assert "| 400 +" in lines[0]
    assert lines[1].split("|")[1].strip() == "1 +"
    assert lines[2].split("|")[1].strip() == "Bin"
    assert lines[3] == " 3 files changed, 301 insertions(+), 100 deletions(-)"


def test_summaries_and_rename_display() -> None:
    one = [FileStat("x", 1, 0, "added")]
    assert summary_line(one) == " 1 file changed, 1 insertion(+)"
    assert summary_line([FileStat("x", 0, 2, "deleted")]) == " 1 file changed, 2 deletions(-)"
    assert summary_line([FileStat("x", 0, 0, "modified")]) == (
        " 1 file changed, 0 insertions(+), 0 deletions(-)"
    )
    assert compact_summary(diffstat(GIT_PATCH)) == "3 files, +4 -4"
    assert display_name(FileStat("src/new/a.py", 0, 0, "renamed", "src/old/a.py")) == (
        "src/{old => new}/a.py"
    )
    assert display_name(FileStat("b.txt", 0, 0, "renamed", "a.txt")) == "a.txt => b.txt"


def test_control_characters_in_names_are_escaped_for_display() -> None:
    text = format_stat([FileStat("evil\x1b[31m\nname", 1, 0, "added")])
    assert "\x1b" not in text
    assert len(text.splitlines()) == 2
