"""Shell completion: the offline cache, the engine over the command tree, and real shells.

The engine answers from the command tree as plain data (`_describe.describe`, committed as
jules_cli/cli/_command_tree.py). The shell tests load the committed scripts from
completions/ into real bash, zsh and fish and complete through the installed `jules`,
exactly as a TAB press does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from jules_cli import completion as cache
from jules_cli.cli import _tab as engine
from jules_cli.cli import completion as completion_command
from jules_cli.cli._describe import describe
from jules_cli.cli._tab import complete, format_completions, respond
from jules_cli.cli.completion import Shell, script
from tests.conftest import jules_command

REPO = Path(__file__).resolve().parent.parent
COMPLETIONS = REPO / "completions"

SESSIONS = [
    {"id": "1111", "name": "sessions/1111", "title": "Fix the flaky test", "state": "COMPLETED"},
    {"name": "sessions/2222", "title": "Bump deps\nnow", "state": "IN_PROGRESS"},
]
SOURCES = [
    {
        "name": "sources/github/octo/app",
        "githubRepo": {
            "owner": "octo",
            "repo": "app",
            "defaultBranch": {"displayName": "main"},
            "branches": [{"displayName": "main"}, {"displayName": "dev"}],
        },
    },
    {
        "name": "sources/github/octo/lib",
        "githubRepo": {"owner": "octo", "repo": "lib", "branches": [{"displayName": "trunk"}]},
    },
]


def values(result) -> list[str]:
    return [candidate.value for candidate in result.candidates]


# -- the cache -------------------------------------------------------------------------------


def test_session_ids_come_from_the_cache_with_state_and_title():
    cache.remember_sessions(SESSIONS)
    assert cache.complete_session_ids("") == [
        ("1111", "COMPLETED Fix the flaky test"),
        ("2222", "IN_PROGRESS Bump deps now"),
    ]
    assert cache.complete_session_ids("2") == [("2222", "IN_PROGRESS Bump deps now")]
    assert [v for v, _ in cache.complete_session_ids("sessions/1")] == ["sessions/1111"]
    # Ids may start with a letter: `s` offers those and the sessions/ form alike.
    cache.remember_sessions([{"name": "sessions/s-3", "title": "Lettered", "state": "QUEUED"}])
    assert sorted(v for v, _ in cache.complete_session_ids("s")) == [
        "s-3", "sessions/1111", "sessions/2222", "sessions/s-3"
    ]


def test_entries_older_than_their_ttl_are_not_offered():
    now = time.time()
    cache.remember_sessions([SESSIONS[0]], now=now - cache.SESSION_TTL - 1)
    cache.remember_sessions([SESSIONS[1]], now=now)
    assert [v for v, _ in cache.complete_session_ids("")] == ["2222"]
    cache.remember_sources(SOURCES, now=now - cache.SOURCE_TTL - 1)
    assert cache.complete_sources("") == []


def test_newer_lists_merge_into_the_cache_and_it_stays_small(monkeypatch):
    monkeypatch.setattr(cache, "MAX_SESSIONS", 3)
    now = time.time()
    for index in range(5):
        cache.remember_sessions([{"id": f"{index}", "state": "QUEUED"}], now=now - 10 + index)
    assert [v for v, _ in cache.complete_session_ids("")] == ["4", "3", "2"]


def test_remember_while_streaming_records_what_was_read_even_when_cut_short():
    def pages():
        yield from SESSIONS
        raise AssertionError("read past the limit")

    passed = cache.remember_sessions_while(pages())
    assert cache.complete_session_ids("") == []  # nothing until iteration ends
    assert next(passed) is SESSIONS[0]
    passed.close()  # e.g. `| head` or --limit stopped the listing
    assert [v for v, _ in cache.complete_session_ids("")] == ["1111"]


def test_forgotten_sessions_are_no_longer_offered():
    cache.remember_sessions(SESSIONS)
    cache.forget_sessions(["sessions/1111"])
    assert [v for v, _ in cache.complete_session_ids("")] == ["2222"]


def test_sources_and_source_names():
    cache.remember_sources_while(iter(SOURCES)).__next__()
    cache.remember_sources(SOURCES)
    assert cache.complete_sources("octo/a") == [("octo/app", "sources/github/octo/app")]
    assert [v for v, _ in cache.complete_source_names("sources/github/octo/")] == [
        "sources/github/octo/app",
        "sources/github/octo/lib",
    ]


class FakeContext:
    def __init__(self, **params):
        self.params = params


def test_branches_of_the_repository_on_the_line_else_of_all_cached_ones():
    cache.remember_sources(SOURCES)
    assert [b for b, _ in cache.complete_branches(FakeContext(repo="octo/app"), "")] == [
        "main",
        "dev",
    ]
    assert [b for b, _ in cache.complete_branches(FakeContext(source=None), "")] == [
        "main",
        "dev",
        "trunk",
    ]
    lib = FakeContext(source="sources/github/octo/lib")
    assert cache.complete_branches(lib, "t") == [("trunk", "octo/lib")]


def test_states_and_until_values_follow_the_case_typed_and_comma_lists():
    assert cache.complete_states("AWA") == ["AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK"]
    assert cache.complete_states("completed,fa") == ["completed,failed"]
    assert cache.complete_until("")[:2] == ["done", "settled"]
    assert "PAUSED" in cache.complete_until("")
    assert cache.complete_until("pa") == ["paused"]


def test_the_cache_lives_in_the_state_folder_and_the_config_in_its_own(tmp_path, monkeypatch):
    from jules_cli import config

    monkeypatch.setenv("JULES_CONFIG_DIR", "~/elsewhere")
    assert cache.cache_path() == config.state_dir() / cache.CACHE_FILE
    assert config.state_dir() == config.config_dir() == Path("~/elsewhere").expanduser()
    monkeypatch.delenv("JULES_CONFIG_DIR")
    for name in ("STATE", "CONFIG"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    assert cache.cache_path() == config.state_dir() / cache.CACHE_FILE
    if sys.platform.startswith("linux"):
        assert config.state_dir() == tmp_path / "state" / "jules"
        assert config.config_dir() == tmp_path / "config" / "jules"


def test_a_broken_or_foreign_cache_file_offers_nothing_and_is_replaced(isolated_config):
    path = cache.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert cache.complete_session_ids("") == []
    path.write_text(json.dumps({"version": 999, "sessions": {"1": {"seen": time.time()}}}))
    assert cache.complete_session_ids("") == []
    cache.remember_sessions(SESSIONS)
    assert len(cache.complete_session_ids("")) == 2


def test_an_unwritable_cache_never_fails_the_listing(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("JULES_CONFIG_DIR", str(blocker / "sub"))
    cache.remember_sessions(SESSIONS)  # no exception
    assert cache.complete_session_ids("") == []


# -- the engine ------------------------------------------------------------------------------


def small_app() -> typer.Typer:
    """A tree with each kind of parameter the engine must handle."""
    app = typer.Typer()

    @app.callback()
    def main(profile: Annotated[str, typer.Option("--profile")] = "default") -> None:
        pass

    thing = typer.Typer()
    app.add_typer(thing, name="thing")
    app.add_typer(thing, name="things", hidden=True)

    @thing.command("show")
    def show(
        ident: Annotated[str, typer.Argument(autocompletion=cache.complete_session_ids)],
        shell: Annotated[Shell, typer.Option("--shell", "-s", help="A shell.")] = Shell.bash,
        output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More.")] = False,
        tags: Annotated[list[str] | None, typer.Option("--tag")] = None,
    ) -> None:
        """Show one thing."""

    @thing.command("copy")
    def copy(
        files: Annotated[list[Path], typer.Argument()],
        branch: Annotated[
            str | None, typer.Option("--branch", autocompletion=cache.complete_branches)
        ] = None,
        repo: Annotated[str | None, typer.Option("--repo")] = None,
    ) -> None:
        """Copy things."""

    return app


@pytest.fixture
def root():
    return describe(typer.main.get_command(small_app()))


def test_subcommands_complete_with_their_help_and_hidden_ones_stay_hidden(root):
    assert values(complete(root, [], "th")) == ["thing"]
    result = complete(root, ["thing"], "")
    assert values(result) == ["show", "copy"]
    assert result.candidates[0].help == "Show one thing"
    assert values(complete(root, ["--profile", "work", "thing"], "c")) == ["copy"]
    assert values(complete(root, ["nothing"], "")) == []


def test_options_long_names_first_short_ones_on_request_and_no_repeats(root):
    offered = values(complete(root, ["thing", "show"], "--"))
    assert offered[:5] == ["--shell", "--output", "--verbose", "--tag", "--help"]
    assert "--profile" in offered[5:]  # the global options after the command's own
    assert values(complete(root, ["--profile", "w", "thing", "show"], "--p")) == []
    assert values(complete(root, ["thing", "show"], "-v")) == ["-v"]
    used = values(complete(root, ["thing", "show", "--verbose", "--tag", "x"], "--"))
    assert "--verbose" not in used and "--tag" in used  # --tag may be repeated


def test_option_values_choices_files_and_the_equals_form(root):
    assert values(complete(root, ["thing", "show", "--shell"], "")) == [
        "bash",
        "zsh",
        "fish",
        "powershell",
    ]
    assert complete(root, ["thing", "show", "-o"], "").files
    result = complete(root, ["thing", "show"], "--shell=f")
    assert values(result) == ["fish"] and result.option_prefix == "--shell="
    assert format_completions(result, Shell.fish) == "--shell=fish\n"
    assert format_completions(result, Shell.bash) == "fish\n"


def test_arguments_complete_from_callbacks_that_see_the_options_on_the_line(root):
    cache.remember_sessions(SESSIONS)
    cache.remember_sources(SOURCES)
    assert values(complete(root, ["thing", "show"], "")) == ["1111", "2222"]
    assert values(complete(root, ["thing", "show", "-s", "zsh"], "2")) == ["2222"]
    assert values(complete(root, ["thing", "show", "1111"], "")) == []
    branches = complete(root, ["thing", "copy", "--repo", "octo/lib", "--branch"], "")
    assert values(branches) == ["trunk"]
    assert complete(root, ["thing", "copy", "a", "b"], "").files


def test_eager_options_on_the_line_print_nothing(capsys):
    real = engine.load_tree()
    assert values(complete(real, ["--version"], "ses")) == ["session"]
    assert values(complete(real, ["--help", "session"], "sh")) == ["show"]
    assert capsys.readouterr().out == ""


def test_shell_formats():
    result = engine.Completions([engine.Candidate("a:b", "help"), engine.Candidate("c")])
    assert format_completions(result, Shell.bash) == "a:b\nc\n"
    assert format_completions(result, Shell.zsh) == "a\\:b:help\nc\n"
    assert format_completions(result, Shell.fish) == "a:b\thelp\nc\n"
    assert format_completions(engine.Completions(files=True), Shell.zsh) == ":files\n"


def test_respond_reads_the_bash_line_and_the_other_shells_words(capsys):
    env = {"_JULES_COMPLETE": "complete_bash", "_JULES_COMPLETE_LINE": "jules --debug ses"}
    assert respond([], env) == 0
    assert capsys.readouterr().out == "session\n"
    env = {"_JULES_COMPLETE": "complete_fish", "_JULES_COMPLETE_CURRENT": "app"}
    assert respond(["session"], env) == 0
    assert set(capsys.readouterr().out.splitlines()) >= {
        line for line in ("approve\tApprove the session's pending plan",)
    }
    env = {"_JULES_COMPLETE": "complete_bash", "COMP_WORDS": "jules ses", "COMP_CWORD": "1"}
    assert respond([], env) == 0
    assert capsys.readouterr().out == "session\n"
    assert respond([], {"_JULES_COMPLETE": "source_zsh"}) == 0
    assert capsys.readouterr().out == script("zsh")
    assert respond([], {"_JULES_COMPLETE": "complete_tcsh"}) == 2


def test_quoted_and_unfinished_words_on_the_bash_line():
    assert engine._words_from_line("jules session new --title 'a b' ") == (
        ["session", "new", "--title", "a b"],
        "",
    )
    assert engine._words_from_line('jules session new "half') == (["session", "new"], "half")


def test_the_completion_command_prints_each_script():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    completion_command.register(app)
    runner = CliRunner()
    for shell in Shell:
        result = runner.invoke(app, ["completion", shell.value])
        assert result.exit_code == 0
        assert result.output == script(shell)
    assert runner.invoke(app, ["completion", "tcsh"]).exit_code == 2


# -- a TAB press runs the real program -------------------------------------------------------


def _tab_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def test_a_tab_press_through_the_installed_jules_answers_and_exits_cleanly():
    result = subprocess.run(
        jules_command(),
        env=_tab_env(_JULES_COMPLETE="complete_bash", _JULES_COMPLETE_LINE="jules session app"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == ["approve", "apply"]


def test_a_tab_press_imports_neither_httpx_nor_rich(tmp_path):
    probe = textwrap.dedent(
        """
        import sys
        from jules_cli.__main__ import main
        code = main(sys.argv[1:])
        heavy = sorted(m for m, mod in sys.modules.items()
                       if mod is not None and m.split(".")[0] in ("httpx", "rich"))
        sys.stderr.write(f"exit={code} heavy={heavy}\\n")
        """
    )
    for shell, current in (("bash", None), ("zsh", "--"), ("fish", "")):
        env = _tab_env(_JULES_COMPLETE=f"complete_{shell}")
        if current is None:
            env["_JULES_COMPLETE_LINE"] = "jules session "
            args = []
        else:
            env["_JULES_COMPLETE_CURRENT"] = current
            args = ["session"]
        result = subprocess.run(
            [sys.executable, "-c", probe, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stderr.strip() == "exit=0 heavy=[]", shell
        assert result.stdout.strip(), shell


# -- real shells -----------------------------------------------------------------------------


@pytest.fixture
def jules_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH starts with a `jules` that runs this checkout's program."""
    folder = tmp_path / "bin"
    folder.mkdir()
    launcher = folder / "jules"
    command = " ".join(f"'{part}'" for part in jules_command())
    launcher.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    launcher.chmod(0o755)
    return _tab_env(PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def need(shell: str) -> str:
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    return found


BASH_DRIVER = r"""
source "$1"
complete -p jules >/dev/null || exit 3
tab() {
    COMP_LINE="$1"
    COMP_POINT=${#COMP_LINE}
    read -ra COMP_WORDS <<< "$1"
    [[ "$1" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _jules_completion jules "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "$1 => ${COMPREPLY[*]}"
}
tab "jules ses"
tab "jules session app"
tab "jules session show "
tab "jules --profile work activities list 2"
"""


def test_bash_completes_commands_and_cached_session_ids(jules_on_path):
    bash = need("bash")
    cache.remember_sessions(SESSIONS)
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", BASH_DRIVER, "driver", COMPLETIONS / "jules.bash"],
        env=jules_on_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "jules ses => session",
        "jules session app => approve apply",
        "jules session show  => 1111 2222",
        "jules --profile work activities list 2 => 2222",
    ]


# zsh completes only in an interactive shell with compinit: run one in a pseudo-terminal
# (zsh's own zpty module), type the line and TAB, and record every candidate that reaches
# compadd. `comppostfuncs` ends the inner shell once the completion has run.
ZSH_INIT = r"""
autoload -Uz compinit
compinit -u -D
source "$JULES_SCRIPT"
comppostfuncs=(__done)
__done() { exit }
compadd() {
    if [[ " $* " == *" -"[OAD]" "* ]]; then
        builtin compadd "$@"
        return
    fi
    local -a hits
    builtin compadd -O hits "$@"
    (( ${#hits} )) && print -rl -- "${hits[@]}" >> "$CAPTURE"
    builtin compadd "$@"
}
"""
ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty shell zsh -f -i
zpty -w shell "source ${(q)INIT}"
zpty -w shell "${LINE}"$'\t'
while zpty -r shell chunk; do :; done
"""


def zsh_tab(zsh: str, env: dict[str, str], tmp_path: Path, line: str) -> list[str]:
    init = tmp_path / "init.zsh"
    init.write_text(ZSH_INIT)
    capture = tmp_path / "capture"
    capture.unlink(missing_ok=True)
    env = dict(
        env,
        INIT=str(init),
        CAPTURE=str(capture),
        LINE=line,
        JULES_SCRIPT=str(COMPLETIONS / "_jules"),
    )
    subprocess.run(
        [zsh, "-f", "-c", ZSH_DRIVER], env=env, capture_output=True, timeout=60, check=True
    )
    return capture.read_text().split() if capture.exists() else []


def test_zsh_completes_commands_and_cached_session_ids(jules_on_path, tmp_path):
    zsh = need("zsh")
    cache.remember_sessions(SESSIONS)
    assert zsh_tab(zsh, jules_on_path, tmp_path, "jules ses") == ["session"]
    assert zsh_tab(zsh, jules_on_path, tmp_path, "jules session app") == ["approve", "apply"]
    assert zsh_tab(zsh, jules_on_path, tmp_path, "jules session show ") == ["1111", "2222"]


FISH_DRIVER = 'source $argv[1]; complete --do-complete="$argv[2]"'


def test_fish_completes_commands_with_help_and_cached_session_ids(jules_on_path):
    fish = need("fish")
    cache.remember_sessions(SESSIONS)

    def run(line: str) -> list[str]:
        result = subprocess.run(
            [fish, "--no-config", "-c", FISH_DRIVER, str(COMPLETIONS / "jules.fish"), line],
            env=jules_on_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert run("jules ses") == ["session\tStart, follow and act on Jules coding sessions"]
    assert [line.split("\t")[0] for line in run("jules session app")] == ["apply", "approve"]
    assert run("jules session show 1") == ["1111\tCOMPLETED Fix the flaky test"]


# -- hostile API text never becomes typed text ---------------------------------------------

HOSTILE_SESSIONS = [
    {"id": "1; touch x", "title": "injected", "state": "COMPLETED"},
    {"id": "$(touch x)", "title": "injected", "state": "COMPLETED"},
    {"id": "3`id`", "title": "injected", "state": "COMPLETED"},
    {"id": "4\nrm -rf", "title": "injected", "state": "COMPLETED"},
    {"id": "5\x1b[2J", "title": "injected", "state": "COMPLETED"},
    {"name": "sessions/6 &", "title": "injected", "state": "COMPLETED"},
    {"id": "777", "title": "Fine\x1b[31m red\x07 \u202eevil\nsecond line", "state": "FAILED"},
]
HOSTILE_SOURCES = [
    {
        "name": "sources/github/octo/ok",
        "githubRepo": {
            "owner": "octo",
            "repo": "ok",
            "branches": [
                {"displayName": "main"},
                {"displayName": "x;rm"},
                {"displayName": "$(id)"},
                {"displayName": "-rf"},
            ],
        },
    },
    {"name": "sources/github/a b/c", "githubRepo": {"owner": "a b", "repo": "c"}},
    {"name": "sources/github/o/r;x", "githubRepo": {"owner": "o", "repo": "r;x"}},
]


def test_only_ids_of_the_contract_alphabet_are_cached_or_offered():
    cache.remember_sessions(HOSTILE_SESSIONS)
    assert cache.complete_session_ids("") == [("777", "FAILED Fine[31m red evil second line")]
    cache.remember_sources(HOSTILE_SOURCES)
    assert cache.complete_sources("") == [("octo/ok", "sources/github/octo/ok")]
    assert [b for b, _ in cache.complete_branches(FakeContext(repo="octo/ok"), "")] == ["main"]


def test_a_hand_made_cache_cannot_smuggle_text_into_any_shell(capsys):
    # An old or edited cache file: the TAB path filters what it reads, too.
    path = cache.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    entries = {
        s["id"]: {"title": s["title"], "state": "COMPLETED", "seen": now}
        for s in HOSTILE_SESSIONS
        if "id" in s
    }
    path.write_text(json.dumps({"version": cache.CACHE_VERSION, "sessions": entries}))
    for shell in ("bash", "zsh", "fish", "powershell"):
        env = {"_JULES_COMPLETE": f"complete_{shell}", "_JULES_COMPLETE_CURRENT": ""}
        if shell == "bash":
            env["_JULES_COMPLETE_LINE"] = "jules session show "
        assert respond(["session", "show"], env) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split("\t")[0].split(":")[0] for line in lines] == ["777"], (shell, lines)
        for line in lines:
            assert line.isprintable() or "\t" in line, (shell, line)
            assert all(c.isprintable() for c in line.replace("\t", "")), (shell, line)


def test_bash_never_completes_an_injected_id(jules_on_path, tmp_path):
    bash = need("bash")
    cache.remember_sessions([*SESSIONS, *HOSTILE_SESSIONS])
    driver = BASH_DRIVER.split('tab "jules ses"')[0] + 'tab "jules session show "\n'
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", driver, "driver", COMPLETIONS / "jules.bash"],
        env=jules_on_path,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["jules session show  => 1111 2222 777"]
    assert not (tmp_path / "x").exists()


def test_the_completion_id_check_is_the_contracts():
    from jules_cli.api import names

    assert cache.ID_ALPHABET == names.ID_ALPHABET
    for text in ["1234", "a-b_C9", "", "1; x", "sessions/1", "é", "1\n", "../x", None, 12]:
        assert cache.is_api_id(text) == names.is_id(text), text
