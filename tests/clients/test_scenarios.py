"""tencentcloud-sdk-python and tccli run the conformance scenarios from `terminus scenarios --format json`, the export any
client can use (README, "Scenarios for any client"): for each API 3.0 scenario the SDK can send as written, load it
(`PUT /__terminus/scenario/<id>`), make its calls with the SDK's generic client (or tccli, for the CVM actions it
knows, signed with TC3), check each answer's code against the step, and ask the server for its verdict on what it
received. Nothing here knows the case files.
"""

import calendar
import json
import time
import os
import subprocess

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

# The SDK's signMethod for each exported sign form it has.
SIGN_METHODS = {"tc3": "TC3-HMAC-SHA256", "hmac-sha1": "HmacSHA1", "hmac-sha256": "HmacSHA256"}


def _export():
    binary = os.environ.get("TERMINUS_BIN")
    if not binary:
        pytest.exit("TERMINUS_BIN is not set: run these tests with tests/clients/run", 2)
    done = subprocess.run([binary, "scenarios", "--format", "json"], check=True, capture_output=True, timeout=60)
    return json.loads(done.stdout)


def _sendable(step):
    """Whether the SDK can send this step as written: its sign forms and methods, no tampering or skewed clock."""
    return (step["sign"] in SIGN_METHODS and step["method"] in ("POST", "GET") and step["tamper"] is None
            and step["skew-seconds"] == 0 and step["nonce"] is None and not step["headers"]
            and not step["expect"]["dropped"] and step["region"] is not None and step["version"] is not None
            and step["expect"]["status"] == 200
            # An ActionTimer names an absolute time, in the past on the machine's clock the clients sign with.
            and "ActionTimer" not in step["params"])


EXPORT = _export()
SCENARIOS = [s for s in EXPORT["scenarios"] if s["provider"] == "tencent" and all(map(_sendable, s["steps"]))]


def test_the_export_is_the_documented_format():
    assert EXPORT["format"] == "terminus-scenarios/1"
    # Enough of the set runs through this client that it proves something.
    assert len(SCENARIOS) >= 40, len(SCENARIOS)


def _client(step, endpoint):
    keys = step["credentials"]
    profile = ClientProfile(signMethod=SIGN_METHODS[step["sign"]],
                            httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqMethod=step["method"]))
    service = "sts" if step["action"] == "GetCallerIdentity" else "cvm"
    return CommonClient(service, step["version"],
                        credential.Credential(keys["secret-id"], keys["secret-key"], keys["token"]),
                        step["region"], profile)


# tccli: TC3 over POST (its only form), the default version, and only calls it sends at all: it refuses an action,
# a parameter it does not know, a flag that is not a boolean or a missing InstanceIds of TerminateInstances before
# sending anything.
TCCLI_PARAMS = {"TerminateInstances": {"InstanceIds", "ReleaseAddress", "ReleasePrepaidDataDisks"},
                "DescribeInstances": {"InstanceIds", "Filters", "Offset", "Limit"}}


def _tccli_sends(step):
    known = TCCLI_PARAMS.get(step["action"])
    return (known is not None and set(step["params"]) <= known and step["sign"] == "tc3" and step["method"] == "POST"
            and step["version"] == "2017-03-12"
            and (step["action"] != "TerminateInstances" or isinstance(step["params"].get("InstanceIds"), list))
            and all(isinstance(step["params"][flag], bool)
                    for flag in ("ReleaseAddress", "ReleasePrepaidDataDisks") if flag in step["params"]))


def field(answer, name):
    """A field of the answer, or with a leading `/` the value at that JSON pointer (`/InstanceSet/0/CPU`)."""
    if not name.startswith("/"):
        return answer.get(name)
    value = answer
    for token in name[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        else:
            return None
    return value


TCCLI_SCENARIOS = [s for s in SCENARIOS if all(map(_tccli_sends, s["steps"]))]


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s["id"]) for s in TCCLI_SCENARIOS])
def test_scenario_with_tccli(mock, scenario, tmp_path):
    from test_tccli import run_tccli

    mock._call("PUT", f"/__terminus/scenario/{scenario['id']}")
    for number, step in enumerate(scenario["steps"], 1):
        if step["advance-seconds"]:
            mock.clock(advance=step["advance-seconds"])
        keys = step["credentials"]
        args = ["cvm", step["action"], *[a for name, value in step["params"].items() for a in (f"--{name}", json.dumps(value))],
                "--endpoint", mock.url, "--secretId", keys["secret-id"], "--secretKey", keys["secret-key"],
                "--region", step["region"]]
        if keys["token"]:
            args += ["--token", keys["token"]]
        for _ in range(step["repeat"]):
            result = run_tccli(tmp_path, args)
            code = None
            if result.returncode != 0:
                assert "code:" in result.stderr, result.stderr
                code = result.stderr.split("code:", 1)[1].split()[0]
            assert code == step["expect"]["error"], f"step {number}: {result.stderr}"
    verdict = mock._call("GET", f"/__terminus/scenario/{scenario['id']}/verdict")
    assert verdict["passed"], json.dumps(verdict, indent=2)


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s["id"]) for s in SCENARIOS])
def test_scenario(mock, scenario):
    endpoint = mock.url.split("://", 1)[1]
    loaded = mock._call("PUT", f"/__terminus/scenario/{scenario['id']}")
    assert loaded["scenario"] == scenario["id"]
    for number, step in enumerate(scenario["steps"], 1):
        if step["advance-seconds"]:
            mock.clock(advance=step["advance-seconds"])
        client = _client(step, endpoint)
        for _ in range(step["repeat"]):
            try:
                answer = client.call_json(step["action"], step["params"])["Response"]
                code = None
            except TencentCloudSDKException as error:
                answer, code = {}, error.get_code()
            assert code == step["expect"]["error"], f"step {number}"
            relative = step["expect"]["response-relative-times"]
            for name, value in step["expect"]["response"].items():
                if name in relative:  # a time: relative to the world's clock at load
                    got = calendar.timegm(time.strptime(field(answer, name), "%Y-%m-%dT%H:%M:%SZ"))
                    assert got - loaded["now"] == relative[name], f"step {number}: {name}"
                else:
                    assert field(answer, name) == value, f"step {number}: {name}"
    verdict = mock._call("GET", f"/__terminus/scenario/{scenario['id']}/verdict")
    assert verdict["passed"], json.dumps(verdict, indent=2)
