#!/usr/bin/env python3
"""The steps of the `jules` GitHub Action (action.yml), as one script the tests can run.

It drives the installed `jules` command exactly as a workflow's shell step would: starts a
session from the action's inputs, optionally waits for it, then writes the outputs
(`session-id`, `state`, `url`, `pr-url`, `exit-code`) to $GITHUB_OUTPUT and a short
Markdown report (state, pull request, diffstat) to $GITHUB_STEP_SUMMARY.

Inputs arrive as environment variables set by action.yml (INPUT_PROMPT, INPUT_REPO, ...),
the key as JULES_API_KEY. The script's exit code fails the step on every `jules` exit code
but 0, except 9 (the session waits for the user) when require-approval is true: the plan
waiting for approval is then the expected outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

USAGE = 2
NEEDS_USER = 9


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper().replace('-', '_')}", default).strip()


def _flag(name: str, default: bool) -> bool:
    value = _input(name, "true" if default else "false").lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off", ""):
        return False
    raise ValueError(f"input {name} must be true or false, not {value!r}")


def _jules() -> list[str]:
    found = shutil.which("jules")
    return [found] if found else [sys.executable, "-m", "jules_cli"]


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`jules ARGS`, its stderr passed through to the job log, its stdout captured."""
    return subprocess.run(
        [*_jules(), *args],
        input=stdin if stdin is not None else "",
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
    )


def _write_outputs(values: dict[str, str]) -> None:
    """$GITHUB_OUTPUT in the multi-line form (name<<DELIMITER), safe for any value."""
    target = os.environ.get("GITHUB_OUTPUT")
    lines = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
        lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.writelines(lines)
    else:  # run by hand: show what the outputs would be
        for name, value in values.items():
            print(f"{name}={value}")


def _append_summary(text: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text)


def _pr_url(session: dict) -> str:
    for output in session.get("outputs") or []:
        if isinstance(output, dict):
            url = (output.get("pullRequest") or {}).get("url")
            if isinstance(url, str) and url:
                return url
    return ""


def _md(text: str) -> str:
    """API text made inert in Markdown: no HTML, no links or emphasis it did not ask for."""
    for char in "\\`*_[]<>|#":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def _summary(session: dict, code: int, diffstat: str, waited: bool) -> str:
    state = session.get("state") or "UNKNOWN"
    title = session.get("title") or session.get("prompt") or session.get("id", "")
    lines = [f"### Jules: {_md(str(title))[:200]}", ""]
    lines.append(f"- **State:** `{state}`" + ("" if waited else " (not waited for)"))
    url = session.get("url")
    if isinstance(url, str) and url.startswith("https://"):
        lines.append(f"- **Session:** [{_md(str(session.get('id', url)))}]({url})")
    pr = _pr_url(session)
    if pr.startswith("https://"):
        lines.append(f"- **Pull request:** {pr}")
    lines.append(f"- **Exit code:** {code}")
    if diffstat.strip():
        lines += ["", "```", diffstat.rstrip("\n").replace("```", "'''"), "```"]
    return "\n".join(lines) + "\n\n"


def _check_timeout(text: str) -> str | None:
    """Why the timeout input is not a duration `jules session wait` takes, or None.

    Checked before the session starts (each one costs a daily task), with the installed
    julesctl's own parser; run where julesctl is not importable, `jules` checks it later."""
    try:
        from jules_cli.errors import UsageError
        from jules_cli.follow import parse_duration
    except ImportError:
        return None
    try:
        parse_duration(text)
    except UsageError as error:
        return f"input timeout: {error}"
    return None


def _mask(secret: str) -> None:
    # A key given as a plain input (not from `secrets.`) is not masked by the runner.
    if secret:
        print(f"::add-mask::{secret}", flush=True)


def _fail(message: str, code: int) -> int:
    print(f"::error title=jules::{message}", flush=True)
    _write_outputs({"exit-code": str(code)})
    return code


def main() -> int:
    key = os.environ.get("JULES_API_KEY", "")
    _mask(key)
    prompt = _input("prompt")
    try:
        auto_pr, approval, wait = (
            _flag("auto-pr", True),
            _flag("require-approval", False),
            _flag("wait", True),
        )
    except ValueError as error:
        return _fail(str(error), USAGE)
    if not prompt:
        return _fail("the prompt input is empty", USAGE)
    timeout = _input("timeout", "30m") or "30m"
    problem = _check_timeout(timeout) if wait else None
    if problem:
        return _fail(problem, USAGE)
    if not key and os.environ.get("JULES_EMULATOR") != "1":
        return _fail("the api-key input is empty: pass it from a secret, "
                     "e.g. api-key: ${{ secrets.JULES_API_KEY }}", 4)

    new = ["session", "new", "-", "--json"]
    repo, branch = _input("repo"), _input("branch")
    if repo:
        new += ["--repo", repo]
    if branch:
        new += ["--branch", branch]
    if auto_pr:
        new.append("--auto-pr")
    if approval:
        new.append("--require-approval")
    created = _run(new, stdin=prompt)
    if created.returncode != 0:
        return _fail(f"jules session new failed (exit {created.returncode})", created.returncode)
    session = json.loads(created.stdout)
    sid = str(session.get("id", ""))
    _write_outputs({"session-id": sid, "url": str(session.get("url", ""))})

    code = 0
    if wait:
        waited = _run(["session", "wait", sid, "--timeout", timeout, "--json"])
        code = waited.returncode
        if waited.stdout.strip():
            session = json.loads(waited.stdout)
    diffstat = ""
    if session.get("state") == "COMPLETED":
        diffstat = _run(["session", "diff", sid, "--stat"]).stdout
    _write_outputs(
        {
            "state": str(session.get("state", "")),
            "pr-url": _pr_url(session),
            "exit-code": str(code),
        }
    )
    _append_summary(_summary(session, code, diffstat, wait))
    if code == NEEDS_USER and approval:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
