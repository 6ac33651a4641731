"""The README's quick start, run as written with the installed `jules` (in-process
emulator, no key, no network): a reader who pastes it gets a session from `session new`
to `session show`, every command succeeding."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import jules_command

README = Path(__file__).resolve().parent.parent / "README.md"


def _quick_start_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_quick_start_goes_from_session_new_to_session_show():
    blocks = _quick_start_blocks()
    assert blocks, "the README has a Quick start section with sh blocks"
    everything = "\n".join(blocks)
    assert everything.index("jules session new") < everything.rindex("jules session show")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_offline_quick_start_runs_as_written(tmp_path):
    offline = [block for block in _quick_start_blocks() if "JULES_EMULATOR=1" in block]
    assert len(offline) == 1, "one quick-start block runs against the emulator"
    script = "set -euo pipefail\n" + offline[0]
    assert "session new" in script and "session show" in script

    env = dict(os.environ)
    env["JULES_CONFIG_DIR"] = str(tmp_path / "config")
    env["PATH"] = os.pathsep.join([str(Path(jules_command()[0]).parent), env.get("PATH", "")])
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "COMPLETED" in result.stdout  # the final `session show`
    assert "diff --git" in result.stdout  # `session diff`: the patch itself
