"""Composing a prompt or a message in an editor, as `git commit` does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jules_cli import prompt
from jules_cli.errors import UsageError

TEXT = "# Add a greeting module\n\n## Steps\n- write `greet()`\n"


def _editor(tmp_path: Path, body: str, name: str = "fake-editor") -> Path:
    """An editor that puts `body` above what the file holds (the template)."""
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        f"path.write_text({body!r} + path.read_text())\n"
    )
    script.chmod(0o755)
    return script


def test_hash_lines_of_the_text_are_kept_and_the_template_below_the_scissors_goes():
    template = prompt.editor_template("prompt")
    assert prompt.SCISSORS in template
    assert prompt.strip_template(TEXT + template) == TEXT.rstrip("\n")
    assert prompt.strip_template(template) == ""
    # Without the scissors line (an editor that rewrote the file), nothing is dropped.
    assert prompt.strip_template("# Title\nBody  \n\n") == "# Title\nBody"


def test_without_visual_or_editor_the_fallback_is_editor_then_vi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    with pytest.raises(UsageError, match="no editor"):
        prompt.editor_command()
    vi = _editor(bin_dir, "from vi\n", name="vi")
    assert prompt.editor_command() == [str(vi)]
    editor = _editor(bin_dir, "from editor\n", name="editor")
    assert prompt.editor_command() == [str(editor)]
    assert prompt.read_text(None, interactive=True, stdin_is_terminal=True) == "from editor"
    monkeypatch.setenv("EDITOR", "my-editor --wait")
    assert prompt.editor_command() == ["my-editor", "--wait"]
    monkeypatch.setenv("VISUAL", "visual-one")
    assert prompt.editor_command() == ["visual-one"]
    # A dumb terminal gets no vi, as with git.
    monkeypatch.delenv("VISUAL")
    monkeypatch.delenv("EDITOR")
    monkeypatch.setenv("TERM", "dumb")
    with pytest.raises(UsageError, match="no editor"):
        prompt.editor_command()


def test_an_empty_text_sends_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUAL", str(_editor(tmp_path, "\n\n")))
    with pytest.raises(UsageError, match="empty; nothing was sent") as caught:
        prompt.read_text(None, interactive=True, stdin_is_terminal=True, what="message")
    assert caught.value.exit_code == 2


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_session_send_in_a_terminal_opens_the_editor(emulator_server, tmp_path):
    from tests.screen import spawn

    server = emulator_server
    session = server.emulator.create_session({"prompt": "Say hello [ask]"})
    server.settle()
    sid = session["id"]
    env = {**server.env, "VISUAL": str(_editor(tmp_path, TEXT))}
    with spawn(["session", "send", sid], env=env) as term:
        assert term.wait() == 0, str(term)
    sent = [r for r in server.requests() if r["path"].endswith(":sendMessage")]
    assert [r["body"] for r in sent] == [{"prompt": TEXT.rstrip("\n")}]

    empty = {**server.env, "VISUAL": str(_editor(tmp_path, "", name="empty-editor"))}
    server.clear_requests()
    with spawn(["session", "send", sid], env=empty) as term:
        assert term.wait() == 2, str(term)
        assert "Error: the message is empty; nothing was sent" in term.text
    assert not [r for r in server.requests() if r["path"].endswith(":sendMessage")]
