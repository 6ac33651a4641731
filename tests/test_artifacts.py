from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from jules_cli.artifacts import (
    ArtifactError,
    ArtifactRef,
    artifact_file_name,
    decode_media,
    human_size,
    iter_artifacts,
    mime_extension,
    save_artifacts,
    select_patch,
)
from jules_cli.errors import ExitCode, NotFound, UsageError

PATCH_A = "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-a\n+b\n"
PATCH_B = (
    "diff --git a/y.txt b/y.txt\nnew file mode 100644\n--- /dev/null\n+++ b/y.txt\n"
    "@@ -0,0 +1,2 @@\n+1\n+2\n"
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50
ACT1 = "5b3acd1b3ca2439f9cbaefaccf7f709a"
ACT2 = "6c4bde2c4db3540a0dcbfbadd0080a1b"
ACT3 = "7d5cef3d5ec4651b1edc0cbee1191b2c"


def change_set(unidiff: str, base: str = "", message: str = "") -> dict:
    git_patch: dict = {"unidiffPatch": unidiff}
    if base:
        git_patch["baseCommitId"] = base
    if message:
        git_patch["suggestedCommitMessage"] = message
    return {"changeSet": {"source": "sources/github/o/r", "gitPatch": git_patch}}


def activity(activity_id: str, time: str | None, *artifacts: dict, **extra) -> dict:
    item = {"name": f"sessions/1/activities/{activity_id}", "id": activity_id, **extra}
    if time:
        item["createTime"] = time
    if artifacts:
        item["artifacts"] = list(artifacts)
    return item


SESSION = {"name": "sessions/1", "id": "1", "title": "Fix it"}


def sample_activities() -> list[dict]:
    return [
        activity("plan", "2025-10-03T05:40:00Z", planGenerated={"plan": {}}),
        activity(
            ACT1,
            "2025-10-03T05:44:16.700231Z",
            {"bashOutput": {"command": "\nnpm test", "output": "1 failing\n", "exitCode": 1}},
            change_set(""),
        ),
        activity(
            ACT2,
            "2025-10-03T05:44:16.7Z",
            {"media": {"data": base64.b64encode(PNG_BYTES).decode(), "mimeType": "image/png"}},
            {"hologram": {"depth": 3}},
            change_set(PATCH_A, base="abc123"),
        ),
        activity(ACT3, "2025-10-03T05:50:00Z", sessionCompleted={}),
    ]


def test_iter_artifacts_lists_activity_artifacts_then_outputs() -> None:
    session = {
        **SESSION,
        "outputs": [
            {"pullRequest": {"url": "https://github.com/o/r/pull/35", "title": "Fix"}},
            change_set(PATCH_B, base="def456", message="Add y"),
        ],
    }
    refs = iter_artifacts(session, sample_activities())
    rows = [(ref.number, ref.activity_id, ref.index, ref.kind, ref.summary) for ref in refs]
    assert rows == [
        (1, ACT1, 0, "bashOutput", "`npm test` exit 1"),
        (2, ACT1, 1, "changeSet", "empty patch"),
        (3, ACT2, 0, "media", "image/png, 12.5 KiB"),
        (4, ACT2, 1, "hologram", "a kind this version of jules does not know"),
        (5, ACT2, 2, "changeSet", "1 file, +1 -1"),
        (6, None, 0, "pullRequest", "https://github.com/o/r/pull/35"),
        (7, None, 1, "changeSet", "1 file, +2 -0"),
    ]
    assert refs[0].create_time == "2025-10-03T05:44:16.700231Z"
    assert refs[5].create_time is None
    assert refs[3].raw == {"hologram": {"depth": 3}}
    assert refs[5].origin == "session output"
    assert refs[0].origin == f"activity {ACT1}"


def test_iter_artifacts_tolerates_missing_and_odd_fields() -> None:
    activities = [
        {"name": "sessions/1/activities/nameonly", "artifacts": [{"bashOutput": {}}]},
        {"artifacts": [{"media": {"mimeType": "image/png"}}, "not a dict", {}]},
        {"id": "x", "artifacts": {"not": "a list"}},
        "not an activity",
        {"id": "y", "artifacts": [{"changeSet": {}}, {"pullRequest": {}}]},
    ]
    refs = iter_artifacts({"outputs": "nope"}, activities)
    rows = [(ref.activity_id, ref.kind, ref.summary) for ref in refs]
    assert rows == [
        ("nameonly", "bashOutput", "`(no command)` exit 0"),
        ("", "media", "image/png, no data"),
        ("", "unknown", "a kind this version of jules does not know"),
        ("y", "changeSet", "no patch"),
        ("y", "pullRequest", "pull request"),
    ]


def test_summaries_are_one_line_and_free_of_control_characters() -> None:
    refs = iter_artifacts(
        {},
        [
            activity(
                "a",
                None,
                {"bashOutput": {"command": "echo \x1b[31mred\nsecond line", "exitCode": "7"}},
                {"media": {"data": "", "mimeType": "text/plain\nX"}},
            )
        ],
    )
    assert refs[0].summary == "`echo ?[31mred ...` exit 7"
    assert all("\n" not in ref.summary and "\x1b" not in ref.summary for ref in refs)


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(12_595) == "12.3 KiB"
    assert human_size(5 * 1024 * 1024) == "5.0 MiB"


def test_select_patch_prefers_the_session_output() -> None:
    session = {**SESSION, "outputs": [change_set(PATCH_B, base="def456", message="Add y")]}
    patch = select_patch(session, sample_activities())
    assert patch.unidiff == PATCH_B
    assert patch.base_commit_id == "def456"
    assert patch.suggested_commit_message == "Add y"
    assert patch.origin == "session output"
    assert patch.activity_id is None
    assert patch.source == "sources/github/o/r"


def test_select_patch_falls_back_to_the_newest_non_empty_activity_change_set() -> None:
    # ACT2's `...16.7Z` sorts before ACT1's `...16.700231Z` as time, though not as text;
    # ACT1 has only an empty patch, so ACT2's is chosen, and output with no patch is skipped.
    session = {**SESSION, "outputs": [change_set("")]}
    patch = select_patch(session, sample_activities())
    assert (patch.unidiff, patch.origin, patch.activity_id) == (PATCH_A, f"activity {ACT2}", ACT2)
    assert patch.suggested_commit_message is None

    newer = activity("newer", "2025-10-03T05:44:16.700232Z", change_set(PATCH_B))
    older = activity("older", "2025-10-03T05:44:16.700230Z", change_set("diff --git a/o b/o\n"))
    assert select_patch(SESSION, [newer, older]).activity_id == "newer"
    # Without times, the listing order decides.
    untimed = [
        activity("first", None, change_set(PATCH_A)),
        activity("last", None, change_set(PATCH_B)),
    ]
    assert select_patch(SESSION, untimed).activity_id == "last"


def test_select_patch_for_one_activity() -> None:
    patch = select_patch(SESSION, sample_activities(), activity_id=f"sessions/1/activities/{ACT2}")
    assert patch.unidiff == PATCH_A and patch.base_commit_id == "abc123"
    with pytest.raises(NotFound) as no_patch:
        select_patch(SESSION, sample_activities(), activity_id=ACT1)
    assert "has no patch" in no_patch.value.message
    with pytest.raises(NotFound) as missing:
        select_patch(SESSION, sample_activities(), activity_id="nope")
    assert "not found in session 1" in missing.value.message
    assert missing.value.exit_code == ExitCode.NOT_FOUND
    with pytest.raises(UsageError):
        select_patch(SESSION, sample_activities(), activity_id="a/b")


@pytest.mark.parametrize(
    ("state", "message", "hint"),
    [
        ("IN_PROGRESS", "session 1 has no patch yet", "jules activities tail 1"),
        (None, "session 1 has no patch yet", "jules activities tail 1"),
        ("COMPLETED", "session 1 made no change", "jules activities list 1"),
        ("FAILED", "session 1 made no change", "jules activities list 1"),
    ],
)
def test_select_patch_without_any_patch(state, message, hint) -> None:
    # "yet" only while one may still come: a finished session that made none says so.
    session = {**SESSION, "state": state} if state else SESSION
    with pytest.raises(NotFound) as caught:
        select_patch(session, [activity("a", None, change_set("  \n"))])
    assert caught.value.message == message
    assert hint in (caught.value.hint or "")


def test_save_artifacts_writes_each_kind(tmp_path: Path) -> None:
    session = {
        **SESSION,
        "outputs": [{"pullRequest": {"url": "https://github.com/o/r/pull/35"}}],
    }
    refs = iter_artifacts(session, sample_activities())
    target = tmp_path / "out" / "nested"
    saved = save_artifacts(refs, target)
    assert saved.warnings == []
    names = [path.name for path in saved.paths]
    assert names == [
        "001-5b3acd1b-bash.log",
        "002-5b3acd1b-changeset.patch",
        "003-6c4bde2c-media.png",
        "004-6c4bde2c-hologram.json",
        "005-6c4bde2c-changeset.patch",
        "006-session-pullrequest.json",
    ]
    assert sorted(os.listdir(target)) == names  # no temporary files left behind
    assert (target / names[0]).read_text() == "$ npm test\n1 failing\nexit code: 1\n"
    assert (target / names[1]).read_bytes() == b""
    assert (target / names[2]).read_bytes() == PNG_BYTES
    assert json.loads((target / names[3]).read_text()) == {"hologram": {"depth": 3}}
    assert (target / names[4]).read_text() == PATCH_A
    assert json.loads((target / names[5]).read_text())["pullRequest"]["url"].endswith("/35")


def test_bash_log_with_omitted_exit_code_and_output_without_newline(tmp_path: Path) -> None:
    refs = iter_artifacts(
        {}, [activity("a", None, {"bashOutput": {"command": "ls", "output": "x"}})]
    )
    [path] = save_artifacts(refs, tmp_path).paths
    assert path.read_text() == "$ ls\nx\nexit code: 0\n"


def test_media_round_trips_in_every_base64_flavour(tmp_path: Path) -> None:
    data = bytes(range(256))
    standard = base64.b64encode(data).decode()
    urlsafe_unpadded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
    for encoded in (standard, urlsafe_unpadded, wrapped):
        assert decode_media(encoded) == data
    refs = iter_artifacts(
        {}, [activity("a", None, {"media": {"data": urlsafe_unpadded, "mimeType": "image/jpeg"}})]
    )
    [path] = save_artifacts(refs, tmp_path).paths
    assert path.name == "001-a-media.jpg"
    assert path.read_bytes() == data


def test_invalid_media_is_skipped_with_a_warning(tmp_path: Path) -> None:
    refs = iter_artifacts(
        {},
        [
            activity(
                ACT1,
                None,
                {"media": {"data": "@@not base64@@", "mimeType": "image/png"}},
                {"media": {"mimeType": "image/png"}},
                {"bashOutput": {"command": "true"}},
            )
        ],
    )
    saved = save_artifacts(refs, tmp_path)
    assert [path.name for path in saved.paths] == ["003-5b3acd1b-bash.log"]
    assert saved.warnings == [
        f"skipped media artifact #1 (activity {ACT1}): its data is not valid base64",
        f"skipped media artifact #2 (activity {ACT1}): it has no data",
    ]


@pytest.mark.parametrize(
    ("mime_type", "extension"),
    [
        ("image/png", "png"),
        ("IMAGE/PNG ; charset=x", "png"),
        ("image/../../x", "bin"),
        ("text/plain; name=../../a", "txt"),
        ("application/x-evil/../../../etc/passwd", "bin"),
        ("", "bin"),
        (None, "bin"),
        (42, "bin"),
    ],
)
def test_mime_extension_comes_from_the_table(mime_type, extension: str) -> None:
    assert mime_extension(mime_type) == extension


def test_hostile_names_stay_inside_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    hostile_ids = ["../../etc", "/abs/path", "..", "a/../../b", "C:\\windows\\x", "\x00\n", ""]
    activities = [
        {"id": hostile, "artifacts": [{"media": {"data": "aGk=", "mimeType": "image/../../x"}}]}
        for hostile in hostile_ids
    ]
    activities.append(
        {
            "id": "../x",
            "artifacts": [
                {"media": {"data": "aGk=", "mimeType": "text/plain; name=../../a"}},
                {"../../../kind": {"a": 1}},
                {"changeSet": {"gitPatch": {"unidiffPatch": PATCH_A}}},
            ],
        }
    )
    saved = save_artifacts(iter_artifacts({}, activities), target)
    assert len(saved.paths) == len(hostile_ids) + 3
    for path in saved.paths:
        assert path.parent == target
        assert path.resolve().parent == target.resolve()
    assert sorted(os.listdir(tmp_path)) == ["out"]
    names = sorted(os.listdir(target))
    assert all(name[0].isdigit() and "/" not in name and ".." not in name for name in names)
    assert "001-etc-media.bin" in names
    assert "003-activity-media.bin" in names
    assert "007-activity-media.bin" in names
    assert "008-x-media.txt" in names
    assert "009-x-kind.json" in names


def test_refs_with_forged_fields_are_sanitized_too(tmp_path: Path) -> None:
    forged = ArtifactRef(
        number=1,
        activity_id="../../../tmp",
        index=0,
        kind="../../evil",
        summary="",
        create_time=None,
        raw={"../../evil": {}},
    )
    assert artifact_file_name(forged) == "001-tmp-evil.json"
    [path] = save_artifacts([forged], tmp_path).paths
    assert path.parent == tmp_path


def test_existing_files_are_not_overwritten_unless_asked(tmp_path: Path) -> None:
    refs = iter_artifacts({}, sample_activities())
    first = save_artifacts(refs, tmp_path).paths
    (tmp_path / first[0].name).write_text("mine")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(UsageError) as caught:
        save_artifacts(refs, tmp_path)
    assert "already exist" in caught.value.message
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before

    again = save_artifacts(refs, tmp_path, overwrite=True).paths
    assert [path.name for path in again] == [path.name for path in first]
    assert first[0].read_text().startswith("$ npm test")


def test_a_dangling_symlink_counts_as_existing(tmp_path: Path) -> None:
    refs = iter_artifacts({}, [activity("a", None, {"bashOutput": {"command": "ls"}})])
    (tmp_path / "001-a-bash.log").symlink_to(tmp_path / "elsewhere" / "file")
    with pytest.raises(UsageError):
        save_artifacts(refs, tmp_path)
    assert not (tmp_path / "elsewhere").exists()


def test_a_file_in_the_way_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError):
        save_artifacts([], tmp_path / "file")


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    refs = iter_artifacts({}, sample_activities())

    def failing_replace(source, target) -> None:
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ArtifactError) as caught:
        save_artifacts(refs, tmp_path)
    assert "No space left on device" in caught.value.message
    assert os.listdir(tmp_path) == []
