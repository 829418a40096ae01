"""The legacy QcloudApi client (2.0.15, bundled in tencentcloud-sdk-python) against `terminus serve`'s legacy API 2.0
gateway, configured as shared/reference/clients.md says a user has to:

* QcloudApi always speaks HTTPS to a fixed host per module: `QcloudApi.common.request.MyHTTPSConnection` is
  replaced with a plain `http.client.HTTPConnection` subclass, and `QcloudApi.modules.cvm.Cvm.requestHost` is set to
  `127.0.0.1:PORT`. It then sends `Host: 127.0.0.1:PORT` and signs `GET127.0.0.1:PORT/v2/index.php?...`, which the
  gateway verifies as received.
* Everything else is the client's own: `QcloudApi('cvm', config).call(action, params)` with `secretId`,
  `secretKey`, `Region`, `method`, `SignatureMethod`, `Version`, `Token` in the config; its random Nonce, its
  `time.time()` Timestamp, its parameter order.

QcloudApi returns the raw body bytes of every HTTP 200, whatever it says, and raises
`ApiServerNetworkException` (`.status`, `.data`) for any other status: every assertion parses the body it returns.
Each test starts from world-legacy.toml (PUT /__terminus/world, after conftest.py's reset to world.toml).
"""

import http.client
import json
import time

import pytest
import QcloudApi.common.request
import QcloudApi.modules.cvm
from QcloudApi.common.api_exception import ApiServerNetworkException
from QcloudApi.qcloudapi import QcloudApi as Client

from conftest import ACCOUNTS, EXPORT, HERE, REGION, REQUEST_ID, step_keys

LEGACY_WORLD = (HERE / "world-legacy.toml").read_text()
VERSION = "2017-03-12"
# (SignatureMethod, method): HmacSHA1 and GET are QcloudApi's defaults.
SIGNINGS = [("HmacSHA1", "GET"), ("HmacSHA1", "POST"), ("HmacSHA256", "GET"), ("HmacSHA256", "POST")]
SIGNING_IDS = [f"{sign}-{method}" for sign, method in SIGNINGS]


class PlainHTTPConnection(http.client.HTTPConnection):
    """What QcloudApi's `MyHTTPSConnection` is replaced with: the same constructor and `request_length`, no TLS."""

    def __init__(self, host, port=None):
        http.client.HTTPConnection.__init__(self, host, port, timeout=30)
        self.request_length = 0

    def send(self, data):
        http.client.HTTPConnection.send(self, data)
        self.request_length += len(data)


@pytest.fixture(autouse=True)
def legacy_world(mock, monkeypatch):
    """The legacy world, and QcloudApi patched as clients.md describes (undone after each test)."""
    mock._call("PUT", "/__terminus/world", LEGACY_WORLD.encode())
    monkeypatch.setattr(QcloudApi.common.request, "MyHTTPSConnection", PlainHTTPConnection)
    monkeypatch.setattr(QcloudApi.modules.cvm.Cvm, "requestHost", f"127.0.0.1:{mock.port}")
    yield


def client(account="main", sign="HmacSHA1", method="GET", version=VERSION, region=REGION):
    """A QcloudApi client for the cvm module, configured as a user configures one."""
    keys = ACCOUNTS[account] if isinstance(account, str) else account
    config = {"secretId": keys["secretId"], "secretKey": keys["secretKey"], "Region": region,
              "method": method, "SignatureMethod": sign}
    if version:
        config["Version"] = version
    if keys.get("token"):
        config["Token"] = keys["token"]
    return Client("cvm", config)


def call(action, params, **config):
    """Calls and parses what QcloudApi returns: the raw bytes of the HTTP 200 body."""
    raw = client(**config).call(action, params)
    assert isinstance(raw, bytes), type(raw)
    return json.loads(raw)


def terminate(ids, **config):
    return call("TerminateInstances", {"InstanceIds": ids}, **config)


def return_instance(instance_id, **config):
    return call("ReturnInstance", {"instanceId": instance_id}, version=None, **config)


def error(body):
    """The 3.0-style envelope's error code, or None for a success."""
    assert REQUEST_ID.match(body["Response"]["RequestId"]), body
    return body["Response"].get("Error", {}).get("Code")


# --- success --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
def test_terminate_instances_succeeds_in_the_3_0_envelope(mock, sign, method):
    body = terminate(["ins-r8hr2upy", "ins-09dx96dg"], sign=sign, method=method)
    assert error(body) is None
    assert set(body["Response"]) == {"RequestId"}
    assert mock.state("ins-r8hr2upy") == "TERMINATED"
    assert mock.state("ins-09dx96dg") == "TERMINATED"
    assert mock.state("ins-5d8a23rs") == "RUNNING"


def test_instance_ids_numbered_from_1_as_the_documentation_example(mock):
    body = call("TerminateInstances", {"InstanceIds.1": "ins-r8hr2upy", "InstanceIds.2": "ins-5d8a23rs"})
    assert error(body) is None
    assert (mock.state("ins-r8hr2upy"), mock.state("ins-5d8a23rs")) == ("TERMINATED", "TERMINATED")


def test_prepaid_goes_to_the_recycle_bin_then_is_destroyed(mock):
    assert error(terminate(["ins-prepaid1"])) is None
    assert mock.state("ins-prepaid1") == "SHUTDOWN"
    assert error(terminate(["ins-prepaid1"], method="POST")) is None
    assert mock.state("ins-prepaid1") == "TERMINATED"


def test_temporary_credential_with_its_token(mock):
    assert error(terminate(["ins-tempkey1"], account="temp", sign="HmacSHA256")) is None
    assert mock.state("ins-tempkey1") == "TERMINATED"


@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
def test_return_instance_answers_code_0_ok(mock, sign, method):
    assert return_instance("ins-a19qoqqk", sign=sign, method=method) == {"code": 0, "message": "ok"}
    assert mock.state("ins-a19qoqqk") == "TERMINATED"


def test_return_instance_takes_the_short_region_name(mock):
    assert return_instance("ins-a19qoqqk", region="gz") == {"code": 0, "message": "ok"}
    assert mock.state("ins-a19qoqqk") == "TERMINATED"


# --- the documented errors of TerminateInstances (seed 000), in the 3.0-style envelope ------------------------

# The codes this client proved before its errors came from the export (issue 12): the export must still give them.
TERMINATE_CODES = {
    "MissingParameter", "InvalidInstanceId.Malformed", "InvalidParameterValue", "InvalidParameterValue.LimitExceeded",
    "InvalidInstance.NotSupported", "InvalidInstanceNotSupportedPrepaidInstance", "InvalidInstanceId.NotFound",
    "UnsupportedOperation.InvalidInstancesOwner", "UnsupportedOperation.InstancesProtected",
}
QCLOUDAPI_SIGNS = {"hmac-sha1": "HmacSHA1", "hmac-sha256": "HmacSHA256"}


def qcloudapi_sends(step):
    """Whether QcloudApi sends the step of TerminateInstances as written: its signatures, GET or POST, the ids as a
    list (it numbers them from 0 itself), no tampering, fixed nonce, extra header, signature from the future."""
    return (step["action"] == "TerminateInstances" and step["sign"] in QCLOUDAPI_SIGNS
            and step["method"] in ("GET", "POST") and step["tamper"] is None and step["nonce"] is None
            and step["skew-seconds"] <= 0 and not step["headers"] and step["region"] is not None
            and step["expect"]["status"] == 200 and not step["expect"]["dropped"]
            and set(step["params"]) <= {"InstanceIds"})


# The legacy gateway's TerminateInstances scenarios of `terminus scenarios --format json` in which a call is refused.
TERMINATE_ERRORS = [pytest.param(s, id=s["id"]) for s in EXPORT["scenarios"]
                    if s["provider"] == "tencent-legacy" and all(map(qcloudapi_sends, s["steps"]))
                    and any(step["expect"]["error"] for step in s["steps"])
                    and not any(step["skew-seconds"] for step in s["steps"][:-1])]


def test_the_export_has_every_terminate_code_this_client_proved():
    codes = {step["expect"]["error"] for p in TERMINATE_ERRORS for step in p.values[0]["steps"]}
    assert codes >= TERMINATE_CODES, sorted(TERMINATE_CODES - codes)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("scenario", TERMINATE_ERRORS)
def test_terminate_instances_errors_arrive_as_bytes_of_the_3_0_envelope(mock, scenario, method):
    """Each call of the scenario (over `method`): a refused one is the 3.0-style envelope with the step's code and a
    message, and changes nothing in the world; then the server's verdict must pass."""
    mock.load(scenario)
    for step in scenario["steps"]:
        mock.before(step)
        config = dict(account=step_keys(step), sign=QCLOUDAPI_SIGNS[step["sign"]], method=method,
                      version=step["version"] or None, region=step["region"])
        for _ in range(step["repeat"]):
            before = mock.world()["instances"]
            body = call("TerminateInstances", step["params"], **config)
            assert error(body) == step["expect"]["error"], body
            if step["expect"]["error"]:
                assert isinstance(body["Response"]["Error"]["Message"], str)
                assert mock.world()["instances"] == before
    mock.verdict(scenario)


def test_missing_version_is_a_missing_parameter(mock):
    assert error(terminate(["ins-r8hr2upy"], version=None)) == "MissingParameter"
    assert mock.state("ins-r8hr2upy") == "RUNNING"


def test_internal_server_error(mock):
    mock.fault(kind="error", code="InternalServerError", action="TerminateInstances", count=1)
    assert error(terminate(["ins-r8hr2upy"])) == "InternalServerError"
    assert mock.state("ins-r8hr2upy") == "RUNNING"


def test_an_http_503_raises_with_the_envelope_as_data(mock):
    mock.fault(kind="http", status=503, action="TerminateInstances", count=1)
    with pytest.raises(ApiServerNetworkException) as raised:
        terminate(["ins-r8hr2upy"])
    assert raised.value.status == 503
    assert error(json.loads(raised.value.data)) == "InternalError"
    assert mock.state("ins-r8hr2upy") == "RUNNING"


# --- ReturnInstance's documented error (seed 004) and its refusals, in the numeric envelope -------------------

def test_return_instance_in_a_refusing_state_is_invaild_instance_status(mock):
    body = return_instance("ins-pending1")
    assert body["code"] == 5100
    assert body["codeDesc"] == "OperationConstraints.InvaildInstanceStatus"
    assert isinstance(body["message"], str)
    assert mock.state("ins-pending1") == "PENDING"


@pytest.mark.parametrize("instance,numeric,code_desc", [
    ("ins-prepaid1", 5100, "UnsupportedOperation.InstanceChargeType"),
    ("ins-nope0001", 5000, "InvalidInstanceId.NotFound"),
    ("ins-other001", 5000, "UnsupportedOperation.InvalidInstancesOwner"),
    ("qcvm8e7bf56c115c53ce2d2a1ac2ea6e657a", 5000, "InvalidInstanceId.NotFound"),
    ("ins-1122", 4000, "InvalidInstanceId.Malformed"),
], ids=["prepaid", "unknown", "other-owner", "old-style-id", "malformed"])
def test_return_instance_refusals(mock, instance, numeric, code_desc):
    body = return_instance(instance, method="POST")
    assert (body["code"], body["codeDesc"]) == (numeric, code_desc), body
    if instance.startswith("ins-prepaid"):
        assert mock.state(instance) == "RUNNING"


def test_return_instance_twice_is_already_returned(mock):
    assert return_instance("ins-a19qoqqk") == {"code": 0, "message": "ok"}
    body = return_instance("ins-a19qoqqk")
    assert (body["code"], body["codeDesc"]) == (5000, "UnsupportedOperation.InstanceStateTerminated")


# --- authentication, replay and rate, in both envelopes --------------------------------------------------------

@pytest.mark.parametrize("sign", ["HmacSHA1", "HmacSHA256"])
def test_a_wrong_key_is_a_signature_failure(mock, sign):
    assert error(terminate(["ins-r8hr2upy"], account="wrong-key", sign=sign)) == "InvalidParameter.SignatureFailure"
    body = return_instance("ins-a19qoqqk", account="wrong-key", sign=sign)
    assert (body["code"], body["codeDesc"]) == (4100, "AuthFailure")
    assert mock.state("ins-r8hr2upy") == mock.state("ins-a19qoqqk") == "RUNNING"


@pytest.mark.parametrize("account", ["unknown-id", "not-akid"])
def test_an_unknown_secret_id_is_not_found(mock, account):
    assert error(terminate(["ins-r8hr2upy"], account=account)) == "InvalidParameter.SecretIdNotFound"
    body = return_instance("ins-a19qoqqk", account=account)
    assert (body["code"], body["codeDesc"]) == (4104, "InvalidParameter.SecretIdNotFound")


def test_a_temporary_key_without_its_token_fails(mock):
    assert error(terminate(["ins-tempkey1"], account="temp-without-token")) == "InvalidRequest.TokenCheckFailed"
    assert mock.state("ins-tempkey1") == "RUNNING"


def test_a_failed_mfa_check(mock):
    assert error(terminate(["ins-r8hr2upy"], account="mfa-failure")) == "InvalidRequest.MFACheckFailed"
    body = return_instance("ins-a19qoqqk", account="mfa-failure")
    assert (body["code"], body["codeDesc"]) == (4106, "InvalidRequest.MFACheckFailed")


def test_a_reused_nonce_is_a_replay_attack(mock):
    # QcloudApi sends a Nonce given in the parameters instead of its random one.
    first = call("TerminateInstances", {"InstanceIds": ["ins-r8hr2upy"], "Nonce": 424242})
    assert error(first) is None
    again = call("TerminateInstances", {"InstanceIds": ["ins-09dx96dg"], "Nonce": 424242}, method="POST")
    assert error(again) == "InvalidRequest.ReplayAttack"
    assert mock.state("ins-09dx96dg") == "RUNNING"
    body = call("ReturnInstance", {"instanceId": "ins-a19qoqqk", "Nonce": 424242}, version=None)
    assert (body["code"], body["codeDesc"]) == (4500, "InvalidRequest.ReplayAttack")
    assert mock.state("ins-a19qoqqk") == "RUNNING"


def test_a_timestamp_out_of_the_five_minute_window_is_a_replay_attack(mock):
    # QcloudApi signs with the machine's time; the mock is now 10 minutes later.
    mock.clock(advance=600)
    assert error(terminate(["ins-r8hr2upy"])) == "InvalidRequest.ReplayAttack"
    body = return_instance("ins-a19qoqqk")
    assert (body["code"], body["codeDesc"]) == (4500, "InvalidRequest.ReplayAttack")


def test_the_eleventh_call_in_one_second_is_rate_limited(mock):
    mock.clock(set=int(time.time()))
    for _ in range(10):
        assert error(terminate(["ins-nope0001"])) == "InvalidInstanceId.NotFound"
    assert error(terminate(["ins-r8hr2upy"])) == "InvalidRequest.RequestConcurrencyExceeded"
    assert mock.state("ins-r8hr2upy") == "RUNNING"


def test_an_unknown_action_is_not_found(mock):
    assert error(call("DescribeInstances", {})) == "InvalidAction.NotFound"
    body = call("DescribeInstances", {}, version=None)
    assert (body["code"], body["codeDesc"]) == (6100, "InvalidAction.NotFound")
