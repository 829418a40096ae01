"""tencentcloud-sdk-python against `terminus serve`, configured as a user would (shared/reference/clients.md).

Two addressings:
* direct: `HttpProfile(protocol="http", endpoint="127.0.0.1:PORT")`: Host and signed host are `127.0.0.1:PORT`;
* proxy: the client keeps its real host (`cvm.tencentcloudapi.com`, the SDK's default endpoint) over plain http,
  with the mock as its HTTP proxy (`HttpProfile(proxy=…)`, or `HTTP_PROXY` in the environment): requests sends
  the absolute-form target `http://cvm.tencentcloudapi.com/` to the mock, Host `cvm.tencentcloudapi.com`.

Nothing in the SDK is patched: what reaches the mock is what the SDK sends to Tencent Cloud, apart from TLS.
"""

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import cvm_client, models

from conftest import (ACCOUNTS, CVM_CODES, REAL_HOST, REGION, REQUEST_ID, SIGN_METHODS, SIGNING_SCENARIOS, codes_of,
                      error_scenarios, header, sdk_sends, step_keys)

MODES = ["direct", "proxy"]
# (signMethod, reqMethod): TC3 is the SDK's default, POST its default method.
SIGNINGS = [
    ("TC3-HMAC-SHA256", "POST"),
    ("TC3-HMAC-SHA256", "GET"),
    ("HmacSHA256", "POST"),
    ("HmacSHA256", "GET"),
    ("HmacSHA1", "POST"),
    ("HmacSHA1", "GET"),
]
SIGNING_IDS = [f"{sign}-{method}" for sign, method in SIGNINGS]
# The error scenarios of `terminus scenarios --format json` this SDK sends as written (conftest.error_scenarios).
ERROR_SCENARIOS = error_scenarios(sdk_sends)


def make_credential(account):
    keys = ACCOUNTS[account]
    return credential.Credential(keys["secretId"], keys["secretKey"], keys.get("token"))


def make_profile(port, mode, sign="TC3-HMAC-SHA256", method="POST", proxy="profile"):
    """Direct at the mock, or for the real host (the SDK's default endpoint) through the mock as proxy.

    `proxy="env"` leaves the profile without a proxy (the test sets HTTP_PROXY instead).
    """
    if mode == "direct":
        http = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}", reqMethod=method, reqTimeout=20)
    else:
        http = HttpProfile(protocol="http", reqMethod=method, reqTimeout=20,
                           proxy=f"http://127.0.0.1:{port}" if proxy == "profile" else None)
    # No retryer: the SDK's default; RequestLimitExceeded must arrive as it is.
    return ClientProfile(signMethod=sign, httpProfile=http)


def make_client(port, mode, account="main", region=REGION, **profile):
    """A CvmClient as a user configures one."""
    return cvm_client.CvmClient(make_credential(account), region, make_profile(port, mode, **profile))


def terminate(client, ids, **flags):
    request = models.TerminateInstancesRequest()
    request.InstanceIds = ids
    for name, value in flags.items():
        setattr(request, name, value)
    return client.TerminateInstances(request)


def describe(client, ids):
    request = models.DescribeInstancesRequest()
    request.InstanceIds = ids
    return client.DescribeInstances(request)


@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
@pytest.mark.parametrize("mode", MODES)
def test_terminate_succeeds_and_describe_shows_it(mock, mode, sign, method):
    client = make_client(mock.port, mode, sign=sign, method=method)
    before = describe(client, ["ins-r8hr2upy"])
    assert [(i.InstanceId, i.InstanceState) for i in before.InstanceSet] == [("ins-r8hr2upy", "RUNNING")]

    response = terminate(client, ["ins-r8hr2upy", "ins-09dx96dg"])

    assert REQUEST_ID.match(response.RequestId), response.RequestId
    assert mock.state("ins-r8hr2upy") == "TERMINATED"
    assert mock.state("ins-09dx96dg") == "TERMINATED"
    assert mock.state("ins-5d8a23rs") == "RUNNING"
    # Destroyed instances are listed as TERMINATING for 5 s (the lifecycle's default), then no longer.
    listed = describe(client, ["ins-r8hr2upy", "ins-09dx96dg", "ins-5d8a23rs"])
    assert [i.InstanceState for i in listed.InstanceSet] == ["TERMINATING", "TERMINATING", "RUNNING"]
    mock.clock(advance=5)
    after = describe(client, ["ins-r8hr2upy", "ins-09dx96dg", "ins-5d8a23rs"])
    assert after.TotalCount == 1
    assert [i.InstanceId for i in after.InstanceSet] == ["ins-5d8a23rs"]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("mode", MODES)
def test_prepaid_goes_to_the_recycle_bin_then_is_destroyed(mock, mode, method):
    # GET sends the Boolean as Python's `True`, POST as JSON `true`.
    client = make_client(mock.port, mode, method=method)
    terminate(client, ["ins-prepaid1"], ReleasePrepaidDataDisks=True)
    shown = describe(client, ["ins-prepaid1"]).InstanceSet
    assert [(i.InstanceId, i.InstanceState) for i in shown] == [("ins-prepaid1", "SHUTDOWN")]
    assert [d.DiskId for d in shown[0].DataDisks] == ["disk-prepaid1"]
    # The API's DataDisk has no state: the control API shows it.
    assert mock.instance("ins-prepaid1")["data-disks"][0]["state"] == "RECYCLED"

    terminate(client, ["ins-prepaid1"])
    assert mock.state("ins-prepaid1") == "TERMINATED"
    mock.clock(advance=5)  # past the 5 s it is listed as TERMINATING
    assert describe(client, ["ins-prepaid1"]).TotalCount == 0


@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
@pytest.mark.parametrize("mode", MODES)
def test_temporary_credential_with_its_token(mock, mode, sign, method):
    client = make_client(mock.port, mode, account="temp", sign=sign, method=method)
    response = terminate(client, ["ins-tempkey1"])
    assert REQUEST_ID.match(response.RequestId)
    assert mock.state("ins-tempkey1") == "TERMINATED"


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("mode", MODES)
def test_release_address_releases_the_elastic_ip(mock, mode, method):
    client = make_client(mock.port, mode, method=method)
    assert describe(client, ["ins-witheip1"]).InstanceSet[0].PublicIpAddresses
    terminate(client, ["ins-witheip1"], ReleaseAddress=True)
    instance = mock.instance("ins-witheip1")
    assert (instance["state"], instance["eip"]["released"]) == ("TERMINATED", True)


def test_describe_lists_public_ip_addresses(mock):
    import ipaddress

    [instance] = describe(make_client(mock.port, "direct"), ["ins-witheip1"]).InstanceSet
    assert instance.PublicIpAddresses
    for address in instance.PublicIpAddresses:
        ipaddress.ip_address(address)


# Fields the real API sends that the pinned SDK's models no longer declare (the recorded bodies in
# tests/data/recorded/, C7N-06 and C7N-17): terminus sends them as the real API does, and the SDK warns of them.
RECORDED_UNDECLARED = {"PlatformProjectId", "ThroughputPerformance", "tagKey", "tagValue"}


def test_describe_answers_only_fields_the_sdk_knows_or_the_recordings_show(mock):
    import warnings

    client = make_client(mock.port, "direct")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        describe(client, ["ins-prepaid1"])
    # The SDK's text: "<names> fileds are useless." (its spelling), one warning per model.
    unknown = {name for warning in caught for name in str(warning.message).split(" fileds are useless")[0].split(",")}
    unknown = {name.strip() for name in unknown if name.strip()}
    assert unknown <= RECORDED_UNDECLARED, unknown - RECORDED_UNDECLARED


def test_proxy_from_the_environment(mock, monkeypatch):
    # The SDK (for protocol http) and requests both read HTTP_PROXY; the profile names no proxy.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{mock.port}")
    client = make_client(mock.port, "proxy", proxy="env")
    response = terminate(client, ["ins-r8hr2upy"])
    assert REQUEST_ID.match(response.RequestId)
    assert mock.state("ins-r8hr2upy") == "TERMINATED"


def typed(step):
    """Whether CvmClient's own TerminateInstances sends the step: its action, version and parameters of its model
    (otherwise the SDK's generic CommonClient sends it)."""
    params = step["params"]
    return (step["action"] == "TerminateInstances" and step["version"] == "2017-03-12"
            and isinstance(params.get("InstanceIds"), list)
            and set(params) <= {"InstanceIds", "ReleaseAddress", "ReleasePrepaidDataDisks"}
            and all(isinstance(params[flag], bool) for flag in set(params) - {"InstanceIds"}))


def step_call(step, port, mode, sign=None, method=None):
    """One step's call, made as a user makes it: CvmClient, or CommonClient for another action, version, service or
    parameters the model does not have. `sign` and `method` replace the step's."""
    keys = step_keys(step)
    made = credential.Credential(keys["secretId"], keys["secretKey"], keys.get("token"))
    profile = make_profile(port, mode, sign=sign or SIGN_METHODS[step["sign"]], method=method or step["method"])
    region = step["region"] or ""
    if typed(step):
        client = cvm_client.CvmClient(made, region, profile)
        flags = {name: value for name, value in step["params"].items() if name != "InstanceIds"}
        return lambda: terminate(client, step["params"]["InstanceIds"], **flags)
    service = "sts" if step["action"] == "GetCallerIdentity" else "cvm"
    client = CommonClient(service, step["version"], made, region, profile)
    return lambda: client.call_json(step["action"], step["params"])


def expect_errors(mock, scenario, port, mode, **signing):
    """Runs one error scenario of the export: every refused call raises TencentCloudSDKException with the step's
    code, a message and a request id, and changes nothing in the world; then the server's verdict must pass."""
    mock.load(scenario)
    for number, step in enumerate(scenario["steps"], 1):
        mock.before(step)
        call = step_call(step, port, mode, **signing)
        code = step["expect"]["error"]
        for _ in range(step["repeat"]):
            if code is None:
                call()
                continue
            instances = mock.world()["instances"]

            with pytest.raises(TencentCloudSDKException) as info:
                call()

            error = info.value
            assert error.code == code, f"step {number}: {error}"
            assert error.get_code() == code
            assert error.message
            assert REQUEST_ID.match(error.requestId or ""), str(error)
            assert str(error).startswith(f"[TencentCloudSDKException] code:{code} message:")
            assert mock.world()["instances"] == instances, "a refused call changed the world"
    mock.verdict(scenario)


def test_the_export_has_every_code_this_sdk_proved():
    assert codes_of(ERROR_SCENARIOS) >= CVM_CODES, sorted(CVM_CODES - codes_of(ERROR_SCENARIOS))


@pytest.mark.parametrize("scenario", ERROR_SCENARIOS)
@pytest.mark.parametrize("mode", MODES)
def test_error_reaches_the_caller_as_its_code(mock, mode, scenario):
    expect_errors(mock, scenario, mock.port, mode)


@pytest.mark.parametrize("scenario", error_scenarios(sdk_sends, SIGNING_SCENARIOS))
@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
@pytest.mark.parametrize("mode", MODES)
def test_error_under_every_signing(mock, mode, sign, method, scenario):
    expect_errors(mock, scenario, mock.port, mode, sign=sign, method=method)


@pytest.mark.parametrize("mode", MODES)
def test_http_500_is_a_server_network_error(mock, mode):
    mock.fault(kind="http", status=500, count=1)
    with pytest.raises(TencentCloudSDKException) as info:
        terminate(make_client(mock.port, mode), ["ins-r8hr2upy"])
    assert info.value.code == "ServerNetworkError"
    assert b"InternalError" in info.value.message
    assert mock.state("ins-r8hr2upy") == "RUNNING"


@pytest.mark.parametrize("mode", MODES)
def test_dropped_connection_is_a_client_network_error(mock, mode):
    mock.fault(kind="drop", count=1)
    with pytest.raises(TencentCloudSDKException) as info:
        terminate(make_client(mock.port, mode), ["ins-r8hr2upy"])
    assert info.value.code == "ClientNetworkError"
    assert mock.state("ins-r8hr2upy") == "RUNNING"


@pytest.mark.parametrize("sign,method", SIGNINGS, ids=SIGNING_IDS)
@pytest.mark.parametrize("mode", MODES)
def test_what_the_mock_receives(mock, recorder, mode, sign, method):
    """Through a byte-recording relay: direct requests are origin-form with Host 127.0.0.1:PORT, proxied ones
    absolute-form for the real host."""
    client = make_client(recorder.port, mode, sign=sign, method=method)
    terminate(client, ["ins-r8hr2upy"])
    assert mock.state("ins-r8hr2upy") == "TERMINATED"

    [(line, headers, body)] = recorder.requests()
    host = f"127.0.0.1:{recorder.port}" if mode == "direct" else REAL_HOST
    target = "/" if mode == "direct" else f"http://{REAL_HOST}/"
    assert line.startswith(f"{method} {target}"), line
    assert line.endswith(" HTTP/1.1")
    assert header(headers, "Host") == host
    if sign == "TC3-HMAC-SHA256":
        authorization = header(headers, "Authorization")
        assert "/cvm/tc3_request, SignedHeaders=content-type;host, Signature=" in authorization
        assert header(headers, "X-TC-Action") == "TerminateInstances"
        assert header(headers, "Content-Type") == (
            "application/json" if method == "POST" else "application/x-www-form-urlencoded")
        if method == "POST":
            assert body == b'{"InstanceIds": ["ins-r8hr2upy"]}'
    else:
        form = body.decode() if method == "POST" else line.split(" ")[1].split("?", 1)[1]
        assert f"SignatureMethod={sign}" in form
        assert "InstanceIds.0=ins-r8hr2upy" in form


@pytest.mark.parametrize("mode", MODES)
def test_cloud_custodian_reads_its_account_id_from_sts(mock, mode):
    """Cloud Custodian's first call, as c7n_tencentcloud makes it (provider.py: a CommonClient for endpoint
    sts.tencentcloudapi.com, service sts, version 2018-08-13, then execute_query("GetCallerIdentity", {}).get("AccountId"))."""
    profile = make_profile(mock.port, mode)
    if mode == "proxy":
        profile.httpProfile.endpoint = "sts.tencentcloudapi.com"
    client = CommonClient("sts", "2018-08-13", make_credential("main"), REGION, profile)
    response = client.call_json("GetCallerIdentity", {})["Response"]
    assert response["AccountId"] == "100000000001"
    assert {key: response[key] for key in ("UserId", "PrincipalId", "Type")} == {
        "UserId": "100000000001", "PrincipalId": "100000000001", "Type": "CAMUser"}
    assert REQUEST_ID.match(response["RequestId"])
