"""Shared by the Python SDK and tccli tests: the running mock, its control API, the error scenarios of `terminus
scenarios --format json`, and a recording relay.

`tests/clients/run` starts `terminus serve --world tests/clients/world.toml` and passes its address in
`TERMINUS_URL` (`http://127.0.0.1:PORT`) and the binary in `TERMINUS_BIN`. Every test starts from world.toml again
(PUT /__terminus/world), or from a scenario's world (PUT /__terminus/scenario/ID), so tests are independent and may
run in any order.
"""

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORLD = (HERE / "world.toml").read_text()
# The keys of world.toml's accounts, as the clients are given them.
ACCOUNTS = {
    "main": {"secretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
    "temp": {"secretId": "AKIDtempTOKENz8krbsJ5yKBZQpn7EXAMPLE", "secretKey": "tempTOKENGu5t9xGARNpq86cd98jEXAMPLE", "token": "token-for-the-client-tests-0001"},
    "temp-without-token": {"secretId": "AKIDtempTOKENz8krbsJ5yKBZQpn7EXAMPLE", "secretKey": "tempTOKENGu5t9xGARNpq86cd98jEXAMPLE"},
    "wrong-key": {"secretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3WRONGKEY"},
    "unknown-id": {"secretId": "AKIDnoSUCHkeyz8krbsJ5yKBZQpn74EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
    "not-akid": {"secretId": "XYZz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "secretKey": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"},
    "disabled": {"secretId": "AKIDdisabledKEYz8krbsJ5yKBZQpEXAMPLE", "secretKey": "disabledKEYGu5t9xGARNpq86cd9EXAMPLE"},
    "mfa-failure": {"secretId": "AKIDmfaFAILUREz8krbsJ5yKBZQpEXAMPLE", "secretKey": "mfaFAILUREGu5t9xGARNpq86cd98EXAMPLE"},
    "unpaid": {"secretId": "AKIDunpaidORDERz8krbsJ5yKBZQEXAMPLE", "secretKey": "unpaidORDERGu5t9xGARNpq86cd9EXAMPLE"},
    "return-quota": {"secretId": "AKIDreturnQUOTAz8krbsJ5yKBZQEXAMPLE", "secretKey": "returnQUOTAGu5t9xGARNpq86cd9EXAMPLE"},
}
REGION = "ap-guangzhou"
# The clients' real host: in proxy addressing they are configured for it and the mock is their HTTP proxy.
REAL_HOST = "cvm.tencentcloudapi.com"
# What request ids look like: lowercase UUID version 4, as the real gateway's (shared/reference/real-wire.md §6.4).
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Direct addressing must not go through a proxy the machine happens to have: clear every proxy variable for this
# process and the tccli processes it starts. Proxy addressing sets what it needs explicitly.
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY")
for _name in PROXY_VARIABLES:
    os.environ.pop(_name, None)


def _mock_url():
    url = os.environ.get("TERMINUS_URL")
    if not url:
        pytest.exit("TERMINUS_URL is not set: run these tests with tests/clients/run, which starts the mock", 2)
    return url.rstrip("/")


def control_headers(body=None):
    """What a control call carries: a Content-Type no browser sends cross-origin without asking (the mock refuses
    a POST in text/plain or a form type, and urllib's default is a form), and the control token when the mock
    needs one (TERMINUS_CONTROL_TOKEN: `terminus serve` off loopback)."""
    headers = {"Content-Type": "application/toml" if isinstance(body, bytes) else "application/json"}
    token = os.environ.get("TERMINUS_CONTROL_TOKEN")
    if token:
        headers["X-Terminus-Token"] = token
    return headers


# How much older than its step says a signature from the past is made when the step expects it refused (Mock.before).
SKEW_MARGIN = 30


class Mock:
    """The mock's control API (on the mock's own port; see control_headers)."""

    def __init__(self, url):
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        # Never through a proxy, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method, path, body=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=control_headers(body))
        with self._opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def reset(self):
        """Puts world.toml back: state, clock (real), rate-limit windows, faults, request ids."""
        return self._call("PUT", "/__terminus/world", WORLD.encode())

    def world(self):
        return self._call("GET", "/__terminus/world")

    def instance(self, instance_id):
        return self._call("GET", f"/__terminus/instances/{instance_id}")

    def state(self, instance_id):
        return self.instance(instance_id)["state"]

    def clock(self, **change):
        """`set=unix_seconds` or `advance=seconds`."""
        return self._call("POST", "/__terminus/clock", change)

    def timings(self, timings):
        """The lifecycle's timings: "immediate" or {"launch": seconds, …} (PUT /__terminus/timings)."""
        return self._call("PUT", "/__terminus/timings", {"timings": timings})

    def fault(self, **spec):
        return self._call("POST", "/__terminus/faults", spec)

    def load(self, scenario):
        """Loads a scenario of the export: its world, its clock fixed at the machine's time, its verdict to come."""
        loaded = self._call("PUT", f"/__terminus/scenario/{scenario['id']}")
        assert loaded["scenario"] == scenario["id"]
        return loaded

    def verdict(self, scenario):
        """The server's verdict on the calls since `load`: every answer and the last states as the steps say."""
        verdict = self._call("GET", f"/__terminus/scenario/{scenario['id']}/verdict")
        assert verdict["passed"], json.dumps(verdict, indent=2)
        return verdict

    def before(self, step):
        """Moves the world's clock as the step says: its `advance-seconds`, and a signature `skew-seconds` in the
        past as the server's clock that much ahead (a client signs with the machine's time, a little after the
        scenario fixed the clock: a refused signature is made SKEW_MARGIN seconds older still, so it stays out of
        the window however long the client takes to start)."""
        skew = step["skew-seconds"]
        if skew < 0 and step["expect"]["error"]:
            skew -= SKEW_MARGIN
        advance = step["advance-seconds"] - skew
        if advance:
            self.clock(advance=advance)


@pytest.fixture(scope="session")
def mock():
    return Mock(_mock_url())


@pytest.fixture(autouse=True)
def fresh_world(mock):
    mock.reset()
    yield


def _export():
    binary = os.environ.get("TERMINUS_BIN")
    if not binary:
        pytest.exit("TERMINUS_BIN is not set: run these tests with tests/clients/run", 2)
    done = subprocess.run([binary, "scenarios", "--format", "json"], check=True, capture_output=True, timeout=60)
    return json.loads(done.stdout)


# `terminus scenarios --format json`: every scenario of the binary under test (scenarios.schema.json).
EXPORT = _export()
# The SDKs' signMethod for each exported sign form they have.
SIGN_METHODS = {"tc3": "TC3-HMAC-SHA256", "hmac-sha1": "HmacSHA1", "hmac-sha256": "HmacSHA256"}


def sdk_sends(step):
    """Whether an SDK (Python or Node) sends this step as a user would: its sign forms and methods, no tampering,
    fixed nonce or extra header, an answer expected (HTTP 200), a version; a signature from the past is made by
    moving the server's clock ahead (Mock.before)."""
    return (step["sign"] in SIGN_METHODS and step["method"] in ("POST", "GET") and step["tamper"] is None
            and step["skew-seconds"] <= 0 and step["nonce"] is None and not step["headers"]
            and not step["expect"]["dropped"] and step["version"] is not None and step["expect"]["status"] == 200)


def error_scenarios(sends, ids=None):
    """The Tencent API 3.0 scenarios of the export in which a call is refused and whose every step `sends`
    (those named in `ids`, all of which must be there), as pytest params. A skewed signature only in the last step:
    the clock moved for it stays moved."""
    found = [s for s in EXPORT["scenarios"]
             if s["provider"] == "tencent" and (ids is None or s["id"] in ids) and all(map(sends, s["steps"]))
             and any(step["expect"]["error"] for step in s["steps"])
             and not any(step["skew-seconds"] for step in s["steps"][:-1])]
    if ids is not None:
        missing = set(ids) - {s["id"] for s in found}
        assert not missing, f"not in the export, or not sendable: {sorted(missing)}"
    return [pytest.param(s, id=s["id"]) for s in found]


def codes_of(params):
    """The error codes the scenarios of `error_scenarios` expect."""
    return {step["expect"]["error"] for p in params for step in p.values[0]["steps"] if step["expect"]["error"]}


def step_keys(step):
    """A step's credentials as ACCOUNTS gives them."""
    keys = step["credentials"]
    found = {"secretId": keys["secret-id"], "secretKey": keys["secret-key"]}
    if keys["token"]:
        found["token"] = keys["token"]
    return found


# The codes each client proved as its own error when its cases were tests/clients/cases.json (issue 12): the
# export must still give it at least these.
CVM_CODES = {
    "AuthFailure.InvalidSecretId", "AuthFailure.MFAFailure", "AuthFailure.SecretIdNotFound",
    "AuthFailure.SignatureExpire", "AuthFailure.SignatureFailure", "AuthFailure.TokenFailure",
    "FailedOperation.InvalidInstanceApplicationRoleEmr", "FailedOperation.Unreturnable", "InternalError",
    "InvalidAccount.UnpaidOrder", "InvalidAction", "InvalidInstanceId.Malformed", "InvalidInstanceId.NotFound",
    "InvalidInstanceNotSupportedPrepaidInstance", "InvalidParameter", "InvalidParameterValue",
    "InvalidParameterValue.InstanceIdMalformed", "InvalidParameterValue.LimitExceeded",
    "LimitExceeded.UserReturnQuota", "MissingParameter", "MutexOperation.TaskRunning", "NoSuchVersion",
    "OperationDenied.InstanceOperationInProgress", "RequestLimitExceeded", "UnknownParameter",
    "UnsupportedOperation.InstanceChargeType", "UnsupportedOperation.InstanceMixedPricingModel",
    "UnsupportedOperation.InstanceStateBanning", "UnsupportedOperation.InstanceStateFreezing",
    "UnsupportedOperation.InstanceStatePending", "UnsupportedOperation.InstanceStateStopping",
    "UnsupportedOperation.InstanceStateTerminated", "UnsupportedOperation.InstancesProtected",
    "UnsupportedOperation.InvalidInstancesOwner", "UnsupportedOperation.RedHatInstanceTerminateUnsupported",
    "UnsupportedOperation.RedHatInstanceUnsupported", "UnsupportedOperation.Region",
    "UnsupportedOperation.SpecialInstanceType", "UnsupportedRegion",
}
# tccli refuses an unknown action, parameter or version before sending.
TCCLI_CODES = CVM_CODES - {"UnknownParameter", "InvalidAction", "NoSuchVersion"}
# The scenarios whose outcome depends on how the request is signed or encoded, run under every signing.
SIGNING_SCENARIOS = [
    "tencent/terminate-instances/unknown-instance-is-not-found",
    "tencent/terminate-instances/more-than-100-ids-exceed-the-limit",
    "tencent/terminate-instances/duplicated-id-is-an-invalid-value",
    "tencent/terminate-instances/unknown-region-is-unsupported",
    "tencent/terminate-instances/wrong-key-fails-the-signature",
    "tencent/terminate-instances/unknown-secret-id-is-not-found",
    "tencent/terminate-instances/missing-token-of-a-temporary-key-fails",
    "tencent/terminate-instances/signature-five-minutes-old-has-expired",
]


class Recorder:
    """A TCP relay in front of the mock that keeps every byte clients send, to show what the mock receives.

    The bytes reach the mock unchanged (a signature made for the recorder's address verifies at the mock).
    """

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sent = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            record = bytearray()
            with self._lock:
                self.sent.append(record)
            threading.Thread(target=self._pump, args=(client, upstream, record), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pump(source, sink, record):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if record is not None:
                    record.extend(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
                try:
                    sock.shutdown(how)
                except OSError:
                    pass

    def requests(self):
        """Every request received, in order: (request line, [(header, value)…], body). A CONNECT is one too."""
        with self._lock:
            streams = [bytes(record) for record in self.sent]
        found = []
        for data in streams:
            while data:
                head, sep, rest = data.partition(b"\r\n\r\n")
                if not sep:
                    break
                lines = head.decode("latin-1").split("\r\n")
                headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
                length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
                found.append((lines[0], headers, rest[:length]))
                data = rest[length:]
        return found

    def close(self):
        self._closed = True
        self.server.close()


@pytest.fixture
def recorder(mock):
    relay = Recorder(mock.port)
    yield relay
    relay.close()


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[0] if values else None
