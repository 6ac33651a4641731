"""What the emulated agent produces: unified diffs, a PNG screenshot, bash transcripts.

Patches are real `git diff` output (with `diff --git` headers and blob hashes) so that
`git apply` accepts them; the files they touch are documented in docs/emulator.md.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import struct
import zlib
from collections.abc import Iterable, Sequence

HELLO_PY = '''"""A tiny greeting module, written by the Jules emulator."""


def greet(name: str) -> str:
    return f"Hello, {name}!"
'''

TEST_HELLO_PY = """from hello import greet


def test_greet():
    assert greet("Jules") == "Hello, Jules!"
"""

README_BEFORE = "# demo\n"
README_AFTER = "# demo\n\nThis project greets people: see hello.py.\n"


def default_files() -> list[list]:
    """Creates two files, so the patch applies to an empty repository."""
    return [["hello.py", None, HELLO_PY], ["tests/test_hello.py", None, TEST_HELLO_PY]]


def readme_files() -> list[list]:
    """Modifies README.md (which must be exactly `# demo` + newline) and creates hello.py."""
    return [["README.md", README_BEFORE, README_AFTER], ["hello.py", None, HELLO_PY]]


def follow_up_file(number: int, message: str) -> list:
    summary = " ".join(message.split())[:200] or "(empty message)"
    text = f"# Follow-up {number}\n\nRequested: {summary}\n"
    return [f"notes/follow-up-{number}.md", None, text]


HOSTILE_PATH = "../outside-the-repo.txt"


def hostile_file() -> list:
    """A new file outside the repository: `git apply` must refuse it, and so must clients."""
    return [HOSTILE_PATH, None, "this file must never be written\n"]


def git_blob_id(content: str) -> str:
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _hunk_range(start: int, count: int) -> str:
    return f"{start}" if count == 1 else f"{start},{count}"


def render_patch(files: Iterable[Sequence]) -> str:
    """A `git diff`-style unified diff of the changes, in order. Each change is
    (path, old content or None for a new file, new content)."""
    out: list[str] = []
    for path, old, new in files:
        out.append(f"diff --git a/{path} b/{path}\n")
        new_lines = new.splitlines(keepends=True)
        if old is None:
            out.append("new file mode 100644\n")
            out.append(f"index 0000000..{git_blob_id(new)[:7]}\n")
            out.append("--- /dev/null\n")
            out.append(f"+++ b/{path}\n")
            out.append(f"@@ -0,0 +{_hunk_range(1, len(new_lines))} @@\n")
            out.extend("+" + line for line in new_lines)
            continue
        out.append(f"index {git_blob_id(old)[:7]}..{git_blob_id(new)[:7]} 100644\n")
        out.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True), new_lines, f"a/{path}", f"b/{path}", n=3
            )
        )
    return "".join(out)


def base_commit_id(source: str | None, branch: str | None) -> str:
    """A stable, plausible 40-hex commit id for the tip of the starting branch."""
    return hashlib.sha1(f"{source or 'repoless'}@{branch or 'main'}".encode()).hexdigest()


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


# An 8x8 violet square: a real PNG that image viewers open, small enough for any test.
SCREENSHOT_PNG = _png(8, 8, (103, 58, 183))
SCREENSHOT_PNG_BASE64 = base64.b64encode(SCREENSHOT_PNG).decode()


def bash_description(command: str, output: str, exit_code: int) -> str:
    """The description the agent writes on a "Ran bash command" activity."""
    return f"Command: \n{command}\nOutput: {output}Exit Code: {exit_code}"


PASSING_TESTS = "============================= 1 passed in 0.02s =============================\n"
FAILING_TESTS = (
    "E   ModuleNotFoundError: No module named 'hello'\n"
    "=========================== 1 error in 0.05s ===========================\n"
)
INSTALL_OUTPUT = "Successfully installed pytest-8.3.3\n"

# Content meant to trip careless clients: terminal escapes (colour, window title,
# bell, carriage return), Rich markup and a script served as "media".
HOSTILE_TITLE = "\x1b[31mRed alert\x1b[0m [bold red]not markup[/bold red]\r\x07"
HOSTILE_OUTPUT = (
    "\x1b]0;pwned window title\x07\x1b[2J\x1b[1;1H[link=file:///etc/passwd]click[/link]\n"
    "\x1b[32mall good\x1b[0m\r overwritten line\n"
)
HOSTILE_MEDIA = [
    ("text/html", b"<script>alert('jules emulator')</script>\n"),
    ("image/png/../../../escaped", SCREENSHOT_PNG),
]
