"""The emulator's state machine on a fake clock: lifecycles, directives, seeds, persistence."""

from __future__ import annotations

import base64
import json
import re

import pytest

from jules_cli.emulator import Emulator, load_seed_file
from jules_cli.emulator.wire import ApiFault, format_time, parse_time
from tests.emulator_fixture import FakeClock

SOURCE = "sources/github/jules-demo/hello-world"
KINDS = (
    "agentMessaged",
    "userMessaged",
    "planGenerated",
    "planApproved",
    "progressUpdated",
    "sessionCompleted",
    "sessionFailed",
)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, rng_seed=7)


def create(emulator: Emulator, prompt: str = "Add a greeting", **fields) -> str:
    body = {"prompt": prompt, "sourceContext": {"source": SOURCE}, **fields}
    return emulator.create_session(body)["id"]


def activities(emulator: Emulator, session_id: str) -> list[dict]:
    return emulator.list_activities(session_id, page_size=100).get("activities", [])


def kind(activity: dict) -> str:
    return next(k for k in activity if k in KINDS or k == "environmentSnapshotted")


def kinds(emulator: Emulator, session_id: str) -> list[str]:
    return [kind(a) for a in activities(emulator, session_id)]


def state(emulator: Emulator, session_id: str) -> str:
    return emulator.get_session(session_id)["state"]


def artifacts(emulator: Emulator, session_id: str, name: str) -> list[dict]:
    return [
        artifact[name]
        for activity in activities(emulator, session_id)
        for artifact in activity.get("artifacts", [])
        if name in artifact
    ]


# -- the default lifecycle ------------------------------------------------------------


def test_default_lifecycle_takes_about_a_minute_in_realistic_steps(emulator, clock):
    created = emulator.create_session({"prompt": "Add a greeting", "title": "Greeting"})
    sid = created["id"]
    assert created["state"] == "QUEUED"
    assert created["title"] == "Greeting"
    assert created["createTime"] == created["updateTime"] == format_time(int(clock.now * 1e9))

    clock.advance(3)
    assert state(emulator, sid) == "PLANNING"
    clock.advance(14)
    assert state(emulator, sid) == "IN_PROGRESS"
    clock.advance(40)
    assert state(emulator, sid) != "COMPLETED"
    clock.advance(10)
    session = emulator.get_session(sid)
    assert session["state"] == "COMPLETED"

    acts = activities(emulator, sid)
    assert [kind(a) for a in acts] == [
        "planGenerated",
        "planApproved",
        "progressUpdated",
        "progressUpdated",
        "progressUpdated",
        "sessionCompleted",
    ]
    start = parse_time(created["createTime"])
    offsets = [(parse_time(a["createTime"]) - start) / 1e9 for a in acts]
    # Stamped with the time each step was due, not with the time somebody looked.
    assert offsets == [13.0, 15.0, 25.0, 40.0, 50.0, 58.0]
    assert session["updateTime"] == acts[-1]["createTime"]
    assert acts[1]["originator"] == "user"
    assert acts[1]["planApproved"]["planId"] == acts[0]["planGenerated"]["plan"]["id"]
    assert {a["originator"] for a in acts[2:]} == {"agent"}


def test_speed_scales_simulated_time(clock):
    emulator = Emulator(clock=clock, speed=60)
    sid = create(emulator)
    clock.advance(0.9)
    assert state(emulator, sid) == "IN_PROGRESS"
    clock.advance(0.1)
    assert state(emulator, sid) == "COMPLETED"


def test_shapes_ids_and_times(emulator, clock):
    sid = create(emulator, automationMode="AUTO_CREATE_PR")
    assert re.fullmatch(r"\d{19,20}", sid)
    clock.advance(100)
    session = emulator.get_session(sid)
    assert session["name"] == f"sessions/{sid}"
    assert session["url"] == f"https://jules.google.com/session/{sid}"
    assert TIME_RE.match(session["createTime"]) and TIME_RE.match(session["updateTime"])
    assert "archived" not in session and "requirePlanApproval" not in session
    for activity in activities(emulator, sid):
        assert re.fullmatch(r"[0-9a-f]{32}", activity["id"])
        assert activity["name"] == f"sessions/{sid}/activities/{activity['id']}"
        assert TIME_RE.match(activity["createTime"])
    plan = activities(emulator, sid)[0]["planGenerated"]["plan"]
    assert re.fullmatch(r"[0-9a-f]{32}", plan["id"])
    assert "index" not in plan["steps"][0] and plan["steps"][1]["index"] == 1
    assert "description" not in plan["steps"][-1]  # empty strings are omitted


def test_completed_session_outputs_with_pull_request(emulator, clock):
    sid = create(emulator, automationMode="AUTO_CREATE_PR")
    clock.advance(100)
    session = emulator.get_session(sid)
    pull, change = session["outputs"]
    assert pull["pullRequest"]["url"] == "https://github.com/jules-demo/hello-world/pull/1"
    assert pull["pullRequest"]["baseRef"] == "main"
    assert pull["pullRequest"]["headRef"].endswith(f"-{sid}")
    assert session["sourceContext"]["workingBranch"] == pull["pullRequest"]["headRef"]
    git_patch = change["changeSet"]["gitPatch"]
    assert change["changeSet"]["source"] == SOURCE
    assert git_patch["unidiffPatch"].startswith("diff --git a/hello.py b/hello.py\n")
    assert re.fullmatch(r"[0-9a-f]{40}", git_patch["baseCommitId"])
    assert git_patch["suggestedCommitMessage"].startswith("Add a greeting")
    final = activities(emulator, sid)[-1]
    assert final["artifacts"] == [change]
    second = create(emulator, automationMode="AUTO_CREATE_PR")
    clock.advance(100)
    assert emulator.get_session(second)["outputs"][0]["pullRequest"]["url"].endswith("/pull/2")


def test_no_pull_request_without_auto_create_pr_or_source(emulator, clock):
    plain = create(emulator)
    repoless = emulator.create_session({"prompt": "Script", "automationMode": "AUTO_CREATE_PR"})
    clock.advance(100)
    assert [list(o) for o in emulator.get_session(plain)["outputs"]] == [["changeSet"]]
    outputs = emulator.get_session(repoless["id"])["outputs"]
    assert [list(o) for o in outputs] == [["changeSet"]]
    assert "source" not in outputs[0]["changeSet"]
    assert "sourceContext" not in repoless


def test_intermediate_change_set_and_bash_output(clock):
    emulator = Emulator(clock=clock, rng_seed=7, bash_output=True)
    sid = create(emulator)
    clock.advance(100)
    bash = artifacts(emulator, sid, "bashOutput")
    assert bash == [{"command": "\npip install pytest", "output": bash[0]["output"]}]  # exit 0
    change_sets = artifacts(emulator, sid, "changeSet")
    assert len(change_sets) == 2
    assert "suggestedCommitMessage" not in change_sets[0]["gitPatch"]
    assert change_sets[0]["gitPatch"]["unidiffPatch"].count("diff --git") == 1
    assert change_sets[1]["gitPatch"]["unidiffPatch"].count("diff --git") == 2


# -- plan approval --------------------------------------------------------------------


def test_plan_approval_waits_until_approved(emulator, clock):
    sid = create(emulator, requirePlanApproval=True)
    assert "requirePlanApproval" not in emulator.get_session(sid)  # input-only
    clock.advance(1000)
    assert state(emulator, sid) == "AWAITING_PLAN_APPROVAL"
    assert kinds(emulator, sid) == ["planGenerated"]
    assert emulator.approve_plan(sid, {}) == {}
    assert state(emulator, sid) == "IN_PROGRESS"
    approved = activities(emulator, sid)[-1]
    assert approved["originator"] == "user"
    assert approved["createTime"] == format_time(int(clock.now * 1e9))
    plan = activities(emulator, sid)[0]["planGenerated"]["plan"]
    assert approved["planApproved"]["planId"] == plan["id"]
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"
    with pytest.raises(ApiFault) as error:
        emulator.approve_plan(sid, {})
    assert (error.value.code, error.value.status) == (400, "FAILED_PRECONDITION")


def test_approve_without_pending_plan_is_failed_precondition(emulator):
    sid = create(emulator)
    with pytest.raises(ApiFault) as error:
        emulator.approve_plan(sid)
    assert error.value.envelope()["error"]["status"] == "FAILED_PRECONDITION"


def test_message_while_awaiting_approval_gets_a_reply_and_keeps_waiting(emulator, clock):
    sid = create(emulator, requirePlanApproval=True)
    clock.advance(20)
    emulator.send_message(sid, {"prompt": "Looks good?"})
    clock.advance(100)
    assert state(emulator, sid) == "AWAITING_PLAN_APPROVAL"
    assert kinds(emulator, sid) == ["planGenerated", "userMessaged", "agentMessaged"]
    emulator.approve_plan(sid)
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"


# -- directives -----------------------------------------------------------------------


def test_ask_waits_for_feedback_then_resumes(emulator, clock):
    sid = create(emulator, "Do it [ask]")
    clock.advance(1000)
    assert state(emulator, sid) == "AWAITING_USER_FEEDBACK"
    question = activities(emulator, sid)[-1]
    assert question["agentMessaged"]["agentMessage"].endswith("I will carry on.")
    assert "?" in question["agentMessaged"]["agentMessage"]
    emulator.send_message(sid, {"prompt": "Yes, add a test."})
    assert state(emulator, sid) == "IN_PROGRESS"
    assert activities(emulator, sid)[-1]["userMessaged"] == {"userMessage": "Yes, add a test."}
    assert activities(emulator, sid)[-1]["originator"] == "user"
    clock.advance(2)
    assert kinds(emulator, sid)[-1] == "userMessaged"
    clock.advance(1)
    assert kinds(emulator, sid)[-1] == "agentMessaged"
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"
    assert emulator.get_session(sid)["outputs"]


def test_pause_then_message_resumes(emulator, clock):
    sid = create(emulator, "[pause] Do it")
    clock.advance(1000)
    assert state(emulator, sid) == "PAUSED"
    emulator.send_message(sid, {"prompt": "please continue"})
    assert state(emulator, sid) == "IN_PROGRESS"
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("Do it [fail]", "The agent could not finish the task: the test suite does not run."),
        ("Do it [fail:Out of disk space]", "Out of disk space"),
    ],
)
def test_fail_ends_with_session_failed(emulator, clock, prompt, reason):
    sid = create(emulator, prompt)
    clock.advance(1000)
    session = emulator.get_session(sid)
    assert session["state"] == "FAILED"
    assert "outputs" not in session
    last = activities(emulator, sid)[-1]
    assert last["sessionFailed"] == {"reason": reason}
    assert kinds(emulator, sid).count("sessionCompleted") == 0


def test_completed_session_reopens_on_message(emulator, clock):
    sid = create(emulator)
    clock.advance(100)
    first_patch = emulator.get_session(sid)["outputs"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    emulator.send_message(sid, {"prompt": "Also write some notes"})
    assert state(emulator, sid) == "IN_PROGRESS"
    clock.advance(100)
    session = emulator.get_session(sid)
    assert session["state"] == "COMPLETED"
    patch = session["outputs"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    assert patch.startswith(first_patch)
    assert "+++ b/notes/follow-up-1.md" in patch
    assert "Also write some notes" in patch
    assert kinds(emulator, sid).count("sessionCompleted") == 2


def test_failed_session_reopens_and_message_directives_apply(emulator, clock):
    sid = create(emulator, "[fail]")
    clock.advance(100)
    emulator.send_message(sid, {"prompt": "Try again [ask]"})
    clock.advance(100)
    assert state(emulator, sid) == "AWAITING_USER_FEEDBACK"
    emulator.send_message(sid, {"prompt": "fine [fail:still broken]"})
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"  # a plain answer resumes the script
    emulator.send_message(sid, {"prompt": "one more [fail:still broken]"})
    clock.advance(100)
    assert state(emulator, sid) == "FAILED"
    assert activities(emulator, sid)[-1]["sessionFailed"]["reason"] == "still broken"


def test_message_while_in_progress_gets_a_reply(emulator, clock):
    sid = create(emulator)
    clock.advance(20)
    emulator.send_message(sid, {"prompt": "use type hints"})
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"
    sequence = kinds(emulator, sid)
    assert sequence.index("agentMessaged") == sequence.index("userMessaged") + 1
    assert sequence.count("sessionCompleted") == 1


def test_no_changes_completes_without_a_patch(emulator, clock):
    sid = create(emulator, "Just look [no-changes]", automationMode="AUTO_CREATE_PR")
    clock.advance(100)
    session = emulator.get_session(sid)
    assert session["state"] == "COMPLETED"
    assert "outputs" not in session
    assert artifacts(emulator, sid, "changeSet") == []
    assert "artifacts" not in activities(emulator, sid)[-1]


def test_bash_fail_has_a_nonzero_exit_code(clock):
    emulator = Emulator(clock=clock, rng_seed=7, bash_output=True)
    sid = create(emulator, "[bash-fail]")
    clock.advance(100)
    codes = [bash.get("exitCode", 0) for bash in artifacts(emulator, sid, "bashOutput")]
    assert codes == [0, 1]
    failing = [a for a in activities(emulator, sid) if "Exit Code: 1" in str(a)]
    assert failing[0]["progressUpdated"]["title"] == "Ran bash command"
    assert state(emulator, sid) == "COMPLETED"


def test_media_is_a_real_png(emulator, clock):
    sid = create(emulator, "[media]")
    clock.advance(100)
    (media,) = artifacts(emulator, sid, "media")
    assert media["mimeType"] == "image/png"
    assert base64.b64decode(media["data"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_many_adds_progress_activities_for_paging(emulator, clock):
    sid = create(emulator, "[many:120]")
    clock.advance(1000)
    titles = [
        a["progressUpdated"].get("title")
        for a in activities_all(emulator, sid)
        if "progressUpdated" in a
    ]
    assert sum(1 for t in titles if t.startswith("Working (")) == 120
    assert len(activities_all(emulator, sid)) == 126


def activities_all(emulator: Emulator, sid: str) -> list[dict]:
    found, token = [], None
    while True:
        page = emulator.list_activities(sid, page_size=100, page_token=token)
        found.extend(page.get("activities", []))
        token = page.get("nextPageToken")
        if not token:
            return found


def test_same_time_gives_several_activities_one_create_time(emulator, clock):
    sid = create(emulator, "[same-time] [many:3]")
    clock.advance(1000)
    times = [a["createTime"] for a in activities(emulator, sid)]
    work = times[2:]
    assert len(work) == 7 and len(set(work)) == 1
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("directive", "stuck_in"),
    [("[stall:queued]", "QUEUED"), ("[stall:planning]", "PLANNING"), ("[stall]", "IN_PROGRESS")],
)
def test_stall_keeps_a_state_until_a_message(emulator, clock, directive, stuck_in):
    sid = create(emulator, directive)
    clock.advance(10_000)
    assert state(emulator, sid) == stuck_in
    emulator.send_message(sid, {"prompt": "wake up"})
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"


def test_slow_multiplies_delays(emulator, clock):
    sid = create(emulator, "[slow:10]")
    clock.advance(500)
    assert state(emulator, sid) == "IN_PROGRESS"
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"


def test_hostile_content(emulator, clock):
    sid = create(emulator, "[hostile]")
    clock.advance(100)
    raw = json.dumps(activities(emulator, sid))
    assert "\\u001b[31m" in raw and "[bold red]" in raw
    mime_types = [m["mimeType"] for m in artifacts(emulator, sid, "media")]
    assert "text/html" in mime_types and any(".." in m for m in mime_types)
    patch = emulator.get_session(sid)["outputs"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    assert "+++ b/../outside-the-repo.txt" in patch


def test_unknown_kind_and_untitled_progress(emulator, clock):
    sid = create(emulator, "[unknown-kind]")
    clock.advance(100)
    acts = activities(emulator, sid)
    odd = [a for a in acts if "environmentSnapshotted" in a]
    assert odd and odd[0]["originator"] == "system" and odd[0]["description"]
    assert any("progressUpdated" in a and "title" not in a["progressUpdated"] for a in acts)


def test_readme_patch_directive(emulator, clock):
    sid = create(emulator, "[patch:readme]")
    clock.advance(100)
    patch = emulator.get_session(sid)["outputs"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    assert "--- a/README.md\n+++ b/README.md\n@@ -1 +1,3 @@\n # demo\n" in patch


@pytest.mark.parametrize(
    "prompt", ["[many:x]", "[many:5000]", "[slow:0]", "[stall:nope]", "[patch:z]"]
)
def test_bad_directive_arguments_are_invalid_argument(emulator, prompt):
    with pytest.raises(ApiFault) as error:
        create(emulator, prompt)
    assert error.value.code == 400 and "directive" in error.value.message


def test_unknown_bracket_words_are_plain_prompt_text(emulator, clock):
    sid = create(emulator, "Fix [WIP] label handling [ask-me]")
    assert emulator.get_session(sid)["title"] == "Fix [WIP] label handling [ask-me]"
    clock.advance(100)
    assert state(emulator, sid) == "COMPLETED"


def test_generated_title_drops_directives_and_truncates(emulator):
    assert (
        emulator.create_session({"prompt": "[ask]  Refactor   the parser\nmore"})["title"]
        == "Refactor the parser"
    )
    long = emulator.create_session({"prompt": "x" * 200})["title"]
    assert len(long) == 80 and long.endswith("...")


# -- time control, reset, persistence -------------------------------------------------


def test_advance_and_settle_jump_simulated_time(clock):
    emulator = Emulator(clock=clock, speed=2)
    sid = create(emulator, "[ask]")
    emulator.advance(10)  # 10 simulated seconds = 5 real ones at speed 2
    assert state(emulator, sid) == "PLANNING"
    emulator.settle()
    assert state(emulator, sid) == "AWAITING_USER_FEEDBACK"
    emulator.send_message(sid, {"prompt": "ok"})
    emulator.settle()
    assert state(emulator, sid) == "COMPLETED"
    with pytest.raises(ValueError):
        emulator.advance(-1)


def test_update_time_moves_on_state_changes_only(emulator, clock):
    sid = create(emulator)
    clock.advance(5)
    planning = emulator.get_session(sid)["updateTime"]
    clock.advance(5)
    assert emulator.get_session(sid)["updateTime"] == planning


def test_round_trip_through_json_keeps_playing(clock):
    emulator = Emulator(clock=clock, api_key="k1", activities_404_seconds=5)
    sid = create(emulator, "[ask]")
    emulator.archive_session(create(emulator))
    clock.advance(30)
    saved = json.loads(json.dumps(emulator.to_dict()))
    restored = Emulator.from_dict(saved, clock=clock)
    assert restored.api_key == "k1" and restored.speed == 1.0
    assert restored.to_dict() == saved
    clock.advance(100)
    assert restored.get_session(sid) == emulator.get_session(sid)
    restored.send_message(sid, {"prompt": "ok"})
    clock.advance(100)
    assert state(restored, sid) == "COMPLETED"
    with pytest.raises(ValueError):
        Emulator.from_dict({"format": "something else"})


def test_reset_keeps_seed_and_drops_the_rest(clock):
    seed = {"sessions": [{"prompt": "seeded", "state": "COMPLETED", "id": "1234567890123456789"}]}
    emulator = Emulator(clock=clock, seed=seed)
    create(emulator)
    emulator.reset()
    sessions = emulator.list_sessions()["sessions"]
    assert [s["id"] for s in sessions] == ["1234567890123456789"]


# -- seeds ----------------------------------------------------------------------------


def test_seed_sources_replace_the_demo_ones(clock):
    seed = {
        "sources": [
            {"name": "sources/github/acme/api"},
            {"githubRepo": {"owner": "acme", "repo": "web", "branches": ["main", "dev"]}},
            {
                "name": "sources/github/acme/old",
                "githubRepo": {
                    "isPrivate": True,
                    "defaultBranch": {"displayName": "master"},
                    "inactiveBranches": ["v1", {"displayName": "v0"}],
                },
            },
        ]
    }
    emulator = Emulator(clock=clock, seed=seed)
    sources = emulator.list_sources()["sources"]
    assert [s["id"] for s in sources] == ["github/acme/api", "github/acme/web", "github/acme/old"]
    web = sources[1]["githubRepo"]
    assert web == {
        "owner": "acme",
        "repo": "web",
        "defaultBranch": {"displayName": "main"},
        "branches": [{"displayName": "main"}, {"displayName": "dev"}],
    }
    assert sources[2]["githubRepo"]["isPrivate"] is True
    assert sources[2]["githubRepo"]["branches"] == [{"displayName": "master"}]
    assert set(sources[2]) == {"name", "id", "githubRepo"}
    assert "inactiveBranches" not in sources[2]["githubRepo"]  # existing, never shown
    context = {"source": "sources/github/acme/old", "githubRepoContext": {"startingBranch": "v0"}}
    created = emulator.create_session({"prompt": "x", "sourceContext": context})
    assert created["sourceContext"]["githubRepoContext"]["startingBranch"] == "v0"


def test_seed_sessions_static_or_live(clock):
    seed = {
        "sessions": [
            {
                "id": "11111111111111111111",
                "prompt": "old work",
                "state": "AWAITING_PLAN_APPROVAL",
                "createTime": "2025-12-01T10:00:00.123456789Z",
                "sourceContext": {"source": SOURCE},
                "activities": [
                    {
                        "createTime": "2025-12-01T10:01:00Z",
                        "originator": "agent",
                        "planGenerated": {"plan": {"id": "ab" * 16, "steps": []}},
                    }
                ],
            },
            {"prompt": "fresh one"},
        ]
    }
    emulator = Emulator(clock=clock, seed=seed)
    old = emulator.get_session("11111111111111111111")
    assert old["createTime"] == "2025-12-01T10:00:00.123456789Z"
    assert old["sourceContext"]["githubRepoContext"]["startingBranch"] == "main"
    acts = emulator.list_activities("11111111111111111111")["activities"]
    assert acts[0]["createTime"] == "2025-12-01T10:01:00.000000Z"
    emulator.approve_plan("11111111111111111111")
    clock.advance(100)
    assert state(emulator, "11111111111111111111") == "COMPLETED"
    assert kinds(emulator, "11111111111111111111")[:2] == ["planGenerated", "planApproved"]
    fresh = [s for s in emulator.list_sessions()["sessions"] if s["prompt"] == "fresh one"]
    assert fresh[0]["state"] == "COMPLETED"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"sessions": [{}]}, "sessions[0]: `prompt` is required"),
        ({"sessions": [{"prompt": "x", "state": "DONE"}]}, "unknown state"),
        ({"sources": [{"name": "github/x"}]}, "sources[0]"),
        ({"sources": {}}, "must be a list"),
        ({"repos": []}, "unknown keys"),
        ({"sessions": [{"prompt": "x", "sourceContext": {"source": "sources/nope"}}]}, "not found"),
    ],
)
def test_bad_seeds_say_what_is_wrong(seed, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Emulator(seed=seed)


def test_load_seed_file(tmp_path):
    good = tmp_path / "seed.json"
    good.write_text(json.dumps({"sources": ["acme/api"]}))
    assert load_seed_file(good) == {"sources": ["acme/api"]}
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_seed_file(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_seed_file(tmp_path / "missing.json")


def test_time_format_round_trip():
    ns = parse_time("2026-01-17T00:03:53.137240Z")
    assert format_time(ns) == "2026-01-17T00:03:53.137240Z"
    assert parse_time("2026-01-17T01:03:53.137240+01:00") == ns
    assert format_time(parse_time("2026-08-08T12:42:12.441608052Z")).endswith(".441608052Z")


def test_bash_output_artifacts_can_be_switched_off(clock, monkeypatch):
    # The official SDK says the API stopped sending bashOutput (jules-api.md 13): the
    # emulator runs both ways. Off, the "Ran bash command" updates stay (title and the
    # transcript in the description) without the artifact; other artifacts stay.
    emulator = Emulator(clock=clock, rng_seed=7, bash_output=False)
    sid = create(emulator, "[bash-fail] [hostile]")
    clock.advance(1000)
    assert artifacts(emulator, sid, "bashOutput") == []
    ran = [
        a
        for a in activities(emulator, sid)
        if a.get("progressUpdated", {}).get("title") == "Ran bash command"
    ]
    assert len(ran) == 2 and all("artifacts" not in a for a in ran)
    assert "Exit Code: 1" in ran[1]["progressUpdated"]["description"]
    assert artifacts(emulator, sid, "media") and artifacts(emulator, sid, "changeSet")
    # The default follows $JULES_EMULATOR_BASH_OUTPUT (the in-process emulator's setting).
    monkeypatch.setenv("JULES_EMULATOR_BASH_OUTPUT", "off")
    assert Emulator(clock=clock).bash_output is False
    monkeypatch.setenv("JULES_EMULATOR_BASH_OUTPUT", "1")
    assert Emulator(clock=clock).bash_output is True
    monkeypatch.setenv("JULES_EMULATOR_BASH_OUTPUT", "maybe")
    with pytest.raises(ValueError, match="JULES_EMULATOR_BASH_OUTPUT"):
        Emulator(clock=clock)


def test_replan_feedback_is_answered_with_a_revised_plan():
    from jules_cli.emulator.state import Emulator

    emulator = Emulator(speed=1000)
    body = {"prompt": "Add a greeting", "requirePlanApproval": True}
    sid = emulator.create_session(body)["id"]
    emulator.advance(60)
    assert emulator.get_session(sid)["state"] == "AWAITING_PLAN_APPROVAL"
    emulator.send_message(sid, {"prompt": "Also update the README [replan]"})
    emulator.advance(60)
    activities = emulator.list_activities(sid)["activities"]
    plans = [a["planGenerated"]["plan"] for a in activities if "planGenerated" in a]
    assert len(plans) == 2 and plans[0]["id"] != plans[1]["id"]
    titles = [step["title"] for step in plans[1]["steps"]]
    assert titles[-2:] == ["Address your feedback", "Submit the change"]
    assert plans[1]["steps"][-2]["description"] == "Also update the README"
    assert [step.get("index", 0) for step in plans[1]["steps"]] == [0, 1, 2, 3, 4]
    assert not any("agentMessaged" in a for a in activities)  # the plan is the answer
    assert emulator.get_session(sid)["state"] == "AWAITING_PLAN_APPROVAL"
    emulator.approve_plan(sid, {})
    approved = [a for a in emulator.list_activities(sid)["activities"] if "planApproved" in a]
    assert approved[-1]["planApproved"]["planId"] == plans[1]["id"]
