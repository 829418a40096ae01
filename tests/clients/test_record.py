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

import contextlib
import json
import os
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
# The binary under test, as tests/clients/run exports it (the build may be outside the checkout: .ci/run).
TERMINUS = Path(os.environ.get("TERMINUS_BIN") or ROOT / "target" / "debug" / "terminus")
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
def upstream_world():
    """The upstream's world (a test parametrizes it to use another)."""
    return WORLD


@pytest.fixture
def upstream(tmp_path, upstream_world):
    ca = tmp_path / "upstream-ca.pem"
    process, match = start(
        ["serve", "--tls", "--ca-out", str(ca), "--listen", "127.0.0.1:0", "--world", str(upstream_world)],
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


def checked_cassette(cassette, actions, via, request_client, fixture_key=FIXTURE_KEY,
                     secrets=(SECRET_ID, SECRET_KEY, TOKEN)):
    """What every recording must hold, whichever client made it: the exchanges `actions` in order, each from
    `request_client` (a prefix of X-TC-RequestClient, or None) and come in `via`; every stored request verifies with
    the fixture key; no written byte holds a secret (the canary); replay against the mock reports no drift.
    Returns the index entries."""
    index = (cassette / "cassette.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in index[1:]]
    assert [entry["action"] for entry in entries] == actions, entries
    if request_client is not None:
        assert all((entry["request_client"] or "").startswith(request_client) for entry in entries), entries
    assert {entry["via"] for entry in entries} == {via}, entries

    # Every stored request verifies with the fixture key (terminus verify, exit 0).
    for entry in entries:
        verdict = terminus("verify", "--secret-key", fixture_key, str(cassette / f"{entry['name']}.request"))
        assert verdict.returncode == 0, entry["name"] + ": " + verdict.stdout + verdict.stderr

    # The canary: no written byte holds the SecretId, the key or the token.
    for path in cassette.iterdir():
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path.name} holds a secret"

    # Replay against the mock in the derived world: no drift.
    replay = terminus("replay", str(cassette), "--format", "json")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert json.loads(replay.stdout)["drifted"] == 0, replay.stdout
    return entries


@contextlib.contextmanager
def playback(cassette):
    """`terminus serve --cassette`: yields its plain-http URL, for the client's run to be answered again."""
    process, match = start(["serve", "--cassette", str(cassette), "--listen", "127.0.0.1:0"],
                           r"listening on (http://127\.0\.0\.1:\d+)")
    try:
        yield match.group(1)
    finally:
        stop(process)


def changed_world(tmp_path, instance):
    """world.toml's fixture account with `instance` protected: a changed behaviour for replay to report."""
    world = tmp_path / "changed.toml"
    world.write_text(
        'region = "ap-guangzhou"\n[[accounts]]\nsecret-id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"\n'
        f'secret-key = "{FIXTURE_KEY}"\ntoken = "[TOKEN]"\nowner = "100000000001"\n'
        f'[[instances]]\nid = "{instance}"\nprotected = true\n'
    )
    return world


@pytest.mark.parametrize("mode", ["plain", "connect"])
def test_the_python_sdk_records_a_cassette_that_verifies_holds_no_secret_and_replays(recorder, tmp_path, mode):
    proxy, cassette, proxy_ca = recorder
    recorded_answers = run_client(client(proxy, mode, proxy_ca))
    checked_cassette(cassette, ["DescribeInstances", "TerminateInstances", "DescribeInstances"],
                     "http" if mode == "plain" else "connect", "SDK_PYTHON_")

    # A changed behaviour (the instance protected) is drift, naming the exchange.
    drift = terminus("replay", str(cassette), "--world", str(changed_world(tmp_path, INSTANCE)))
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "differs  0002-TerminateInstances" in drift.stdout, drift.stdout

    # serve --cassette answers the client's run again (new timestamps and signatures) as recorded.
    with playback(cassette) as url:
        replayed_answers = run_client(client(url, "plain"))
    assert replayed_answers == recorded_answers


# -- tccli -----------------------------------------------------------------------------------------------------
# Plain only. tccli has no protocol option, but `--endpoint http://cvm.tencentcloudapi.com` with the proxy in
# HTTPS_PROXY makes requests send the absolute form `POST http://cvm.tencentcloudapi.com/`. CONNECT cannot be
# proven: tccli never passes `certification` to the SDK, and tencentcloud/common/http/request.py
# (`if certification is None: self.certification = certifi.where()`, then `verify=self.certification`) gives
# requests an explicit bundle, so REQUESTS_CA_BUNDLE/SSL_CERT_FILE are never consulted: only certifi's own file
# (in the venv) could be made to trust the recorder's CA.
TCCLI = HERE / ".venv" / "bin" / "tccli"


def run_tccli(tmp_path, proxy):
    """tccli's run (list, terminate, list) for the real host over plain http through `proxy`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_") and k != "TCCLI_PROFILE"}
    env.update(HOME=str(tmp_path), HTTPS_PROXY=proxy)
    common = ["--endpoint", "http://cvm.tencentcloudapi.com", "--secretId", SECRET_ID, "--secretKey", SECRET_KEY,
              "--token", TOKEN, "--region", "ap-guangzhou"]
    answers = []
    for args in (["DescribeInstances"], ["TerminateInstances", "--InstanceIds", json.dumps([INSTANCE])],
                 ["DescribeInstances"]):
        result = subprocess.run([str(TCCLI), "cvm", *args, *common], env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        answers.append(json.loads(result.stdout))
    return answers


def test_tccli_records_plain_http(recorder, tmp_path):
    proxy, cassette, _ = recorder
    recorded_answers = run_tccli(tmp_path, proxy)
    checked_cassette(cassette, ["DescribeInstances", "TerminateInstances", "DescribeInstances"], "http", None)
    with playback(cassette) as url:
        assert run_tccli(tmp_path, url) == recorded_answers


# -- QcloudApi (the legacy client bundled with tencentcloud-sdk-python) ----------------------------------------
# CONNECT only. QcloudApi/common/request.py's MyHTTPSConnection is an HTTPSConnection whatever the configuration
# (no protocol option, so no plain mode): with HTTPS_PROXY it tunnels (`set_tunnel(host, 443)`) to
# `cvm.api.qcloud.com`, and it trusts the default context's roots, which OpenSSL takes from SSL_CERT_FILE.


def run_qcloudapi():
    from QcloudApi.qcloudapi import QcloudApi as Legacy

    cvm = Legacy("cvm", {"secretId": SECRET_ID, "secretKey": SECRET_KEY, "Token": TOKEN, "Region": "ap-guangzhou",
                         "Version": "2017-03-12", "method": "POST", "SignatureMethod": "HmacSHA256"})
    return [json.loads(cvm.call(action, params)) for action, params in
            (("DescribeInstances", {}), ("TerminateInstances", {"InstanceIds.0": INSTANCE}),
             ("DescribeInstances", {}))]


def test_qcloudapi_records_through_connect(recorder, monkeypatch):
    proxy, cassette, proxy_ca = recorder
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy_ca))
    recorded_answers = run_qcloudapi()
    checked_cassette(cassette, ["DescribeInstances", "TerminateInstances", "DescribeInstances"], "connect", None)

    # Playback is plain http: QcloudApi reaches it as test_qcloudapi.py does (clients.md), its connection class
    # swapped for a plain one and the host set to the playback server.
    import QcloudApi.common.request
    import QcloudApi.modules.cvm
    from test_qcloudapi import PlainHTTPConnection

    monkeypatch.delenv("HTTPS_PROXY")
    with playback(cassette) as url:
        monkeypatch.setattr(QcloudApi.common.request, "MyHTTPSConnection", PlainHTTPConnection)
        monkeypatch.setattr(QcloudApi.modules.cvm.Cvm, "requestHost", url.removeprefix("http://"))
        assert run_qcloudapi() == recorded_answers


# -- zenlayercloud-sdk-python -----------------------------------------------------------------------------------
# Both modes: `Config(scheme="http", proxy=…)` (absolute form to console.zenlayer.com) and
# `Config(proxy=…, certification=<the recorder's CA>)` (CONNECT).
ZENLAYER_WORLD = HERE / "world-zenlayer.toml"
# world-zenlayer.toml's second account: not the fixture pair, so redaction has something to replace.
ZENLAYER_ID = "ZLAKIDotherOWNER0001"
ZENLAYER_PASSWORD = "otherOWNERpassword0001"
ZENLAYER_FIXTURE_PASSWORD = "Gu5t9xGARNpq86cd98joQYCN3"


def run_zenlayer(proxy, mode, proxy_ca=None):
    from zenlayercloud.bmc.v20260201 import bmc_client, models as bmc_models
    from zenlayercloud.common.config import Config
    from zenlayercloud.common.credential import Credential

    if mode == "plain":
        config = Config(scheme="http", proxy=proxy, request_timeout=20)
    else:
        config = Config(proxy=proxy, certification=str(proxy_ca), request_timeout=20)
    bmc = bmc_client.BmcClient(Credential(ZENLAYER_ID, ZENLAYER_PASSWORD), config)
    answers = []
    for _ in range(2):
        answers.append(json.loads(bmc.DescribeInstances(bmc_models.DescribeInstancesRequest()).to_json_string()))
    return answers


@pytest.mark.parametrize("upstream_world", [ZENLAYER_WORLD])
@pytest.mark.parametrize("mode", ["plain", "connect"])
def test_the_zenlayer_sdk_records(recorder, mode):
    proxy, cassette, proxy_ca = recorder
    recorded_answers = run_zenlayer(proxy, mode, proxy_ca)
    checked_cassette(cassette, ["DescribeInstances", "DescribeInstances"], "http" if mode == "plain" else "connect",
                     None, fixture_key=ZENLAYER_FIXTURE_PASSWORD, secrets=(ZENLAYER_ID, ZENLAYER_PASSWORD))
    with playback(cassette) as url:
        assert run_zenlayer(url, "plain") == recorded_answers


# -- tencentcloud-sdk-nodejs-cvm --------------------------------------------------------------------------------
# CONNECT only. tencentcloud-sdk-nodejs-common/tencentcloud/common/http/fetch.js wraps any proxy in
# https-proxy-agent, which always tunnels (`CONNECT cvm.tencentcloudapi.com:80` even for http://): the SDK never
# sends the absolute form the plain mode needs. With protocol https:// it tunnels to :443 and trusts the recorder's
# CA through NODE_EXTRA_CA_CERTS. The run is tests/clients/node/record_run.mjs.
NODE_DIR = HERE / "node"


def run_node(env):
    full = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    full.update(env, TERMINUS_SECRET_ID=SECRET_ID, TERMINUS_SECRET_KEY=SECRET_KEY, TERMINUS_TOKEN=TOKEN,
                TERMINUS_INSTANCE=INSTANCE)
    result = subprocess.run(["node", "record_run.mjs"], cwd=NODE_DIR, env=full, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_node_sdk_records_through_connect(recorder):
    proxy, cassette, proxy_ca = recorder
    recorded_answers = run_node({"RECORD_PROXY": proxy, "NODE_EXTRA_CA_CERTS": str(proxy_ca)})
    checked_cassette(cassette, ["DescribeInstances", "TerminateInstances", "DescribeInstances"], "connect",
                     "SDK_NODEJS_")
    with playback(cassette) as url:
        assert run_node({"RECORD_ENDPOINT": url.removeprefix("http://")}) == recorded_answers
