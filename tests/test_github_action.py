"""The GitHub Action: action.yml checked against what GitHub's action metadata requires and
the contract's inputs and outputs, and its script (action/run.py) run end to end against
the emulator with a fake $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY, as a runner would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import jules_command

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
SCRIPT = ROOT / "action" / "run.py"

CONTRACT_INPUTS = {
    # name: (required, default)
    "prompt": (True, None),
    "api-key": (True, None),
    "repo": (False, "${{ github.repository }}"),
    "branch": (False, ""),
    "auto-pr": (False, "true"),
    "require-approval": (False, "false"),
    "wait": (False, "true"),
    "timeout": (False, "30m"),
}
CONTRACT_OUTPUTS = ("session-id", "state", "url", "pr-url", "exit-code")


@pytest.fixture(scope="module")
def metadata() -> dict:
    return yaml.safe_load(ACTION.read_text())


# -- action.yml ---------------------------------------------------------------------------


def test_metadata_has_what_github_requires_of_a_composite_action(metadata):
    # GitHub's action metadata schema: name, description and runs are required; a
    # composite action's steps each run a script with a shell, or use another action.
    assert set(metadata) <= {"name", "author", "description", "inputs", "outputs", "runs",
                             "branding"}
    assert isinstance(metadata["name"], str) and metadata["name"]
    assert isinstance(metadata["description"], str) and metadata["description"]
    assert metadata["runs"]["using"] == "composite"
    steps = metadata["runs"]["steps"]
    assert steps
    for step in steps:
        assert set(step) <= {"name", "id", "if", "run", "shell", "env", "working-directory",
                             "uses", "with", "continue-on-error"}
        assert ("run" in step) != ("uses" in step)
        if "run" in step:
            assert step["shell"] in ("bash", "pwsh", "python", "sh", "cmd", "powershell")
    for name, spec in metadata["inputs"].items():
        assert set(spec) <= {"description", "required", "default", "deprecationMessage"}, name
        assert spec["description"], name
    for name, spec in metadata["outputs"].items():
        assert set(spec) == {"description", "value"}, name


def test_every_input_and_output_of_the_contract(metadata):
    inputs = metadata["inputs"]
    assert set(inputs) == set(CONTRACT_INPUTS)
    for name, (required, default) in CONTRACT_INPUTS.items():
        assert bool(inputs[name].get("required", False)) is required, name
        assert inputs[name].get("default") == default, name
    outputs = metadata["outputs"]
    assert set(outputs) == set(CONTRACT_OUTPUTS)
    step_ids = {step.get("id") for step in metadata["runs"]["steps"]}
    for name, spec in outputs.items():
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert match and match.group(1) in step_ids and match.group(2) == name


def test_every_steps_script_is_present_and_inputs_never_reach_a_shell_line(metadata):
    for step in metadata["runs"]["steps"]:
        script = step.get("run", "")
        # Inputs travel as environment variables: `${{ inputs.x }}` inside a run line would
        # be pasted into the shell script, so a prompt could run commands on the runner.
        assert "${{" not in script, step.get("name")
        for path in re.findall(r"\$GITHUB_ACTION_PATH/([\w./-]+)", script):
            assert (ROOT / path).is_file(), path
    run_step = next(s for s in metadata["runs"]["steps"] if s.get("id") == "jules")
    env = run_step["env"]
    assert env["JULES_API_KEY"] == "${{ inputs.api-key }}"
    for name in CONTRACT_INPUTS:
        if name != "api-key":
            assert env[f"INPUT_{name.upper().replace('-', '_')}"] == f"${{{{ inputs.{name} }}}}"


def test_the_install_step_installs_this_checkout(metadata):
    install = metadata["runs"]["steps"][0]["run"]
    assert 'pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in install


# -- action/run.py, end to end ----------------------------------------------------------------


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's multi-line entries (name<<DELIM ... DELIM), last value wins."""
    values, lines = {}, path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        name, delimiter = lines[index].split("<<", 1)
        end = lines.index(delimiter, index + 1)
        values[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return values


def run_action(tmp_path: Path, server, **inputs: str):
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {
        **os.environ,
        **server.env,
        "PATH": str(Path(jules_command()[0]).parent) + os.pathsep + os.environ["PATH"],
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "CI": "true",
        "NO_COLOR": "1",
    }
    if "api_key" in inputs:
        env["JULES_API_KEY"] = inputs.pop("api_key")
    for name, value in inputs.items():
        env[f"INPUT_{name.upper()}"] = value
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return result, read_outputs(output), summary.read_text() if summary.exists() else ""


DEFAULTS = {"repo": "jules-demo/hello-world", "auto_pr": "true", "require_approval": "false",
            "wait": "true", "timeout": "30m"}


def test_a_completed_session_with_a_pull_request(tmp_path, emulator_server):
    result, outputs, summary = run_action(
        tmp_path, emulator_server, prompt="Add a health check", **DEFAULTS
    )
    assert result.returncode == 0, result.stderr
    session = emulator_server.emulator.get_session(outputs["session-id"])
    pr = next(o["pullRequest"]["url"] for o in session["outputs"] if "pullRequest" in o)
    assert outputs == {
        "session-id": session["id"],
        "url": session["url"],
        "state": "COMPLETED",
        "pr-url": pr,
        "exit-code": "0",
    }
    created = [r for r in emulator_server.requests()
               if r["method"] == "POST" and r["path"] == "/v1alpha/sessions"]
    assert len(created) == 1
    assert created[0]["body"]["prompt"] == "Add a health check"
    assert created[0]["body"]["automationMode"] == "AUTO_CREATE_PR"
    assert created[0]["body"]["sourceContext"]["source"] == "sources/github/jules-demo/hello-world"
    assert "**State:** `COMPLETED`" in summary
    assert f"**Pull request:** {pr}" in summary
    assert re.search(r"\d+ files? changed", summary)
    # The key is masked in the log, and appears nowhere else.
    key = emulator_server.env["JULES_API_KEY"]
    assert result.stdout.splitlines()[0] == f"::add-mask::{key}"
    assert key not in result.stdout.split("\n", 1)[1] + result.stderr + summary


def test_a_failed_session_fails_the_step_with_8(tmp_path, emulator_server):
    result, outputs, summary = run_action(
        tmp_path, emulator_server, prompt="Break it [fail:the tests do not pass]", **DEFAULTS
    )
    assert result.returncode == 8
    assert outputs["state"] == "FAILED" and outputs["exit-code"] == "8"
    assert outputs["pr-url"] == ""
    assert "**State:** `FAILED`" in summary


def test_a_timeout_fails_the_step_with_10(tmp_path, emulator_server):
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="Never ends [stall]", **{**DEFAULTS, "timeout": "1s"}
    )
    assert result.returncode == 10
    assert outputs["exit-code"] == "10"
    assert outputs["state"] in ("QUEUED", "PLANNING", "IN_PROGRESS")
    assert outputs["session-id"]


def test_a_plan_waiting_for_approval_passes_when_approval_was_asked_for(tmp_path, emulator_server):
    result, outputs, summary = run_action(
        tmp_path, emulator_server, prompt="Plan first", **{**DEFAULTS, "require_approval": "true"}
    )
    assert result.returncode == 0, result.stderr
    assert outputs["state"] == "AWAITING_PLAN_APPROVAL" and outputs["exit-code"] == "9"


def test_no_wait_outputs_the_new_session_at_once(tmp_path, emulator_server):
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="Hold [stall:queued]", **{**DEFAULTS, "wait": "false"}
    )
    assert result.returncode == 0, result.stderr
    assert outputs["state"] == "QUEUED" and outputs["exit-code"] == "0"


def test_a_missing_key_fails_before_any_request(tmp_path, emulator_server):
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="Add a health check", api_key="", **DEFAULTS
    )
    assert result.returncode == 4
    assert outputs == {"exit-code": "4"}
    assert "api-key" in result.stdout
    assert emulator_server.requests() == []


def test_a_bad_flag_input_is_a_usage_error(tmp_path, emulator_server):
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="x", **{**DEFAULTS, "wait": "sometimes"}
    )
    assert result.returncode == 2 and outputs == {"exit-code": "2"}
    assert emulator_server.requests() == []


def test_a_session_waiting_for_the_user_fails_the_step_when_approval_was_not_asked_for(
    tmp_path, emulator_server
):
    # The exception for 9 is only for require-approval: true; a question otherwise fails.
    result, outputs, summary = run_action(
        tmp_path, emulator_server, prompt="Ask me first [ask]", **DEFAULTS
    )
    assert result.returncode == 9
    assert outputs["state"] == "AWAITING_USER_FEEDBACK" and outputs["exit-code"] == "9"
    assert "**State:** `AWAITING_USER_FEEDBACK`" in summary


def test_a_repository_that_is_not_connected_fails_the_step_with_its_exit_code(
    tmp_path, emulator_server
):
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="x", **{**DEFAULTS, "repo": "someone/elsewhere"}
    )
    assert result.returncode == 3
    assert outputs == {"exit-code": "3"}
    assert "::error title=jules::jules session new failed (exit 3)" in result.stdout
    created = [r for r in emulator_server.requests() if r["method"] == "POST"]
    assert created == []


def test_a_bad_timeout_is_a_usage_error_before_any_session_is_started(tmp_path, emulator_server):
    # A session costs one of the day's tasks: an input that would only fail at the wait
    # fails before the session is created.
    result, outputs, _ = run_action(
        tmp_path, emulator_server, prompt="x", **{**DEFAULTS, "timeout": "soon"}
    )
    assert result.returncode == 2 and outputs == {"exit-code": "2"}
    assert "timeout" in result.stdout
    assert emulator_server.requests() == []


def test_branch_and_auto_pr_false_reach_the_new_session(tmp_path, emulator_server):
    result, outputs, summary = run_action(
        tmp_path, emulator_server, prompt="Hold [stall:queued]",
        **{**DEFAULTS, "branch": "develop", "auto_pr": "false", "wait": "false"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = [r for r in emulator_server.requests()
               if r["method"] == "POST" and r["path"] == "/v1alpha/sessions"]  # fmt: skip
    assert len(created) == 1
    body = created[0]["body"]
    assert body["sourceContext"]["githubRepoContext"]["startingBranch"] == "develop"
    assert "automationMode" not in body and "requirePlanApproval" not in body
    assert "(not waited for)" in summary
