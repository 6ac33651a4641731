"""The emulator over real loopback HTTP: the JulesClient against it, fault injection that
only a real socket can show (dropped connections), and `serve_forever`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import httpx
import pytest

from jules_cli.api.client import JulesClient, RetryPolicy
from jules_cli.emulator import Emulator, start_server
from jules_cli.emulator.server import control
from jules_cli.errors import NotFound, Unavailable

SOURCE = "sources/github/jules-demo/hello-world"


def make_client(handle, sleeps: list[float] | None = None) -> JulesClient:
    recorded = sleeps if sleeps is not None else []
    return JulesClient(
        handle.api_key, handle.url, retry=RetryPolicy(jitter=0), sleep=recorded.append
    )


def all_sessions(handle) -> list[dict]:
    return handle.emulator.list_sessions(filter="archived = true OR archived = false").get(
        "sessions", []
    )


def test_fixture_handle(emulator_server):
    assert emulator_server.url == f"http://127.0.0.1:{emulator_server.port}/v1alpha"
    assert emulator_server.env == {
        "JULES_API_URL": emulator_server.url,
        "JULES_API_KEY": "jules-emulator-key",
    }
    assert emulator_server.emulator.speed == 200


def test_client_every_operation_over_http(emulator_server):
    client = make_client(emulator_server)
    assert client.get_source("jules-demo/hello-world")["name"] == SOURCE
    assert len(list(client.list_sources(filter=f"name={SOURCE}"))) == 1
    sid = client.create_session(
        {"prompt": "Go [ask]", "sourceContext": {"source": SOURCE}, "requirePlanApproval": True}
    )["id"]
    emulator_server.settle()
    assert client.get_session(sid)["state"] == "AWAITING_PLAN_APPROVAL"
    assert client.approve_plan(sid) == {}
    emulator_server.settle()
    assert client.send_message(sid, "yes") == {}
    emulator_server.settle()
    assert client.get_session(sid)["state"] == "COMPLETED"
    acts = list(client.list_activities(sid, page_size=3))
    assert client.get_activity(sid, acts[-1]["id"])["sessionCompleted"] == {}
    assert client.archive_session(sid)["archived"] is True
    assert "archived" not in client.unarchive_session(sid)
    assert [s["id"] for s in client.list_sessions()] == [sid]
    assert client.delete_session(sid) == {}
    with pytest.raises(NotFound):
        client.get_session(sid)
    methods = [(r["method"], r["path"]) for r in emulator_server.requests()]
    assert ("POST", f"/v1alpha/sessions/{sid}:approvePlan") in methods
    assert all(r["apiKey"] == "jules-emulator-key" for r in emulator_server.requests())


def test_session_runs_in_real_time_at_fixture_speed(emulator_server):
    client = make_client(emulator_server)
    sid = client.create_session({"prompt": "quick"})["id"]
    deadline = time.monotonic() + 30  # a generous bound; it takes about 0.3 s
    while client.get_session(sid)["state"] != "COMPLETED":
        assert time.monotonic() < deadline, "the session never completed"
        time.sleep(0.02)
    assert client.get_session(sid)["outputs"]


def test_rate_limit_with_retry_after_then_success(emulator_server):
    sleeps: list[float] = []
    client = make_client(emulator_server, sleeps)
    emulator_server.fault(status=429, retryAfter=1, times=2, method="GET", path="sessions")
    assert list(client.list_sessions()) == []
    assert sleeps == [1.0, 1.0]
    assert [r["status"] for r in emulator_server.requests()] == [429, 429, 200]


def test_server_errors_on_reads_are_retried(emulator_server):
    client = make_client(emulator_server)
    emulator_server.fault(status=503, times=2, path="sources")
    assert len(list(client.list_sources())) == 3


def test_drop_after_processing_a_create_is_not_retried(emulator_server):
    client = make_client(emulator_server)
    emulator_server.fault(drop=True, after=True, method="POST", path="sessions")
    with pytest.raises(Unavailable):
        client.create_session({"prompt": "only once"})
    assert [s["prompt"] for s in all_sessions(emulator_server)] == ["only once"]
    creates = [r for r in emulator_server.requests() if r["method"] == "POST"]
    assert len(creates) == 1 and creates[0]["dropped"] is True and creates[0]["status"] == 200


def test_drop_before_processing(emulator_server):
    client = make_client(emulator_server)
    emulator_server.fault(drop=True, method="POST", path="sessions")
    with pytest.raises(Unavailable):
        client.create_session({"prompt": "lost"})
    assert all_sessions(emulator_server) == []
    emulator_server.fault(drop=True, method="GET", path="sessions")
    assert list(client.list_sessions()) == []  # a read is retried after the drop


def raw_get(handle, path: str = "sources"):
    return httpx.get(f"{handle.url}/{path}", headers={"X-Goog-Api-Key": "k"}, timeout=10)


def test_reset_is_a_tcp_reset_and_drop_a_clean_close(emulator_server):
    emulator_server.fault(reset=True)
    with pytest.raises(httpx.ReadError, match="reset by peer"):
        raw_get(emulator_server)
    emulator_server.fault(drop=True)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        raw_get(emulator_server)
    assert raw_get(emulator_server).status_code == 200  # the server itself lives on


def test_reset_after_processing_a_create(emulator_server):
    client = make_client(emulator_server)
    emulator_server.fault(reset=True, after=True, method="POST", path="sessions")
    with pytest.raises(Unavailable):
        client.create_session({"prompt": "only once"})
    assert [s["prompt"] for s in all_sessions(emulator_server)] == ["only once"]


def test_truncated_body_closes_before_the_promised_length(emulator_server):
    emulator_server.fault(truncate=12, path="sources")
    with pytest.raises(httpx.RemoteProtocolError, match="received 12 bytes"):
        raw_get(emulator_server)
    logged = emulator_server.requests()[-1]
    assert logged["status"] == 200 and logged["truncated"] is True


def test_truncated_error_envelope(emulator_server):
    emulator_server.fault(status=503, truncate=3)
    with pytest.raises(httpx.RemoteProtocolError, match="received 3 bytes"):
        raw_get(emulator_server)


def test_non_json_bodies_over_http(emulator_server):
    emulator_server.fault(body="<html><title>Sign in</title></html>", path="sources")
    page = raw_get(emulator_server)
    assert page.status_code == 200 and page.text.startswith("<html>")
    emulator_server.fault(status=502, body="<html><title>502 Bad Gateway</title></html>")
    gateway = raw_get(emulator_server)
    assert gateway.status_code == 502 and "Bad Gateway" in gateway.text


def test_delay_longer_than_the_client_time_out(emulator_server):
    client = JulesClient(
        emulator_server.api_key,
        emulator_server.url,
        timeout=0.2,
        retry=RetryPolicy(attempts=1),
    )
    emulator_server.fault(delay=0.6, method="POST", path="sessions")
    with pytest.raises(Unavailable, match="no answer"):
        client.create_session({"prompt": "slow"})
    # The client gave up; the server still holds the request, then does the work.
    assert control(emulator_server.root_url, "GET", "")["requestsInFlight"] == 1
    assert emulator_server.wait_idle()
    assert control(emulator_server.root_url, "GET", "")["requestsInFlight"] == 0
    assert [s["prompt"] for s in all_sessions(emulator_server)] == ["slow"]
    assert emulator_server.requests()[-1]["status"] == 200


def test_control_plane_over_http(emulator_server):
    root = emulator_server.url.removesuffix("/v1alpha")
    assert control(root, "POST", "faults", [{"status": 500, "path": "sources"}]) == {"queued": 1}
    request = urllib.request.Request(
        f"{emulator_server.url}/sources", headers={"X-Goog-Api-Key": "k"}
    )
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=10)
    assert json.loads(failed.value.read())["error"]["status"] == "INTERNAL"
    assert control(root, "GET", "requests")[0]["apiKey"] == "k"
    assert control(root, "POST", "advance", {"seconds": 10})["now"]
    assert control(root, "POST", "reset") == {}
    assert control(root, "GET", "requests") == []


def test_fixed_key_over_http():
    with start_server(Emulator(api_key="sekrit")) as handle:
        assert handle.env["JULES_API_KEY"] == "sekrit"
        request = urllib.request.Request(f"{handle.url}/sessions", headers={"X-Goog-Api-Key": "x"})
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=10)
        assert failed.value.code == 401
    assert not handle.is_running()


def test_server_factory_fixture(emulator_server_factory):
    seeded = emulator_server_factory(api_key="k2", seed={"sources": ["acme/api"]})
    other = emulator_server_factory()
    assert seeded.port != other.port
    assert seeded.env["JULES_API_KEY"] == "k2"
    assert [s["name"] for s in make_client(seeded).list_sources()] == ["sources/github/acme/api"]
    assert len(list(make_client(other).list_sources())) == 3


def test_refuses_non_loopback_hosts():
    with pytest.raises(ValueError, match="loopback"):
        start_server(Emulator(), host="0.0.0.0")


def test_env_drives_a_subprocess(emulator_server):
    script = (
        "import os; from jules_cli.api.client import JulesClient; "
        "c = JulesClient(os.environ['JULES_API_KEY'], os.environ['JULES_API_URL']); "
        "print(c.create_session({'prompt': 'from a subprocess'})['state'])"
    )
    env = {**os.environ, **emulator_server.env}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "QUEUED"
    assert all_sessions(emulator_server)[0]["prompt"] == "from a subprocess"


@pytest.mark.skipif(os.name != "posix", reason="needs SIGINT delivery to a child")
def test_serve_forever_prints_env_lines_and_stops_on_ctrl_c(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"sources": ["acme/api"]}))
    script = (
        "from jules_cli.emulator import serve_forever; "
        f"raise SystemExit(serve_forever(port=0, speed=50, seed_file={str(seed)!r}, "
        "api_key='my-key'))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url_line = child.stdout.readline().strip()
        key_line = child.stdout.readline().strip()
        assert url_line.startswith("export JULES_API_URL=http://127.0.0.1:")
        assert url_line.endswith("/v1alpha")
        assert key_line == "export JULES_API_KEY=my-key"
        url = url_line.split("=", 1)[1]
        request = urllib.request.Request(f"{url}/sources", headers={"X-Goog-Api-Key": "my-key"})
        with urllib.request.urlopen(request, timeout=10) as response:
            names = [s["name"] for s in json.loads(response.read())["sources"]]
        assert names == ["sources/github/acme/api"]
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert "Emulator stopped." in stderr
    assert "Traceback" not in stderr


def test_holds_200_concurrent_clients_without_an_error():
    # 200 clients connect at the same moment (a barrier), then each reads sessions in a
    # loop with a fresh connection per request (the server speaks HTTP/1.0), for a
    # bounded time. A listen queue of 5 (socketserver's default) refused or reset some of
    # them; bench/run.py runs the same for 20 s against `jules emulator serve`.
    import http.client
    import threading

    clients, seconds = 200, 2.0
    handle = start_server(Emulator(speed=200))
    handle.app.emulator.bulk_seed({"sessions": 50})
    barrier = threading.Barrier(clients)
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        deadline = time.monotonic() + seconds
        while True:
            try:
                connection = http.client.HTTPConnection(handle.host, handle.port, timeout=10)
                connection.request(
                    "GET", "/v1alpha/sessions?pageSize=5", headers={"X-Goog-Api-Key": "k"}
                )
                response = connection.getresponse()
                body = response.read()
                connection.close()
                ok = response.status == 200 and body.startswith(b"{")
                with lock:
                    done[0] += 1
                    if not ok:
                        errors.append(f"HTTP {response.status}")
            except OSError as exc:
                with lock:
                    errors.append(repr(exc))
            if time.monotonic() >= deadline:
                return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        handle.shutdown()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == [], f"{len(errors)} of {done[0] + len(errors)} failed: {errors[:3]}"
    assert done[0] >= clients
