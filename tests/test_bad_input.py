"""Bad input, end to end: the installed `jules` against a real emulator over loopback.

Every case checks the whole contract of a usage error: exit 2, exactly one `Error: ...`
line on stderr, no traceback, NO request reached the server (so a malformed id can never
become a request to another path), and nothing written (no output file, no half file, the
git checkout and the config file unchanged). Cases run a few at a time in threads: each is
its own subprocess, and the suite must stay quick.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jules_cli.errors import ConfigError
from tests.conftest import jules_command

UNKNOWN_ID = "1234567890123456789"  # well formed, not a session of the emulator
MALFORMED_IDS = [
    "sessions/",
    "../x",
    "sessions/1/../2",
    "",
    "   ",
    "1?x=y",
    "1#frag",
    "1%2F2",
    "sessions/1/activities/2",
    "12 34",
    "-1",
]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(server, *args: str, input: bytes | str = b"", cwd=None, env=None):
    """`jules ARGS` pointed at `server`, with stdin as bytes (for non-UTF-8 input)."""
    full_env = {**os.environ, **server.env, **(env or {})}
    data = input.encode() if isinstance(input, str) else input
    result = subprocess.run(
        [*jules_command(), *args],
        input=data,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def one_error(result, code: int) -> str:
    """The single `Error: ...` line of a failed run with exit `code`, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and len(lines) == 1, (result.args, result.stderr)
    assert "unexpected" not in errors[0], errors[0]  # an expected failure, explained
    return errors[0]


def refused(server, cases, code: int = 2, **kwargs) -> list[str]:
    """Run every case (a tuple of args), each must fail with `code` and send nothing."""
    server.clear_requests()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: run(server, *args, **kwargs), cases))
    errors = [one_error(result, code) for result in results]
    assert server.requests() == [], [(r["method"], r["path"]) for r in server.requests()]
    return errors


def api_paths(server) -> list[str]:
    return [r["path"] for r in server.requests()]


@pytest.fixture
def session(emulator_server) -> str:
    created = emulator_server.emulator.create_session({"prompt": "[stall] hello"})
    emulator_server.clear_requests()
    return created["id"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = tmp_path / "checkout"
    folder.mkdir()
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / "README.md").write_text("hello\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return folder


def tree_state(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# -- malformed ids -------------------------------------------------------------------------


def test_malformed_session_ids_never_reach_the_server(emulator_server):
    errors = refused(emulator_server, [("session", "show", bad) for bad in MALFORMED_IDS])
    # `-1` reads as an option to the parser: a usage error all the same.
    assert all("not a session id" in e or "No such option: -1" in e for e in errors), errors


ID_COMMANDS = [
    ("session", "show", "{id}"),
    ("session", "approve", "{id}"),
    ("session", "send", "{id}", "hello"),
    ("session", "wait", "{id}", "--timeout", "1"),
    ("session", "diff", "{id}"),
    ("session", "artifacts", "{id}"),
    ("session", "open", "{id}"),
    ("session", "archive", "{id}"),
    ("session", "unarchive", "{id}"),
    ("session", "delete", "{id}", "--yes"),
    ("activities", "list", "{id}"),
    ("activities", "show", "{id}", "a1"),
    ("activities", "tail", "{id}", "--no-follow"),
]


@pytest.mark.parametrize("bad", ["../x", "1?x=y", ""])
def test_every_command_checks_the_session_id_first(emulator_server, bad):
    cases = [tuple(arg.replace("{id}", bad) for arg in command) for command in ID_COMMANDS]
    refused(emulator_server, cases)


def test_apply_checks_the_session_id_first(emulator_server, checkout):
    before = tree_state(checkout)
    refused(emulator_server, [("session", "apply", "../x")], cwd=checkout)
    assert tree_state(checkout) == before


def test_one_malformed_id_stops_a_batch_before_any_request(emulator_server, session):
    for verb in ("archive", "unarchive", "delete"):
        extra = ("--yes",) if verb == "delete" else ()
        refused(emulator_server, [("session", verb, session, "../x", *extra)])
    assert emulator_server.emulator.get_session(session)["id"] == session  # still there


def test_malformed_activity_ids_never_reach_the_server(emulator_server, session):
    cases = [
        ("activities", "show", session, bad)
        for bad in ("..", "../x", "a?b", "a#b", "a%2Fb", "", "sessions/x/activities/a")
    ]
    refused(emulator_server, cases)


def test_malformed_sources_never_reach_the_server(emulator_server):
    cases = [
        ("sources", "show", bad) for bad in ("o/../r", "o/r?x=1", "github/o/r#f", "a%2Fb/c", "")
    ]
    cases += [("session", "new", "--repo", "o/../r", "hello")]
    refused(emulator_server, cases)


def test_well_formed_unknown_ids_are_not_found(emulator_server, session):
    for args in (
        ("session", "show", UNKNOWN_ID),
        ("session", "show", f"sessions/{UNKNOWN_ID}"),
        ("activities", "show", session, "0" * 32),
    ):
        one_error(run(emulator_server, *args), 3)
    assert set(api_paths(emulator_server)) <= {
        f"/v1alpha/sessions/{UNKNOWN_ID}",
        f"/v1alpha/sessions/{session}/activities/{'0' * 32}",
    }


def test_a_malformed_id_is_a_usage_error_even_without_a_key(run_jules):
    result = run_jules("session", "show", "../x")
    assert result.returncode == 2 and "not a session id" in result.stderr


# -- prompts and messages --------------------------------------------------------------------


def test_empty_and_blank_prompts_are_refused(emulator_server, tmp_path):
    blank = tmp_path / "blank.md"
    blank.write_text(" \n\t\n")
    cases = [
        ("session", "new", "--no-repo", ""),
        ("session", "new", "--no-repo", "   "),
        ("session", "new", "--no-repo", "-"),
        ("session", "new", "--no-repo", "--prompt-file", str(blank)),
    ]
    refused(emulator_server, cases)
    refused(emulator_server, [("session", "new", "--no-repo")], input=" \n ")


def test_a_message_must_not_be_blank(emulator_server, session):
    refused(emulator_server, [("session", "send", session, " "), ("session", "send", session)])


@pytest.mark.parametrize(
    "data",
    [b"caf\xe9 au lait", b"\xff\xfe\x00h\x00i", b"ok\x00binary"],
    ids=["latin1", "utf16", "nul"],
)
def test_non_utf8_or_binary_stdin_is_a_clear_error(emulator_server, session, data):
    errors = refused(emulator_server, [("session", "new", "--no-repo", "-")], input=data)
    errors += refused(emulator_server, [("session", "send", session, "-")], input=data)
    assert all("standard input" in error for error in errors)


def test_prompt_and_message_files(emulator_server, session, tmp_path):
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes(b"caf\xe9")
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    missing = tmp_path / "missing.md"
    cases = []
    for path in (latin1, binary, missing, tmp_path):
        cases.append(("session", "new", "--no-repo", "--prompt-file", str(path)))
        cases.append(("session", "send", session, "--message-file", str(path)))
    errors = refused(emulator_server, cases)
    assert all(str(tmp_path) in error for error in errors)
    both = ("session", "new", "--no-repo", "--prompt-file", str(latin1), "text")
    refused(emulator_server, [both])


@pytest.mark.skipif(IS_ROOT, reason="root reads files of any mode")
def test_an_unreadable_prompt_file(emulator_server, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("hello")
    secret.chmod(0)
    try:
        error = refused(emulator_server, [("session", "new", "--prompt-file", str(secret))])[0]
    finally:
        secret.chmod(0o600)
    assert "Permission denied" in error


def test_a_100_kb_prompt_reaches_the_server_intact(emulator_server, tmp_path):
    # jules-api.md documents no maximum prompt length, so a long prompt is sent as given.
    line = "Refactor the parser; keep «unicode» and tabs\tintact. "
    prompt = (line * (100_000 // len(line) + 1))[:100_000].strip()
    source = tmp_path / "long.md"
    source.write_text(prompt, encoding="utf-8")
    for args, data in (
        (("session", "new", "--no-repo", "-q", "-"), prompt),
        (("session", "new", "--no-repo", "-q", "--prompt-file", str(source)), ""),
    ):
        emulator_server.clear_requests()
        result = run(emulator_server, *args, input=data)
        assert result.returncode == 0, result.stderr
        creates = [r for r in emulator_server.requests() if r["method"] == "POST"]
        assert [r["body"]["prompt"] for r in creates] == [prompt]
        created = emulator_server.emulator.get_session(result.stdout.strip())
        assert created["prompt"] == prompt


# -- options ---------------------------------------------------------------------------------


def test_limits_must_be_positive(emulator_server, session):
    cases = []
    for limit in ("0", "-1", "x"):
        cases += [
            ("session", "list", "--limit", limit),
            ("sources", "list", "--limit", limit),
            ("activities", "list", session, "--limit", limit),
        ]
    refused(emulator_server, cases)


def test_bad_durations_intervals_conditions_and_states(emulator_server, session):
    cases = []
    for timeout in ("5x", "-1", "", "1e3", "9" * 400):
        cases += [
            ("session", "wait", session, "--timeout", timeout),
            ("activities", "tail", session, "--timeout", timeout),
        ]
    for interval in ("0", "-1", "nan", "inf", "x", "0.5", "0.001"):
        cases += [("session", "wait", session, "--interval", interval)]
    cases += [
        ("session", "send", session, "hi", "--wait-reply", "--timeout", "soon"),
        ("session", "send", session, "hi", "--wait-reply", "--interval", "0"),
        ("session", "new", "--no-repo", "--wait", "--timeout", "-5", "hello"),
        ("session", "new", "--no-repo", "--follow", "--until", "never", "hello"),
        ("session", "wait", session, "--until", "finished"),
        ("activities", "tail", session, "--until", ""),
        ("session", "list", "--state", "DONE"),
        ("session", "list", "--state", "COMPLETED,bogus"),
    ]
    refused(emulator_server, cases)


def test_bad_since(emulator_server, session):
    cases = [
        ("activities", "list", session, "--since", since)
        for since in (
            "yesterday",
            "2026-01-17",
            "2026-01-17T00:00:00",
            "2026-13-01T00:00:00Z",
            "-5m",
        )
    ]
    errors = refused(emulator_server, cases)
    assert all("--since" in error for error in errors)


def test_a_very_long_since_means_from_the_beginning(emulator_server, session):
    result = run(emulator_server, "activities", "list", session, "--since", "99999999h", "--json")
    assert result.returncode == 0, result.stderr


def test_parallel_must_be_1_to_5(emulator_server):
    cases = [("session", "new", "--no-repo", "--parallel", n, "hello") for n in ("0", "6", "-1")]
    errors = refused(emulator_server, cases)
    assert all("--parallel" in error for error in errors)


# -- output files ----------------------------------------------------------------------------


def test_diff_into_a_missing_folder_or_onto_a_folder_writes_nothing(emulator_server, tmp_path):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    target = tmp_path / "missing" / "out.patch"
    for output in (target, tmp_path):
        result = run(emulator_server, "session", "diff", done["id"], "-o", str(output))
        one_error(result, 2)
    assert not target.parent.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no half file either


def test_diff_replaces_an_existing_file_only_with_overwrite(emulator_server, tmp_path):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    target = tmp_path / "out.patch"
    old = "old content that is much longer than anything\n" * 100
    target.write_text(old)
    target.chmod(0o640)
    emulator_server.clear_requests()
    refusal = run(emulator_server, "session", "diff", done["id"], "-o", str(target))
    assert "already exists" in one_error(refusal, 2) and "--overwrite" in refusal.stderr
    assert emulator_server.requests() == []  # checked before any request
    assert target.read_text() == old
    result = run(emulator_server, "session", "diff", done["id"], "-o", str(target), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "(replacing the file that was there)" in result.stderr  # said, not left to guess
    assert target.read_text().startswith("diff --git")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # replaced whole, its mode kept
    assert [p.name for p in tmp_path.iterdir()] == ["out.patch"]


@pytest.fixture
def patched(emulator_server) -> tuple[str, bytes]:
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    patch = run(emulator_server, "session", "diff", done["id"]).stdout.encode()
    assert patch.startswith(b"diff --git")
    return done["id"], patch


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("command", ["diff", "artifacts"])
def test_output_into_a_fifo_writes_through_it(emulator_server, patched, tmp_path, command):
    import threading

    session_id, patch = patched
    if command == "diff":
        fifo = tmp_path / "pipe"
        args = ["session", "diff", session_id, "-o", str(fifo)]
    else:
        names = run(emulator_server, "session", "artifacts", session_id, "-o", str(tmp_path / "a"))
        first = names.stdout.split()[0]  # the file names jules gives, listed in order
        fifo = tmp_path / "b" / Path(first).name
        fifo.parent.mkdir()
        patch = Path(first).read_bytes()  # what the FIFO must carry
        args = ["session", "artifacts", session_id, "-o", str(fifo.parent)]
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run(emulator_server, *args)
    reader.join(10)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, never replaced
    assert received == [patch]
    assert not [p for p in fifo.parent.iterdir() if p.name.endswith(".tmp")]


def test_output_through_a_link_writes_the_target_and_keeps_the_link(
    emulator_server, patched, tmp_path
):
    session_id, patch = patched
    real = tmp_path / "real.patch"
    link = tmp_path / "link.patch"
    link.symlink_to(real)  # dangling: written through, creating real.patch
    result = run(emulator_server, "session", "diff", session_id, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == patch
    # Now it points at an existing file: that needs --overwrite, like any existing file.
    one_error(run(emulator_server, "session", "diff", session_id, "-o", str(link)), 2)
    real.write_bytes(b"old\n")
    again = run(emulator_server, "session", "diff", session_id, "-o", str(link), "--overwrite")
    assert again.returncode == 0, again.stderr
    assert link.is_symlink() and real.read_bytes() == patch


def test_output_to_stdout_through_a_link_writes_to_stdout(emulator_server, patched, tmp_path):
    session_id, patch = patched
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    result = run(emulator_server, "session", "diff", session_id, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == patch
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"


def test_output_dash_is_stdout_for_a_patch_and_refused_for_artifacts(
    emulator_server, patched, tmp_path
):
    session_id, patch = patched
    result = run(emulator_server, "session", "diff", session_id, "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == patch
    assert list(tmp_path.iterdir()) == []  # no file named -
    emulator_server.clear_requests()
    refusal = run(emulator_server, "session", "artifacts", session_id, "-o", "-", cwd=tmp_path)
    assert "saved as files into a folder" in one_error(refusal, 2)
    assert emulator_server.requests() == [] and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not IS_ROOT, reason="only root makes device nodes")
def test_output_onto_a_device_writes_through_it(emulator_server, patched, tmp_path):
    """`-o /dev/null` as root, on a private copy of /dev/null (a test must not risk the
    machine's own)."""
    session_id, _ = patched
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = run(emulator_server, "session", "diff", session_id, "-o", str(null))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


def test_output_paths_are_checked_before_any_request(emulator_server, session, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    refused(
        emulator_server,
        [
            ("session", "diff", session, "-o", str(tmp_path / "missing" / "out.patch")),
            ("session", "artifacts", session, "-o", str(a_file)),
        ],
    )


def test_artifacts_into_an_existing_file_writes_nothing(emulator_server, tmp_path):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    one_error(run(emulator_server, "session", "artifacts", done["id"], "-o", str(a_file)), 2)
    assert a_file.read_text() == "x"


# -- session apply: no git, not a checkout ----------------------------------------------------


def test_apply_outside_a_checkout_asks_nothing_and_writes_nothing(emulator_server, tmp_path):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "README.md").write_text("hello\n")
    error = refused(emulator_server, [("session", "apply", done["id"])], cwd=folder)[0]
    assert "not a git checkout" in error
    assert tree_state(folder) == {"README.md": b"hello\n"}


def test_apply_without_git_asks_nothing_and_writes_nothing(emulator_server, checkout, tmp_path):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    empty_path = tmp_path / "no-git-here"
    empty_path.mkdir()
    before = tree_state(checkout)
    error = refused(
        emulator_server,
        [("session", "apply", done["id"])],
        cwd=checkout,
        env={"PATH": str(empty_path)},  # jules itself is started by absolute path
    )[0]
    assert "needs git" in error
    assert tree_state(checkout) == before


def _in_progress(checkout: Path, operation: str) -> None:
    """Leave `operation` (merge, rebase, cherry-pick, revert, bisect) waiting for the user."""

    def git(*args: str, check: bool = True) -> None:
        base = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        env = {**os.environ, "GIT_EDITOR": "true"}
        subprocess.run([*base, *args], check=check, capture_output=True, env=env)

    if operation == "bisect":
        git("bisect", "start")
        return
    git("checkout", "-q", "-b", "other")
    (checkout / "README.md").write_text("theirs\n")
    git("commit", "-q", "-am", "theirs")
    git("checkout", "-q", "-")
    (checkout / "README.md").write_text("ours\n")
    git("commit", "-q", "-am", "ours")
    command = {
        "merge": ["merge", "other"],
        "rebase": ["rebase", "other"],
        "cherry-pick": ["cherry-pick", "other"],
        "revert": ["revert", "HEAD"],
    }[operation]
    if operation == "revert":
        (checkout / "README.md").write_text("changed again\n")
        git("commit", "-q", "-am", "again")
        git("revert", "--no-edit", "HEAD~1", check=False)
        return
    git(*command, check=False)  # stops on the conflict


@pytest.mark.parametrize("operation", ["merge", "rebase", "cherry-pick", "revert", "bisect"])
def test_apply_refuses_while_a_git_operation_is_in_progress(emulator_server, checkout, operation):
    done = emulator_server.emulator.create_session({"prompt": "[patch:readme] change it"})
    emulator_server.settle()
    _in_progress(checkout, operation)
    before = tree_state(checkout)
    error = refused(emulator_server, [("session", "apply", done["id"], "--commit")], cwd=checkout)
    assert "in progress in this checkout" in error[0], error
    assert tree_state(checkout) == before


# -- the config file ---------------------------------------------------------------------------

CORRUPT_CONFIGS = {
    "invalid TOML": b"[profiles.default\nrepo = ",
    "not UTF-8": b'[profiles.default]\nrepo = "caf\xe9"\n',
    "profiles is a string": b'profiles = "oops"\n',
    "a profile is a number": b"[profiles]\ndefault = 3\n",
}


@pytest.mark.parametrize("content", CORRUPT_CONFIGS.values(), ids=CORRUPT_CONFIGS.keys())
def test_a_corrupt_config_is_one_line_naming_it_and_stays_untouched(
    emulator_server, isolated_config, content
):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    path.write_bytes(content)
    cases = [
        ("config", "set", "repo", "o/r"),
        ("config", "list"),
        ("session", "list"),
        ("auth", "login", "--with-key", "--no-verify"),
    ]
    errors = refused(emulator_server, cases, code=ConfigError.exit_code, input="k" * 39)
    assert all(str(path) in error for error in errors), errors
    assert path.read_bytes() == content
    assert sorted(p.name for p in isolated_config.iterdir()) == ["config.toml"]


def test_a_setting_of_the_wrong_type_is_a_config_error(emulator_server, isolated_config):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    content = b'[profiles.default]\nrepo = 5\nrequire-approval = "maybe"\n'
    path.write_bytes(content)
    errors = refused(
        emulator_server,
        [("session", "new", "hello"), ("session", "new", "--repo", "o/r", "hello")],
        code=ConfigError.exit_code,
    )
    assert all(str(path) in error for error in errors), errors
    assert path.read_bytes() == content


def test_a_folder_where_the_config_file_should_be(emulator_server, isolated_config):
    (isolated_config / "config.toml").mkdir(parents=True)
    errors = refused(
        emulator_server,
        [("config", "list"), ("config", "set", "repo", "o/r")],
        code=ConfigError.exit_code,
    )
    assert all("config.toml" in error for error in errors)


@pytest.mark.skipif(IS_ROOT, reason="root reads files of any mode")
def test_an_unreadable_config_file(emulator_server, isolated_config):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    path.write_text('[profiles.default]\nrepo = "o/r"\n')
    path.chmod(0)
    try:
        refused(emulator_server, [("config", "list")], code=ConfigError.exit_code)
    finally:
        path.chmod(0o600)


def test_an_unwritable_config_folder_is_a_clear_error(emulator_server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {"JULES_CONFIG_DIR": str(blocker / "jules")}  # fails for root too
    errors = refused(
        emulator_server,
        [("config", "set", "repo", "o/r"), ("auth", "login", "--with-key", "--no-verify")],
        code=ConfigError.exit_code,
        env=env,
        input="k" * 39,
    )
    assert all(str(blocker) in error for error in errors), errors
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(IS_ROOT, reason="root writes into folders of any mode")
def test_a_read_only_config_folder(emulator_server, isolated_config):
    isolated_config.mkdir(parents=True)
    isolated_config.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        refused(emulator_server, [("config", "set", "repo", "o/r")], code=ConfigError.exit_code)
    finally:
        isolated_config.chmod(0o700)


def test_config_set_with_a_bad_value_changes_nothing(emulator_server, isolated_config):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    content = b'[profiles.default]\nrepo = "o/r"\n'
    path.write_bytes(content)
    cases = [
        ("config", "set", "require-approval", "maybe"),
        ("config", "set", "repo", "not a repo"),
        ("config", "set", "api-url", "ftp://example.com"),
        ("config", "set", "no-such-key", "1"),
        ("config", "set", "repo", ""),
    ]
    refused(emulator_server, cases)
    assert path.read_bytes() == content


def test_the_python_running_the_tests_is_the_one_of_jules():
    # The no-git test sets PATH to an empty folder: jules must not need PATH to start.
    assert Path(jules_command()[0]).is_absolute() and Path(sys.executable).is_absolute()


# -- a session URL from the API that is not a web page -------------------------------------


@pytest.fixture
def session_with_url():
    """A loopback API that answers GET sessions/123 with a session whose `url` the test
    chooses (the emulator always gives a real https:// one)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served = {"url": "https://jules.google.com/session/123"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = json.dumps(
                {"name": "sessions/123", "id": "123", "state": "COMPLETED", **served}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "JULES_API_URL": f"http://127.0.0.1:{server.server_address[1]}/v1alpha",
        "JULES_API_KEY": "test-key-123456",
    }
    try:
        yield served, env
    finally:
        server.shutdown()
        server.server_close()


def recording_browser(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "browser-args"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {log}\n')
    script.chmod(0o755)
    return script, log


HOSTILE_URLS = [
    "file:///etc/passwd",
    "--new-window=file:///etc/passwd",
    "http://jules.google.com/session/123",
    "javascript:alert(1)",
    "https://jules.google.com/session/123 --args",
    "https://jules.google.com/\x1b[31mred",
]


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal and a shell-script browser")
@pytest.mark.parametrize("args", [("session", "show", "--web"), ("session", "open")])
@pytest.mark.parametrize("url", HOSTILE_URLS, ids=range(len(HOSTILE_URLS)))
def test_only_an_https_session_url_reaches_the_browser(session_with_url, tmp_path, args, url):
    from tests import screen

    served, env = session_with_url
    served["url"] = url
    browser, log = recording_browser(tmp_path)
    env = {**env, "BROWSER": str(browser), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    with screen.spawn([*args, "123"], env=env) as terminal:
        code = terminal.wait()
        text = terminal.text
    assert code == 1, text
    assert not log.exists()  # nothing was opened
    assert text.startswith("Error: not opening the session's URL, which is not an https://")
    assert len(text.splitlines()) == 1 or len(text) > 79  # one (wrapped) line
    assert "\x1b" not in text and "Traceback" not in text


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal and a shell-script browser")
def test_an_https_session_url_is_opened(session_with_url, tmp_path):
    from tests import screen

    served, env = session_with_url
    browser, log = recording_browser(tmp_path)
    env = {**env, "BROWSER": str(browser), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    with screen.spawn(["session", "open", "123"], env=env) as terminal:
        code = terminal.wait()
        text = terminal.text
    assert code == 0, text
    assert "https://jules.google.com/session/123" in text
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:  # the launcher runs detached
        time.sleep(0.05)
    assert log.read_text() == "https://jules.google.com/session/123\n"


@pytest.mark.parametrize(
    "url",
    ["https://[::1", "http://127.0.0.1:0x/v1alpha", "https://exa mple.com/v1alpha", "https://:80/v1"],
)
def test_a_malformed_api_url_is_a_usage_error(emulator_server, url):
    errors = refused(emulator_server, [("--api-url", url, "session", "list")])
    assert "invalid API URL" in errors[0]


@pytest.mark.parametrize("proxy", ["foo://bar", "socks5://127.0.0.1:1", "http://127.0.0.1:0x"])
def test_a_malformed_proxy_setting_is_a_usage_error(emulator_server, proxy):
    env = {"HTTPS_PROXY": proxy, "JULES_API_URL": "https://jules.example.invalid/v1alpha"}
    errors = refused(emulator_server, [("session", "list")], env=env)
    assert "proxy" in errors[0] and "HTTPS_PROXY" in errors[0]
