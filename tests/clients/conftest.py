"""Shared by the Python SDK and tccli tests: the running mock, its control API, the cases, and a recording relay.

`tests/clients/run` starts `terminus serve --world tests/clients/world.toml` and passes its address in
`TERMINUS_URL` (`http://127.0.0.1:PORT`). Every test starts from world.toml again (PUT /__terminus/world), so
tests are independent and may run in any order.
"""

import json
import os
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORLD = (HERE / "world.toml").read_text()
CASES = json.loads((HERE / "cases.json").read_text())
ACCOUNTS = CASES["accounts"]
REGION = CASES["region"]
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

    def prepare(self, case):
        """Does what a case needs done through the control API before the client's call."""
        setup = case.get("setup")
        if setup == "expire":
            # The client signs with the machine's time; the mock is now 10 minutes later (window: 5 minutes).
            self.clock(advance=600)
        elif setup == "rate-limit":
            # Stop the clock so that every call falls in the same second of the world's clock.
            self.clock(set=int(time.time()))
        elif setup == "fault":
            self.fault(kind="error", action="TerminateInstances", count=1)
        elif setup is not None:
            raise ValueError(f"unknown setup {setup!r}")


@pytest.fixture(scope="session")
def mock():
    return Mock(_mock_url())


@pytest.fixture(autouse=True)
def fresh_world(mock):
    mock.reset()
    yield


def case_ids(case):
    if "many" in case:
        return [f"ins-{n:08d}" for n in range(case["many"])]
    return list(case["ids"])


def case_params(case):
    """The action parameters of a case's call."""
    return case["params"] if "params" in case else {"InstanceIds": case_ids(case)}


def is_generic(case):
    """Whether the call needs the SDK's generic client (another action or version, parameters as given)."""
    return any(key in case for key in ("action", "version", "params"))


def error_cases(names=None, client=None):
    """The cases as pytest params: those named (default all), less those `client` cannot send (`skip`)."""
    cases = [c for c in CASES["errors"]
             if (names is None or c["name"] in names) and client not in c.get("skip", {})]
    return [pytest.param(case, id=case["name"]) for case in cases]


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
