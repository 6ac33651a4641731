"""The emulator's WSGI app in-process (httpx.WSGITransport, fake clock): every operation,
every error, paging, filters, auth, the control plane and fault injection."""

from __future__ import annotations

import httpx
import pytest

from jules_cli.emulator import DEMO_API_KEY, Emulator, EmulatorApp
from jules_cli.errors import AuthError, BadRequest, NotFound, RateLimited, Unavailable
from tests.emulator_fixture import FakeClock

SOURCE = "sources/github/jules-demo/hello-world"
CONTROL = "http://127.0.0.1/_emulator"


@pytest.fixture
def emu(emulator_wsgi):
    return emulator_wsgi


@pytest.fixture
def http(emulator_wsgi) -> httpx.Client:
    return emulator_wsgi.http


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == response.status_code
    return body["error"]


def new_session(http: httpx.Client, prompt: str = "Add a greeting", **fields) -> dict:
    response = http.post("sessions", json={"prompt": prompt, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def many_sources_app(count: int) -> tuple[httpx.Client, Emulator]:
    sources = [f"acme/repo-{n:03d}" for n in range(count)]
    emulator = Emulator(clock=FakeClock(), seed={"sources": sources})
    transport = httpx.WSGITransport(app=EmulatorApp(emulator))
    client = httpx.Client(
        transport=transport,
        base_url="http://127.0.0.1/v1alpha/",
        headers={"X-Goog-Api-Key": "k"},
    )
    return client, emulator


# -- sources ----------------------------------------------------------------------------


def test_list_sources_default_demo(http):
    body = http.get("sources").json()
    assert "nextPageToken" not in body
    names = [s["name"] for s in body["sources"]]
    assert SOURCE in names and len(names) == 3
    hello = body["sources"][0]
    assert hello["id"] == "github/jules-demo/hello-world"
    assert hello["githubRepo"]["defaultBranch"] == {"displayName": "main"}
    assert {"displayName": "develop"} in hello["githubRepo"]["branches"]


def test_sources_paging_default_30_and_max_100():
    http, _ = many_sources_app(135)
    first = http.get("sources").json()
    assert len(first["sources"]) == 30 and first["nextPageToken"]
    big = http.get("sources", params={"pageSize": 500}).json()
    assert len(big["sources"]) == 100
    rest = http.get("sources", params={"pageSize": 500, "pageToken": big["nextPageToken"]}).json()
    assert len(rest["sources"]) == 35 and "nextPageToken" not in rest
    zero = http.get("sources", params={"pageSize": 0}).json()
    assert len(zero["sources"]) == 30
    seen, token = [], None
    while True:
        page = http.get(
            "sources", params={"pageSize": 40, **({"pageToken": token} if token else {})}
        )
        seen += [s["name"] for s in page.json()["sources"]]
        token = page.json().get("nextPageToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 135


def test_sources_filter_by_name(http):
    both = 'name=sources/github/jules-demo/webapp OR name="sources/github/octo-org/data-pipeline"'
    names = [s["name"] for s in http.get("sources", params={"filter": both}).json()["sources"]]
    assert names == ["sources/github/jules-demo/webapp", "sources/github/octo-org/data-pipeline"]
    none = http.get("sources", params={"filter": "name=sources/github/x/y"}).json()
    assert none == {}
    bad = http.get("sources", params={"filter": "owner=acme"})
    assert bad.status_code == 400 and error_of(bad)["status"] == "INVALID_ARGUMENT"


def test_get_source_with_slashes_and_unknown(http):
    assert http.get(SOURCE).json()["name"] == SOURCE
    missing = http.get("sources/github/nobody/nothing")
    assert missing.status_code == 404
    assert error_of(missing) == {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
    }


# -- sessions ---------------------------------------------------------------------------


def test_create_session_fills_branch_and_keeps_input_only_fields_to_itself(http):
    created = new_session(
        http,
        sourceContext={"source": SOURCE, "environmentVariablesEnabled": True},
        requirePlanApproval=True,
        automationMode="AUTO_CREATE_PR",
        title="My title",
    )
    assert created["state"] == "QUEUED"
    assert created["sourceContext"] == {
        "source": SOURCE,
        "githubRepoContext": {"startingBranch": "main"},
        "environmentVariablesEnabled": True,
    }
    # Input-only (jules-api.md 13): never in an answer, create or read.
    assert "requirePlanApproval" not in created and "automationMode" not in created
    read = http.get(f"sessions/{created['id']}").json()
    assert "requirePlanApproval" not in read and "automationMode" not in read
    assert list(created)[:5] == ["name", "title", "createTime", "updateTime", "state"]
    assert list(created)[-1] == "id"


def test_an_existing_branch_that_is_not_listed_starts_a_session_and_others_are_refused(http):
    """The API lists active branches only (jules-api.md 13): `legacy` exists without being
    listed, so a session may start from it; a branch that does not exist is refused."""
    hello = http.get(SOURCE).json()
    assert "legacy" not in [b["displayName"] for b in hello["githubRepo"]["branches"]]
    assert set(hello) == {"name", "id", "githubRepo"}  # nothing of the emulator's own
    created = new_session(
        http, sourceContext={"source": SOURCE, "githubRepoContext": {"startingBranch": "legacy"}}
    )
    assert created["sourceContext"]["githubRepoContext"] == {"startingBranch": "legacy"}
    refused = http.post(
        "sessions",
        json={"prompt": "x", "sourceContext": {
            "source": SOURCE, "githubRepoContext": {"startingBranch": "gone-stale"}}},
    )  # fmt: skip
    assert refused.status_code == 400 and error_of(refused)["status"] == "INVALID_ARGUMENT"


def test_create_accepts_snake_case_and_ignores_output_fields(http):
    created = new_session(
        http,
        source_context={"source": SOURCE, "github_repo_context": {"starting_branch": "develop"}},
        state="COMPLETED",
        id="1",
    )
    assert created["state"] == "QUEUED" and created["id"] != "1"
    assert created["sourceContext"]["githubRepoContext"]["startingBranch"] == "develop"


def test_invalid_automation_mode_has_field_violations(http):
    response = http.post("sessions", json={"prompt": "x", "automationMode": "MANUAL"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    (detail,) = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    (violation,) = detail["fieldViolations"]
    assert violation["field"] == "session.automation_mode"
    assert '"MANUAL"' in violation["description"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 400, "session.prompt"),
        ({"prompt": "   "}, 400, "session.prompt"),
        ({"prompt": 5}, 400, "TYPE_STRING"),
        ({"prompt": "x", "requirePlanApproval": "yes"}, 400, "TYPE_BOOL"),
        ({"prompt": "x", "colour": "red"}, 400, 'Unknown name "colour"'),
        ({"prompt": "x", "sourceContext": {}}, 400, "source is required"),
        ({"prompt": "x", "sourceContext": {"source": "sources/github/a/b"}}, 404, "not found"),
        (
            {"prompt": "x", "sourceContext": {"source": SOURCE, "githubRepoContext": {}}},
            400,
            "starting_branch",
        ),
        (
            {
                "prompt": "x",
                "sourceContext": {
                    "source": SOURCE,
                    "githubRepoContext": {"startingBranch": "nope"},
                },
            },
            400,
            "does not exist",
        ),
        ([1, 2], 400, "Expected an object"),
    ],
)
def test_create_session_errors(http, body, status, needle):
    response = http.post("sessions", json=body)
    assert response.status_code == status
    assert needle in str(error_of(response))


def test_create_with_malformed_json(http):
    response = http.post(
        "sessions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "Invalid JSON payload" in error_of(response)["message"]


def test_get_session_and_unknown(http):
    created = new_session(http)
    assert http.get(f"sessions/{created['id']}").json()["name"] == created["name"]
    response = http.get("sessions/12345678901234567890")
    assert response.status_code == 404
    assert error_of(response)["message"] == "Requested entity was not found."


def test_list_sessions_newest_first_and_paged(http, emu):
    ids = []
    for n in range(35):
        ids.append(new_session(http, f"task {n}")["id"])
        emu.clock.advance(1)
    first = http.get("sessions").json()
    assert [s["id"] for s in first["sessions"]] == ids[::-1][:30]
    second = http.get("sessions", params={"pageToken": first["nextPageToken"]}).json()
    assert [s["id"] for s in second["sessions"]] == ids[::-1][30:]
    assert "nextPageToken" not in second


def test_list_sessions_same_create_time_pages_without_loss(http):
    ids = [new_session(http, f"task {n}")["id"] for n in range(7)]
    seen, token = [], None
    while True:
        params = {"pageSize": 3, **({"pageToken": token} if token else {})}
        page = http.get("sessions", params=params).json()
        seen += [s["id"] for s in page["sessions"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == ids[::-1]


def test_archived_filter(http):
    kept = new_session(http, "kept")["id"]
    gone = new_session(http, "archived")["id"]
    archived = http.post(f"sessions/{gone}:archive", json={}).json()
    assert archived["archived"] is True and archived["id"] == gone

    def listed(filter_=None):
        params = {"filter": filter_} if filter_ is not None else {}
        return [s["id"] for s in http.get("sessions", params=params).json().get("sessions", [])]

    assert listed() == [kept]
    assert listed("archived = false") == [kept]
    assert listed("archived = true") == [gone]
    assert listed("archived = true OR archived = false") == [gone, kept]
    assert http.get(f"sessions/{gone}").json()["archived"] is True
    bad = http.get("sessions", params={"filter": "state = COMPLETED"})
    assert bad.status_code == 400 and error_of(bad)["status"] == "INVALID_ARGUMENT"

    restored = http.post(f"sessions/{gone}:unarchive").json()
    assert "archived" not in restored
    assert listed() == [gone, kept]


def test_delete_session(http):
    sid = new_session(http)["id"]
    response = http.delete(f"sessions/{sid}")
    assert response.status_code == 200 and response.json() == {}
    assert http.get(f"sessions/{sid}").status_code == 404
    assert http.delete(f"sessions/{sid}").status_code == 404


def test_send_message_and_approve_plan(http, emu):
    sid = new_session(http, requirePlanApproval=True)["id"]
    early = http.post(f"sessions/{sid}:approvePlan", json={})
    assert early.status_code == 400 and error_of(early)["status"] == "FAILED_PRECONDITION"
    emu.clock.advance(30)
    assert http.get(f"sessions/{sid}").json()["state"] == "AWAITING_PLAN_APPROVAL"
    approved = http.post(f"sessions/{sid}:approvePlan", json={})
    assert approved.status_code == 200 and approved.json() == {}
    sent = http.post(f"sessions/{sid}:sendMessage", json={"prompt": "thanks"})
    assert sent.status_code == 200 and sent.json() == {}
    missing = http.post(f"sessions/{sid}:sendMessage", json={})
    assert missing.status_code == 400
    unknown = http.post("sessions/999:sendMessage", json={"prompt": "x"})
    assert unknown.status_code == 404
    extra = http.post(f"sessions/{sid}:approvePlan", json={"force": True})
    assert extra.status_code == 400


# -- activities -------------------------------------------------------------------------


def test_activities_404_while_brand_new(http, emu):
    sid = new_session(http)["id"]
    response = http.get(f"sessions/{sid}/activities")
    assert response.status_code == 404
    assert error_of(response)["message"] == "Requested entity was not found."
    emu.clock.advance(2)
    assert http.get(f"sessions/{sid}/activities").json() == {}


def test_activities_paging_default_50(http, emu):
    sid = new_session(http, "[many:120]")["id"]
    emu.clock.advance(1000)
    first = http.get(f"sessions/{sid}/activities").json()
    assert len(first["activities"]) == 50
    everything, token = [], None
    while True:
        params = {"pageSize": 1000, **({"pageToken": token} if token else {})}
        page = http.get(f"sessions/{sid}/activities", params=params).json()
        assert len(page["activities"]) <= 100
        everything += page["activities"]
        token = page.get("nextPageToken")
        if not token:
            break
    assert len(everything) == 126
    times = [a["createTime"] for a in everything]
    assert times == sorted(times)  # oldest first
    assert everything[:50] == first["activities"]


def test_activities_create_time_filter_is_exclusive(http, emu):
    sid = new_session(http)["id"]
    emu.clock.advance(100)
    acts = http.get(f"sessions/{sid}/activities").json()["activities"]
    pivot = acts[2]["createTime"]
    newer = http.get(f"sessions/{sid}/activities", params={"filter": f'create_time>"{pivot}"'})
    assert newer.json()["activities"] == acts[3:]
    spaced = http.get(
        f"sessions/{sid}/activities", params={"filter": f'create_time > "{pivot}"'}
    ).json()
    assert spaced["activities"] == acts[3:]
    window = f'create_time>="{pivot}" AND create_time<"{acts[4]["createTime"]}"'
    ranged = http.get(f"sessions/{sid}/activities", params={"filter": window}).json()
    assert ranged["activities"] == acts[2:4]
    nanos = pivot.replace("Z", "999Z")
    after_nanos = http.get(
        f"sessions/{sid}/activities", params={"filter": f'create_time>"{nanos}"'}
    ).json()
    assert after_nanos["activities"] == acts[3:]


@pytest.mark.parametrize(
    "params",
    [
        {"createTime": "2026-01-01T00:00:00Z"},
        {"filter": "createTime>2026"},
        {"filter": 'create_time>"yesterday"'},
        {"pageSize": "ten"},
        {"orderBy": "createTime desc"},
    ],
)
def test_activities_bad_query_is_400(http, emu, params):
    sid = new_session(http)["id"]
    emu.clock.advance(10)
    response = http.get(f"sessions/{sid}/activities", params=params)
    assert response.status_code == 400
    assert error_of(response)["status"] == "INVALID_ARGUMENT"


def test_get_activity(http, emu):
    sid = new_session(http)["id"]
    emu.clock.advance(100)
    acts = http.get(f"sessions/{sid}/activities").json()["activities"]
    assert http.get(acts[0]["name"]).json() == acts[0]
    assert http.get(f"sessions/{sid}/activities/{'0' * 32}").status_code == 404


def test_unknown_query_params_rejected_everywhere_system_params_accepted(http):
    sid = new_session(http)["id"]
    for path in ("sources", SOURCE, "sessions", f"sessions/{sid}"):
        response = http.get(path, params={"bogus": "1"})
        assert response.status_code == 400, path
        assert 'Unknown name "bogus"' in error_of(response)["message"]
    ok = http.get("sessions", params={"alt": "json", "prettyPrint": "false", "fields": "x"})
    assert ok.status_code == 200
    assert b"\n  " not in ok.content  # prettyPrint=false: compact JSON


def test_unknown_routes_are_404(http):
    assert http.get("nothing").status_code == 404
    assert http.put("sessions").status_code == 404
    assert http.post("sessions/1:explode", json={}).status_code == 404
    assert http.get("http://127.0.0.1/v2/sessions").status_code == 404


# -- auth -------------------------------------------------------------------------------


def test_missing_key_is_401_credentials_missing(emu):
    response = httpx.Client(transport=httpx.WSGITransport(app=emu.app)).get(emu.url + "/sessions")
    assert response.status_code == 401
    error = error_of(response)
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert emu.app.requests()[-1]["apiKeyPresent"] is False


def test_fixed_key():
    emulator = Emulator(clock=FakeClock(), api_key="right-key")
    client = httpx.Client(transport=httpx.WSGITransport(app=EmulatorApp(emulator)))
    url = "http://127.0.0.1/v1alpha/sessions"
    wrong = client.get(url, headers={"x-goog-api-key": "wrong"})
    assert wrong.status_code == 401
    # Live, a wrong key gets the 401 a missing key gets, with a misleading message
    # (jules-api.md 13): same code, status and reason.
    missing = client.get(url)
    assert missing.status_code == 401
    assert {**error_of(wrong), "message": None} == {**error_of(missing), "message": None}
    assert error_of(wrong)["status"] == "UNAUTHENTICATED"
    assert error_of(wrong)["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert error_of(wrong)["message"] == "API keys are not supported by this API"
    assert client.get(url, headers={"X-Goog-Api-Key": "right-key"}).status_code == 200
    assert client.get(url, params={"key": "right-key"}).status_code == 200


def test_require_key_false_accepts_no_key():
    app = EmulatorApp(Emulator(clock=FakeClock()), require_key=False)
    client = httpx.Client(transport=httpx.WSGITransport(app=app))
    assert client.get("http://127.0.0.1/v1alpha/sessions").status_code == 200


# -- the control plane --------------------------------------------------------------------


def test_requests_log_records_what_reached_the_server(http, emu):
    http.get("sessions", params={"pageSize": 5, "filter": "archived = true"})
    http.post("sessions", json={"prompt": "hello"})
    log = http.get(f"{CONTROL}/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/v1alpha/sessions", 200),
        ("POST", "/v1alpha/sessions", 200),
    ]
    assert log[0]["query"] == {"pageSize": "5", "filter": "archived = true"}
    assert log[0]["body"] is None
    assert log[1]["body"] == {"prompt": "hello"}
    assert log[1]["apiKeyPresent"] is True and log[1]["apiKey"] == DEMO_API_KEY
    assert http.delete(f"{CONTROL}/requests").json() == {}
    assert http.get(f"{CONTROL}/requests").json() == []


def test_control_plane_needs_no_key(emu):
    client = httpx.Client(transport=httpx.WSGITransport(app=emu.app), base_url="http://x")
    info = client.get("/_emulator").json()
    assert info["speed"] == 1.0 and info["apiKeyRequired"] is True
    assert client.post("/_emulator/reset").status_code == 200


def test_faults_status_times_and_retry_after(http):
    queued = http.post(
        f"{CONTROL}/faults",
        json=[{"status": 429, "retryAfter": 2, "times": 2, "method": "GET", "path": "sessions"}],
    )
    assert queued.json() == {"queued": 1}
    for _ in range(2):
        limited = http.get("sessions")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert error_of(limited)["status"] == "RESOURCE_EXHAUSTED"
    assert http.get("sessions").status_code == 200
    assert http.get(f"{CONTROL}/faults").json() == []


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (403, "PERMISSION_DENIED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (400, "INVALID_ARGUMENT"),
    ],
)
def test_fault_envelopes(http, status, name):
    http.post(f"{CONTROL}/faults", json={"status": status})
    response = http.get("sessions")
    assert response.status_code == status and error_of(response)["status"] == name


def test_fault_matching_by_method_and_path_glob(http):
    sid = new_session(http)["id"]
    http.post(
        f"{CONTROL}/faults",
        json={"status": 503, "method": "POST", "path": "sessions/*:sendMessage", "times": None},
    )
    assert http.get(f"sessions/{sid}").status_code == 200
    assert http.post("sessions", json={"prompt": "x"}).status_code == 200
    for _ in range(3):
        assert http.post(f"sessions/{sid}:sendMessage", json={"prompt": "x"}).status_code == 503
    assert http.get(f"{CONTROL}/faults").json()[0]["path"] == "sessions/*:sendMessage"
    http.delete(f"{CONTROL}/faults")
    assert http.post(f"sessions/{sid}:sendMessage", json={"prompt": "x"}).status_code == 200


def test_fault_raw_body_and_custom_message(http):
    http.post(f"{CONTROL}/faults", json={"status": 502, "body": "<html>Bad Gateway</html>"})
    raw = http.get("sessions")
    assert raw.status_code == 502 and raw.text == "<html>Bad Gateway</html>"
    http.post(
        f"{CONTROL}/faults",
        json={"status": 400, "statusName": "FAILED_PRECONDITION", "message": "Quota."},
    )
    assert error_of(http.get("sessions")) == {
        "code": 400,
        "message": "Quota.",
        "status": "FAILED_PRECONDITION",
    }


def test_delay_fault_uses_the_injected_sleep(http, emu):
    before = emu.clock.now
    http.post(f"{CONTROL}/faults", json={"delay": 1.5})
    assert http.get("sessions").status_code == 200
    assert emu.clock.now == before + 1.5


def test_drop_fault_in_process_raises(http, emu):
    from jules_cli.emulator import DropConnection

    http.post(f"{CONTROL}/faults", json={"drop": True, "after": True, "path": "sessions"})
    with pytest.raises(DropConnection):
        http.post("sessions", json={"prompt": "x"})
    assert len(emu.emulator.list_sessions()["sessions"]) == 1
    assert emu.app.requests()[-1]["dropped"] is True


def test_body_alone_replaces_the_real_answer_after_processing(http, emu):
    http.post(
        f"{CONTROL}/faults",
        json={"body": "not json {", "contentType": "application/json", "path": "sessions"},
    )
    mangled = http.post("sessions", json={"prompt": "x"})
    assert mangled.status_code == 200 and mangled.text == "not json {"
    assert mangled.headers["Content-Type"] == "application/json"
    assert len(emu.emulator.list_sessions()["sessions"]) == 1  # the create happened
    http.post(f"{CONTROL}/faults", json={"body": "<html>Sign in</html>"})
    page = http.get("sources")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


def test_status_body_with_a_content_type(http):
    http.post(
        f"{CONTROL}/faults",
        json={"status": 500, "body": "upstream connect error", "contentType": "text/plain"},
    )
    answer = http.get("sources")
    assert answer.status_code == 500 and answer.text == "upstream connect error"
    assert answer.headers["Content-Type"] == "text/plain"


def test_reset_fault_in_process_raises_with_reset_set(http, emu):
    from jules_cli.emulator import DropConnection

    http.post(f"{CONTROL}/faults", json={"reset": True, "after": True, "path": "sessions"})
    with pytest.raises(DropConnection) as dropped:
        http.post("sessions", json={"prompt": "x"})
    assert dropped.value.reset is True
    assert len(emu.emulator.list_sessions()["sessions"]) == 1
    http.post(f"{CONTROL}/faults", json={"drop": True})
    with pytest.raises(DropConnection) as clean:
        http.get("sources")
    assert clean.value.reset is False
    log = emu.app.requests()
    assert log[-2]["dropped"] is True and log[-2]["status"] == 200
    assert log[-1]["dropped"] is True and log[-1]["status"] is None


def test_truncate_fault_in_process_raises_after_the_headers(emu):
    from jules_cli.emulator import DropConnection

    emu.app.add_faults({"truncate": 5, "path": "sources"})
    with pytest.raises(DropConnection):
        emu.http.get("sources")
    assert emu.app.requests()[-1] == {**emu.app.requests()[-1], "status": 200, "truncated": True}


def test_truncated_answer_promises_more_than_it_sends(emu):
    from jules_cli.emulator.app import _respond_truncated

    started: list = []
    chunks = _respond_truncated(
        lambda status, headers: started.append((status, headers)),
        200,
        [],
        b"0123456789",
        100,
    )
    assert started == [("200 OK", [("Content-Length", "10")])]
    assert next(chunks) == b"012345678"  # never the whole body, however large N is


def test_new_fault_keys_round_trip_in_the_fault_list(http):
    specs = [
        {"reset": True, "after": True, "path": "sessions"},
        {"truncate": 0, "method": "GET"},
        {"body": "x", "contentType": "text/plain"},
    ]
    assert http.post(f"{CONTROL}/faults", json=specs).json() == {"queued": 3}
    listed = http.get(f"{CONTROL}/faults").json()
    assert listed[0]["reset"] is True and listed[0]["after"] is True
    assert listed[1]["truncate"] == 0 and listed[1]["method"] == "GET"
    assert listed[2]["contentType"] == "text/plain"


@pytest.mark.parametrize(
    "spec",
    [
        {"status": 200},
        {"status": 503, "times": 0},
        {"drop": True, "status": 503},
        {"after": True, "status": 503},
        {"path": "sessions"},
        {"status": 503, "colour": "red"},
        {"delay": -1},
        "503",
        {"reset": True, "status": 503},
        {"drop": True, "body": "x"},
        {"reset": True, "truncate": 3},
        {"after": True, "body": "x"},
        {"contentType": "text/plain", "status": 500},
        {"truncate": -1},
        {"truncate": True},
        {"truncate": "10"},
        {"body": 5},
        {"reset": "yes"},
        {"status": True},
        {"probability": "0.5", "status": 503},
    ],
)
def test_bad_fault_specs_are_400(http, spec):
    response = http.post(f"{CONTROL}/faults", json=spec)
    assert response.status_code == 400
    assert http.get(f"{CONTROL}/faults").json() == []


def test_probability_faults_use_the_app_rng(emu):
    emu.app.add_faults({"status": 503, "times": None, "probability": 0.5})
    statuses = [emu.http.get("sources").status_code for _ in range(40)]
    assert 503 in statuses and 200 in statuses


def test_reset_advance_settle_state_and_sources(http, emu):
    sid = new_session(http, "[ask]")["id"]
    advanced = http.post(f"{CONTROL}/advance", json={"seconds": 5})
    assert advanced.status_code == 200
    assert http.get(f"sessions/{sid}").json()["state"] == "PLANNING"
    assert http.post(f"{CONTROL}/advance", json={}).status_code == 400
    http.post(f"{CONTROL}/settle")
    assert http.get(f"sessions/{sid}").json()["state"] == "AWAITING_USER_FEEDBACK"
    state = http.get(f"{CONTROL}/state").json()
    assert state["format"] == "jules-emulator-state" and len(state["sessions"]) == 1
    added = http.post(f"{CONTROL}/sources", json={"name": "sources/github/me/new"}).json()
    assert added["githubRepo"]["defaultBranch"] == {"displayName": "main"}
    assert http.get("sources/github/me/new").status_code == 200
    http.post(f"{CONTROL}/faults", json={"status": 503})
    assert http.post(f"{CONTROL}/reset").json() == {}
    assert http.get("sessions").json() == {}
    assert http.get("sources/github/me/new").status_code == 404
    assert http.get(f"{CONTROL}/requests").json()[-1]["status"] == 404
    assert http.get(f"{CONTROL}/nothing").status_code == 404


# -- the real client, in-process ------------------------------------------------------------


def test_jules_client_full_flow_in_process(emu):
    client = emu.client
    assert [s["name"] for s in client.list_sources()][0] == SOURCE
    assert client.get_source("jules-demo/hello-world")["name"] == SOURCE
    with pytest.raises(NotFound):
        client.get_source("nobody/nothing")
    session = client.create_session(
        {"prompt": "Do it [ask]", "sourceContext": {"source": SOURCE}, "requirePlanApproval": True}
    )
    sid = session["id"]
    # The client retries the fresh-session 404, sleeping on the fake clock.
    assert list(client.list_activities(sid)) == []
    emu.clock.advance(30)
    client.approve_plan(sid)
    with pytest.raises(BadRequest) as refused:
        client.approve_plan(sid)
    assert refused.value.status == "FAILED_PRECONDITION"
    emu.clock.advance(100)
    assert client.get_session(sid)["state"] == "AWAITING_USER_FEEDBACK"
    client.send_message(sid, "yes")
    emu.clock.advance(100)
    assert client.get_session(sid)["state"] == "COMPLETED"
    acts = list(client.list_activities(sid, page_size=2))
    since = list(client.list_activities(sid, since=acts[-3]["createTime"]))
    assert since == acts[-2:]
    assert client.get_activity(sid, acts[0]["id"]) == acts[0]
    assert client.archive_session(sid)["archived"] is True
    assert list(client.list_sessions()) == []
    assert [s["id"] for s in client.list_sessions(archived=None)] == [sid]
    client.unarchive_session(sid)
    assert client.delete_session(sid) == {}
    with pytest.raises(NotFound):
        client.get_session(sid)


def test_jules_client_errors_in_process(emu):
    with pytest.raises(BadRequest) as invalid:
        emu.client.create_session({"prompt": "x", "automationMode": "MANUAL"})
    assert invalid.value.details[0]["fieldViolations"][0]["field"] == "session.automation_mode"
    emu.app.add_faults({"status": 429, "retryAfter": 1, "times": 10})
    with pytest.raises(RateLimited):
        emu.client.get_session("1")
    emu.app.clear_faults()
    emu.app.add_faults({"status": 503, "times": 10})
    with pytest.raises(Unavailable):
        list(emu.client.list_sessions())
    emu.app.clear_faults()
    emu.emulator.api_key = "another"
    with pytest.raises(AuthError):
        emu.client.get_session("1")


# -- conformance with the live API (jules-api.md 13) -----------------------------------


def test_null_fields_count_as_absent_nested_too(http):
    # `jules-api` sends "githubRepoContext": null whenever no branch is given.
    created = new_session(
        http,
        sourceContext={"source": SOURCE, "githubRepoContext": None, "workingBranch": None},
        title=None,
        requirePlanApproval=None,
        automationMode=None,
    )
    assert created["sourceContext"] == {
        "source": SOURCE,
        "githubRepoContext": {"startingBranch": "main"},
    }
    assert created["title"] == "Add a greeting"
    # Nested too: a null inside a message is that field left out of it.
    nested = new_session(
        http, sourceContext={"source": SOURCE, "environmentVariablesEnabled": None}
    )
    assert nested["sourceContext"] == created["sourceContext"]
    empty = http.post(
        "sessions",
        json={"prompt": "x", "sourceContext": {"source": SOURCE, "githubRepoContext": {}}},
    )
    nulled = http.post(
        "sessions",
        json={
            "prompt": "x",
            "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": None}},
        },
    )
    assert nulled.status_code == empty.status_code and nulled.json() == empty.json()
    assert "sourceContext" not in new_session(http, sourceContext=None)
    # null is "not set", never a way around the checks: a required field stays required.
    missing = http.post("sessions", json={"prompt": None})
    assert missing.status_code == 400
    sid = created["id"]
    assert http.post(f"sessions/{sid}:sendMessage", json={"prompt": None}).status_code == 400
    assert http.post(f"sessions/{sid}:archive", json={"name": None}).status_code == 200


def test_input_only_fields_still_drive_the_session(http, emu):
    sid = new_session(
        http,
        "Plan first",
        sourceContext={"source": SOURCE},
        requirePlanApproval=True,
        automationMode="AUTO_CREATE_PR",
    )["id"]
    emu.emulator.settle()
    waiting = http.get(f"sessions/{sid}").json()
    assert waiting["state"] == "AWAITING_PLAN_APPROVAL"
    assert http.post(f"sessions/{sid}:approvePlan", json={}).status_code == 200
    emu.emulator.settle()
    done = http.get(f"sessions/{sid}").json()
    assert done["state"] == "COMPLETED" and "pullRequest" in done["outputs"][0]
    assert "requirePlanApproval" not in done and "automationMode" not in done
    listed = http.get("sessions").json()["sessions"][0]
    assert "requirePlanApproval" not in listed and "automationMode" not in listed


def test_activity_page_tokens_are_nanosecond_timestamps(http, emu):
    sid = new_session(http, "Busy [many:30] [same-time]")["id"]
    emu.emulator.settle()
    served = http.get(f"sessions/{sid}/activities", params={"pageSize": 100}).json()
    seen, tokens, token = [], [], None
    while True:
        params = {"pageSize": 4, **({"pageToken": token} if token else {})}
        page = http.get(f"sessions/{sid}/activities", params=params).json()
        seen += page["activities"]
        token = page.get("nextPageToken")
        if not token:
            break
        tokens.append(token)
    # Every activity once, in order, although most share one createTime ([same-time]).
    assert seen == served["activities"] and len(seen) > 30
    assert all(t.isdigit() and len(t) == 19 for t in tokens), tokens
    first = int(tokens[0])
    created = seen[3]["createTime"]
    assert abs(first - _ns(created)) < 10**6  # the cursor is about the last item's time
    bad = http.get(f"sessions/{sid}/activities", params={"pageToken": "not-a-number"})
    assert bad.status_code == 400
    # A filter and a token combine (a long catch-up).
    since = seen[1]["createTime"]
    filtered = http.get(
        f"sessions/{sid}/activities",
        params={"pageSize": 2, "filter": f'create_time>"{since}"'},
    ).json()
    rest = http.get(
        f"sessions/{sid}/activities",
        params={"pageSize": 100, "filter": f'create_time>"{since}"',
                "pageToken": filtered["nextPageToken"]},
    ).json()  # fmt: skip
    expected = [a for a in seen if _ns(a["createTime"]) > _ns(since)]
    assert filtered["activities"] + rest["activities"] == expected


def _ns(text: str) -> int:
    from jules_cli.emulator.wire import parse_time

    return parse_time(text)


def test_source_page_tokens_are_the_next_source_id():
    client, _ = many_sources_app(5)
    first = client.get("sources", params={"pageSize": 2}).json()
    assert first["nextPageToken"] == "github/acme/repo-002"
    second = client.get("sources", params={"pageSize": 2, "pageToken": "github/acme/repo-002"})
    assert [s["id"] for s in second.json()["sources"]] == [
        "github/acme/repo-002",
        "github/acme/repo-003",
    ]
    assert second.json()["nextPageToken"] == "github/acme/repo-004"
    assert client.get("sources", params={"pageToken": "github/nobody/x"}).status_code == 400


# -- scale: bulk seeding and indexes ------------------------------------------------------


def test_bulk_seed_sessions_and_activities(http, emu):
    control = httpx.Client(transport=httpx.WSGITransport(app=emu.app))
    made = control.post(f"{CONTROL}/bulk", json={"sessions": 250}).json()["sessions"]
    assert len(made) == 250
    emu.clock.advance(10)  # bulk sessions end a second before now: keep the two apart
    archived = control.post(
        f"{CONTROL}/bulk", json={"sessions": 3, "archived": True, "state": "FAILED"}
    ).json()["sessions"]
    fresh = new_session(http, "after the bulk")["id"]
    seen, token = [], None
    while True:
        params = {"pageSize": 100, **({"pageToken": token} if token else {})}
        page = http.get("sessions", params=params).json()
        seen += [s["id"] for s in page["sessions"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == [fresh, *made[::-1]]
    both = http.get(
        "sessions", params={"filter": "archived = true OR archived = false", "pageSize": 5}
    ).json()
    assert [s["id"] for s in both["sessions"]] == [fresh, *archived[::-1], made[-1]]
    only = http.get("sessions", params={"filter": "archived = true"}).json()["sessions"]
    assert [(s["id"], s["state"], s["archived"]) for s in only] == [
        (sid, "FAILED", True) for sid in archived[::-1]
    ]
    # Archiving moves a session between the indexes; deleting drops it.
    http.post(f"sessions/{made[-1]}:archive")
    http.delete(f"sessions/{made[-2]}")
    top = http.get("sessions", params={"pageSize": 2}).json()["sessions"]
    assert [s["id"] for s in top] == [fresh, made[-3]]

    (busy,) = control.post(f"{CONTROL}/bulk", json={"activities": 120}).json()["sessions"]
    page = http.get(f"sessions/{busy}/activities", params={"pageSize": 100}).json()
    assert len(page["activities"]) == 100 and page["nextPageToken"].isdigit()
    control.post(f"{CONTROL}/bulk", json={"session": busy, "activities": 5})
    rest = http.get(
        f"sessions/{busy}/activities", params={"pageToken": page["nextPageToken"]}
    ).json()["activities"]
    assert len(rest) == 25
    times = [a["createTime"] for a in page["activities"] + rest]
    assert times == sorted(times)
    last = rest[-1]["id"]
    assert http.get(f"sessions/{busy}/activities/{last}").json() == rest[-1]
    bad = control.post(f"{CONTROL}/bulk", json={"sessions": -1})
    assert bad.status_code == 400 and "sessions" in bad.json()["error"]["message"]
    assert (
        control.post(f"{CONTROL}/bulk", json={"session": "1", "activities": 1}).status_code == 404
    )


def test_steps_play_in_time_order_across_many_sessions(emu, http):
    # The due heap: sessions created at different times all progress, however many.
    ids = []
    for n in range(20):
        ids.append(new_session(http, f"task {n} [many:2]")["id"])
        emu.clock.advance(3)
    emu.clock.advance(200)
    states = {http.get(f"sessions/{sid}").json()["state"] for sid in ids}
    assert states == {"COMPLETED"}
    # A deleted session with steps pending is simply forgotten.
    doomed = new_session(http, "doomed")["id"]
    http.delete(f"sessions/{doomed}")
    emu.clock.advance(200)
    assert http.get("sessions", params={"pageSize": 1}).json()["sessions"][0]["id"] == ids[-1]


def test_saved_state_round_trips_with_indexes_and_cursors(emu, http):
    sid = new_session(http, "Busy [many:12] [same-time]")["id"]
    waiting = new_session(http, "Later [ask]")["id"]
    emu.emulator.settle()
    page = http.get(f"sessions/{sid}/activities", params={"pageSize": 5}).json()
    restored = Emulator.from_dict(
        __import__("json").loads(emu.emulator.state_json()), clock=emu.clock
    )
    again = restored.list_activities(sid, page_size=5, page_token=page["nextPageToken"])
    original = emu.emulator.list_activities(sid, page_size=5, page_token=page["nextPageToken"])
    assert again == original
    assert restored.list_sessions() == emu.emulator.list_sessions()
    restored.send_message(waiting, {"prompt": "yes"})
    restored.settle()
    assert restored.get_session(waiting)["state"] == "COMPLETED"


def test_session_pages_from_cached_text_are_what_json_dumps_makes(http, emu):
    made = emu.emulator.bulk_seed({"sessions": 7, "source": SOURCE})["sessions"]
    waiting = new_session(http, "Ask [ask]", sourceContext={"source": SOURCE})["id"]
    import json

    def same(**args):
        for pretty in (True, False):
            text = emu.emulator.list_sessions_json(**args, pretty=pretty)
            expected = json.dumps(
                emu.emulator.list_sessions(**args), indent=2 if pretty else None, ensure_ascii=False
            )
            assert text == expected
        served = http.get("sessions", params={"pageSize": args.get("page_size") or 30})
        assert (
            served.text
            == json.dumps(
                emu.emulator.list_sessions(page_size=args.get("page_size")),
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )

    same(page_size=3)
    same()
    emu.clock.advance(1000)  # the waiting session moves on: its cached text must follow
    same()
    http.post(f"sessions/{waiting}:sendMessage", json={"prompt": "go"})
    http.post(f"sessions/{made[-1]}:archive")
    emu.clock.advance(1000)
    same()
    assert emu.emulator.list_sessions_json(filter="archived = true", pretty=True).count('"id"') == 1
    assert emu.emulator.list_sessions_json(page_size=1, filter="archived = true") != "{}"
    emu.emulator.reset()
    assert emu.emulator.list_sessions_json() == "{}"
