"""`terminus record` with an official client: tencentcloud-sdk-python records through the proxy in both modes
against a `terminus serve --tls` upstream, and the cassette is then checked from outside terminus's own code paths:

* plain: `HttpProfile(protocol="http", proxy=…)`: the SDK sends absolute-form `POST http://cvm.tencentcloudapi.com/`
  and the proxy forwards it over HTTPS (trusting the upstream's CA through `--ca-cert`);
* connect: `HttpProfile(proxy=…, certification=<the recorder's CA>)`: the SDK tunnels with CONNECT and trusts the
  leaf the recorder mints for `cvm.tencentcloudapi.com`.

Then: every stored request verifies with the fixture key (`terminus verify`); no written byte holds the account's
SecretId, SecretKey or session token (the canary); `terminus replay` reports no drift; a world where the instance
is protected is reported as drift naming the exchange; `terminus serve --cassette` answers the same client run with
the same answers.

Each test starts its own processes on free loopback ports (it does not use the suite's TERMINUS_URL mock) and stops
them; every wait has a deadline.
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import cvm_client, models

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TERMINUS = ROOT / "target" / "debug" / "terminus"
WORLD = HERE / "world.toml"
# The temporary credential of world.toml: not the fixture pair, so redaction has something to replace.
SECRET_ID = "AKIDtempTOKENz8krbsJ5yKBZQpn7EXAMPLE"
SECRET_KEY = "tempTOKENGu5t9xGARNpq86cd98jEXAMPLE"
TOKEN = "token-for-the-client-tests-0001"
INSTANCE = "ins-tempkey1"
FIXTURE_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"


def start(args, pattern, deadline=30):
    """Starts terminus with `args` and waits (bounded) for a line of its standard output matching `pattern`."""
    process = subprocess.Popen([str(TERMINUS), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    end = time.monotonic() + deadline
    seen = []
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return process, match
    process.kill()
    process.wait(timeout=10)
    pytest.fail(f"terminus {' '.join(args)} did not print {pattern!r}: {''.join(seen)}")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def upstream(tmp_path):
    ca = tmp_path / "upstream-ca.pem"
    process, match = start(
        ["serve", "--tls", "--ca-out", str(ca), "--listen", "127.0.0.1:0", "--world", str(WORLD)],
        r"listening on (https://127\.0\.0\.1:\d+)",
    )
    yield match.group(1), ca
    stop(process)


@pytest.fixture
def recorder(tmp_path, upstream):
    url, ca = upstream
    cassette = tmp_path / "cassette"
    proxy_ca = tmp_path / "recorder-ca.pem"
    process, match = start(
        ["record", "--listen", "127.0.0.1:0", "--out", str(cassette), "--upstream", url, "--ca-cert", str(ca),
         "--ca-out", str(proxy_ca)],
        r"proxy on (http://127\.0\.0\.1:\d+)",
    )
    yield match.group(1), cassette, proxy_ca
    stop(process)


def client(proxy, mode, proxy_ca=None):
    if mode == "plain":
        http = HttpProfile(protocol="http", proxy=proxy, reqTimeout=20)
    else:
        http = HttpProfile(protocol="https", proxy=proxy, reqTimeout=20)
        http.certification = str(proxy_ca)
    profile = ClientProfile(httpProfile=http)
    # The SDK's domain failover would turn a refused certificate into requests to other roots: not here.
    if hasattr(profile, "disable_region_breaker"):
        profile.disable_region_breaker = True
    return cvm_client.CvmClient(credential.Credential(SECRET_ID, SECRET_KEY, TOKEN), "ap-guangzhou", profile)


def run_client(cvm):
    """The client's run: list, terminate, list again. Returns each answer as JSON without its RequestId."""
    answers = []
    describe = models.DescribeInstancesRequest()
    answers.append(json.loads(cvm.DescribeInstances(describe).to_json_string()))
    terminate = models.TerminateInstancesRequest()
    terminate.InstanceIds = [INSTANCE]
    answers.append(json.loads(cvm.TerminateInstances(terminate).to_json_string()))
    answers.append(json.loads(cvm.DescribeInstances(describe).to_json_string()))
    return answers


def terminus(*args, timeout=60):
    return subprocess.run([str(TERMINUS), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("mode", ["plain", "connect"])
def test_the_python_sdk_records_a_cassette_that_verifies_holds_no_secret_and_replays(recorder, tmp_path, mode):
    proxy, cassette, proxy_ca = recorder
    recorded_answers = run_client(client(proxy, mode, proxy_ca))
    index = (cassette / "cassette.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in index[1:]]
    assert [entry["action"] for entry in entries] == ["DescribeInstances", "TerminateInstances", "DescribeInstances"]
    assert all(entry["request_client"].startswith("SDK_PYTHON_") for entry in entries), entries
    assert {entry["via"] for entry in entries} == {"http" if mode == "plain" else "connect"}, entries

    # Every stored request verifies with the fixture key (terminus verify, exit 0).
    for entry in entries:
        verdict = terminus("verify", "--secret-key", FIXTURE_KEY, str(cassette / f"{entry['name']}.request"))
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr

    # The canary: no written byte holds the SecretId, the key or the token.
    for path in cassette.iterdir():
        data = path.read_bytes()
        for secret in (SECRET_ID, SECRET_KEY, TOKEN):
            assert secret.encode() not in data, f"{path.name} holds a secret"

    # Replay against the mock in the derived world: no drift.
    replay = terminus("replay", str(cassette), "--format", "json")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert json.loads(replay.stdout)["drifted"] == 0

    # A changed behaviour (the instance protected) is drift, naming the exchange.
    world = tmp_path / "changed.toml"
    world.write_text(
        'region = "ap-guangzhou"\n[[accounts]]\nsecret-id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"\n'
        f'secret-key = "{FIXTURE_KEY}"\ntoken = "[TOKEN]"\nowner = "100000000001"\n'
        f'[[instances]]\nid = "{INSTANCE}"\nprotected = true\n'
    )
    drift = terminus("replay", str(cassette), "--world", str(world))
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "differs  0002-TerminateInstances" in drift.stdout, drift.stdout

    # serve --cassette answers the client's run again (new timestamps and signatures) as recorded.
    playback, match = start(["serve", "--cassette", str(cassette), "--listen", "127.0.0.1:0"],
                            r"back on (http://127\.0\.0\.1:\d+)")
    try:
        replayed_answers = run_client(client(match.group(1), "plain"))
    finally:
        stop(playback)
    assert replayed_answers == recorded_answers
