"""tccli against `terminus serve`, run as a user runs it: a subprocess with a scratch HOME (it writes ~/.tccli).

Two addressings (shared/reference/clients.md):
* direct: `--endpoint http://127.0.0.1:PORT` (tccli has no protocol option; the scheme goes in the endpoint and
  ends up inside the Host header, `Host: http://127.0.0.1:PORT`, signed so);
* proxy: `--endpoint http://cvm.tencentcloudapi.com` (the real host over plain http) with the mock as proxy from
  the environment (`HTTPS_PROXY`, which the SDK under tccli reads for it, or `HTTP_PROXY`, which requests reads for
  an http URL) or `--https-proxy`: requests sends the absolute-form target `http://cvm.tencentcloudapi.com/`.

Success: exit 0, the Response contents on stdout. Error: exit 255, stdout empty, stderr
`[TencentCloudSDKException] code:CODE message:… requestId:…`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (ACCOUNTS, REAL_HOST, REGION, REQUEST_ID, TCCLI_CODES, codes_of, error_scenarios, header, sdk_sends,
                      step_keys)

TCCLI = str(Path(sys.executable).with_name("tccli"))
MODES = ["direct", "proxy"]


@pytest.fixture
def home(tmp_path):
    return tmp_path


def run_tccli(home, args, extra_env=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENCENTCLOUD_") and k != "TCCLI_PROFILE"}
    env["HOME"] = str(home)
    env.update(extra_env or {})
    return subprocess.run([TCCLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def addressing(port, mode, proxy="HTTPS_PROXY"):
    """The endpoint flag and the environment for one addressing."""
    if mode == "direct":
        return ["--endpoint", f"http://127.0.0.1:{port}"], {}
    if proxy == "--https-proxy":
        return ["--endpoint", f"http://{REAL_HOST}", "--https-proxy", f"http://127.0.0.1:{port}"], {}
    return ["--endpoint", f"http://{REAL_HOST}"], {proxy: f"http://127.0.0.1:{port}"}


def credentials(account):
    """`account` names one of ACCOUNTS, or is the keys themselves."""
    keys = ACCOUNTS[account] if isinstance(account, str) else account
    args = ["--secretId", keys["secretId"], "--secretKey", keys["secretKey"]]
    if "token" in keys:
        args += ["--token", keys["token"]]
    return args


def cvm(home, port, mode, action, params, account="main", region=REGION, proxy="HTTPS_PROXY", input_json=False):
    """`tccli cvm ACTION --Name JSON…`, or with `input_json` the parameters from `--cli-input-json file://…`."""
    endpoint, env = addressing(port, mode, proxy)
    if input_json:
        path = Path(home) / "input.json"
        path.write_text(json.dumps(params))
        param_args = ["--cli-input-json", f"file://{path}"]
    else:
        param_args = [a for name, value in params.items() for a in (f"--{name}", json.dumps(value))]
    args = ["cvm", action, *param_args, *endpoint, *credentials(account), "--region", region]
    return run_tccli(home, args, env)


# What tccli sends (`tccli cvm ACTION`): TC3 over POST, the default version, and only the actions and parameters its
# api.json defines: it drops or refuses any other before sending.
TCCLI_PARAMS = {"TerminateInstances": {"InstanceIds", "ReleaseAddress", "ReleasePrepaidDataDisks"},
                "DescribeInstances": {"InstanceIds", "Filters", "Offset", "Limit"}}


def tccli_sends(step):
    return (sdk_sends(step) and step["sign"] == "tc3" and step["method"] == "POST" and step["version"] == "2017-03-12"
            and step["action"] in TCCLI_PARAMS and set(step["params"]) <= TCCLI_PARAMS[step["action"]])


def flags_take(step):
    """Whether tccli's own argument checks take the parameters as flags (a list of ids, booleans); the others go in
    --cli-input-json."""
    params = step["params"]
    return ((step["action"] != "TerminateInstances" or isinstance(params.get("InstanceIds"), list))
            and all(isinstance(params[flag], bool)
                    for flag in ("ReleaseAddress", "ReleasePrepaidDataDisks") if flag in params))


# The error scenarios of `terminus scenarios --format json` tccli sends as written (conftest.error_scenarios).
ERROR_SCENARIOS = error_scenarios(tccli_sends)


def succeeded(result):
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode", MODES)
def test_terminate_succeeds_and_describe_shows_it(mock, home, mode):
    before = succeeded(cvm(home, mock.port, mode, "DescribeInstances", {"InstanceIds": ["ins-r8hr2upy"]}))
    assert [(i["InstanceId"], i["InstanceState"]) for i in before["InstanceSet"]] == [("ins-r8hr2upy", "RUNNING")]

    output = succeeded(cvm(home, mock.port, mode, "TerminateInstances", {"InstanceIds": ["ins-r8hr2upy"]}))

    assert list(output) == ["RequestId"]
    assert REQUEST_ID.match(output["RequestId"])
    assert mock.state("ins-r8hr2upy") == "TERMINATED"
    mock.clock(advance=5)  # past the 5 s it is listed as TERMINATING
    after = succeeded(cvm(home, mock.port, mode, "DescribeInstances", {"InstanceIds": ["ins-r8hr2upy"]}))
    assert after["TotalCount"] == 0


@pytest.mark.parametrize("mode", MODES)
def test_prepaid_goes_to_the_recycle_bin(mock, home, mode):
    params = {"InstanceIds": ["ins-prepaid1"], "ReleasePrepaidDataDisks": True}
    succeeded(cvm(home, mock.port, mode, "TerminateInstances", params))
    shown = succeeded(cvm(home, mock.port, mode, "DescribeInstances", {"InstanceIds": ["ins-prepaid1"]}))
    assert [(i["InstanceId"], i["InstanceState"]) for i in shown["InstanceSet"]] == [("ins-prepaid1", "SHUTDOWN")]
    assert mock.instance("ins-prepaid1")["data-disks"][0]["state"] == "RECYCLED"


@pytest.mark.parametrize("mode", MODES)
def test_temporary_credential_with_its_token(mock, home, mode):
    succeeded(cvm(home, mock.port, mode, "TerminateInstances", {"InstanceIds": ["ins-tempkey1"]}, account="temp"))
    assert mock.state("ins-tempkey1") == "TERMINATED"


@pytest.mark.parametrize("proxy", ["HTTPS_PROXY", "HTTP_PROXY", "--https-proxy"])
def test_every_way_to_name_the_proxy(mock, home, proxy):
    succeeded(cvm(home, mock.port, "proxy", "TerminateInstances", {"InstanceIds": ["ins-r8hr2upy"]}, proxy=proxy))
    assert mock.state("ins-r8hr2upy") == "TERMINATED"


@pytest.mark.parametrize("mode", MODES)
def test_configured_profile_and_environment_credentials(mock, home, mode):
    """The endpoint in ~/.tccli (`tccli configure set cvm.endpoint …`), keys from TENCENTCLOUD_* variables."""
    endpoint, env = addressing(mock.port, mode)
    configured = run_tccli(home, ["configure", "set", "cvm.endpoint", endpoint[1], "region", REGION])
    assert configured.returncode == 0, configured.stderr
    env.update(TENCENTCLOUD_SECRET_ID=ACCOUNTS["main"]["secretId"],
               TENCENTCLOUD_SECRET_KEY=ACCOUNTS["main"]["secretKey"])
    result = run_tccli(home, ["cvm", "TerminateInstances", "--InstanceIds", '["ins-r8hr2upy"]'], env)
    assert REQUEST_ID.match(succeeded(result)["RequestId"])
    assert mock.state("ins-r8hr2upy") == "TERMINATED"


def expect_error(result, code):
    assert result.returncode == 255, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    prefix = f"[TencentCloudSDKException] code:{code} message:"
    assert result.stderr.startswith(prefix), result.stderr
    request_id = result.stderr.rstrip("\n").rsplit("requestId:", 1)[1]
    assert REQUEST_ID.match(request_id), result.stderr


def test_the_export_has_every_code_tccli_proved():
    assert codes_of(ERROR_SCENARIOS) >= TCCLI_CODES, sorted(TCCLI_CODES - codes_of(ERROR_SCENARIOS))


@pytest.mark.parametrize("scenario", ERROR_SCENARIOS)
@pytest.mark.parametrize("mode", MODES)
def test_error_exits_255_with_its_code(mock, home, mode, scenario):
    """Every refused call of the scenario exits 255 with its code and request id and changes nothing in the world;
    then the server's verdict must pass."""
    mock.load(scenario)
    for step in scenario["steps"]:
        mock.before(step)

        def call():
            return cvm(home, mock.port, mode, step["action"], step["params"], account=step_keys(step),
                       region=step["region"] or "", input_json=not flags_take(step))

        for _ in range(step["repeat"]):
            if step["expect"]["error"] is None:
                succeeded(call())
                continue
            instances = mock.world()["instances"]
            expect_error(call(), step["expect"]["error"])
            assert mock.world()["instances"] == instances, "a refused call changed the world"
    mock.verdict(scenario)


@pytest.mark.parametrize("mode", MODES)
def test_http_500_is_a_server_network_error(mock, home, mode):
    mock.fault(kind="http", status=500, count=1)
    result = cvm(home, mock.port, mode, "TerminateInstances", {"InstanceIds": ["ins-r8hr2upy"]})
    assert result.returncode == 255
    assert result.stderr.startswith("[TencentCloudSDKException] code:ServerNetworkError message:b'"), result.stderr
    assert mock.state("ins-r8hr2upy") == "RUNNING"


@pytest.mark.parametrize("mode", MODES)
def test_what_the_mock_receives(mock, recorder, home, mode):
    result = cvm(home, recorder.port, mode, "TerminateInstances", {"InstanceIds": ["ins-r8hr2upy"]})
    succeeded(result)
    [(line, headers, body)] = recorder.requests()
    if mode == "direct":
        # The scheme inside Host: tccli's quirk, signed that way.
        assert line == "POST / HTTP/1.1"
        assert header(headers, "Host") == f"http://127.0.0.1:{recorder.port}"
    else:
        assert line == f"POST http://{REAL_HOST}/ HTTP/1.1"
        assert header(headers, "Host") == f"http://{REAL_HOST}"
    assert header(headers, "X-TC-RequestClient").endswith("_CLI_3.1.189.1")
    assert "/cvm/tc3_request, SignedHeaders=content-type;host, Signature=" in header(headers, "Authorization")
    assert body == b'{"InstanceIds": ["ins-r8hr2upy"]}'
