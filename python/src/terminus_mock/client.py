"""A client for terminus's control API (`/__terminus/…` on the mock's own port), with the standard library only.

Every method is one control call and returns its JSON answer; an answer that is not 2xx raises `ControlError` with
the status and the server's message. Bodies go as JSON (a world may also go as the TOML of a world file).
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Union

# How long one control call may take: the server answers them at once, so this only bounds a dead one.
TIMEOUT_SECONDS = 10


class ControlError(Exception):
    """A control call that was not answered 2xx."""

    def __init__(self, method: str, path: str, status: int, body: str):
        super().__init__(f"{method} /__terminus/{path}: HTTP {status}: {body}")
        self.status = status
        self.body = body


class Client:
    """The control API of a terminus server at `url` (`http://127.0.0.1:18080`). `token` is sent as
    `X-Terminus-Token` (needed off loopback; default `TERMINUS_CONTROL_TOKEN` from the environment)."""

    def __init__(self, url: str, token: Optional[str] = None):
        self.url = url.rstrip("/")
        self._token = token if token is not None else os.environ.get("TERMINUS_CONTROL_TOKEN")
        # The control API is on loopback: a proxy from the environment must not take these calls elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def call(self, method: str, path: str, body: Union[None, bytes, Dict[str, Any]] = None,
             content_type: str = "application/json") -> Any:
        """One control call: `path` below `/__terminus/`; `body` a dict (sent as JSON) or bytes."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Content-Type": content_type}
        if self._token:
            headers["X-Terminus-Token"] = self._token
        request = urllib.request.Request(f"{self.url}/__terminus/{path}", data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=TIMEOUT_SECONDS) as answer:
                text = answer.read()
        except urllib.error.HTTPError as error:
            raise ControlError(method, path, error.code, error.read().decode("utf-8", "replace")) from None
        return json.loads(text) if text else None

    def health(self) -> Dict[str, Any]:
        """`{"status": "ok", "version": …, "requests": N}`."""
        return self.call("GET", "health")

    def world(self) -> Dict[str, Any]:
        """The world's state in the world-file shape (keys `[REDACTED]`, tokens `[TOKEN]`)."""
        return self.call("GET", "world")

    def put_world(self, world: Union[Dict[str, Any], str, "os.PathLike[str]"]) -> Any:
        """Replaces the world: a dict in the world-file shape, or the path of a world file (`.toml` or `.json`).

        A world that names no `clock` stands still at 1700000000 (2023), where every SDK call is
        `AuthFailure.SignatureExpire`; SDKs sign with the machine's time, so a dict without one gets
        `{"mode": "real"}` here. A file is sent as written."""
        if isinstance(world, dict):
            world = dict(world)
            world.setdefault("clock", {"mode": "real"})
            return self.call("PUT", "world", world)
        path = os.fspath(world)
        with open(path, "rb") as file:
            data = file.read()
        kind = "application/json" if path.endswith(".json") else "application/toml"
        return self.call("PUT", "world", data, content_type=kind)

    def reset(self) -> Any:
        """Back to the world the server started with: state, clock, faults, request ids (the journal stays)."""
        return self.call("POST", "reset")

    def instance(self, instance_id: str) -> Dict[str, Any]:
        """One instance (CVM or Zenlayer Bare Metal), in the world-file shape."""
        return self.call("GET", f"instances/{urllib.parse.quote(instance_id, safe='')}")

    def clock(self, advance: Optional[int] = None, set: Optional[int] = None) -> Dict[str, Any]:
        """Reads the clock, or moves it by `advance` seconds, or sets it to `set` (Unix seconds): `{"now": …}`."""
        if advance is None and set is None:
            return self.call("GET", "clock")
        return self.call("POST", "clock", {"advance": advance} if advance is not None else {"set": set})

    def add_fault(self, **fault: Any) -> Any:
        """Adds one fault, in the world file's `[[faults]]` shape (`kind="error"`, `code=…`, `count=…`)."""
        return self.call("POST", "faults", fault)

    def clear_faults(self) -> Any:
        return self.call("DELETE", "faults")

    def timings(self, timings: Union[None, str, Dict[str, int]] = None) -> Dict[str, Any]:
        """Reads the lifecycle's timings, or sets them (`"immediate"`, or `{"stop": 30, …}` in seconds)."""
        if timings is None:
            return self.call("GET", "timings")
        return self.call("PUT", "timings", {"timings": timings})

    def scenario(self, scenario_id: str) -> Dict[str, Any]:
        """Loads a scenario of `terminus scenarios` and starts following it: `{"scenario", "now", "steps"}`."""
        return self.call("PUT", f"scenario/{scenario_id}")

    def verdict(self, scenario_id: str) -> Dict[str, Any]:
        """Whether the answers since `scenario(id)` and the world match the scenario's steps: `{"passed", …}`."""
        return self.call("GET", f"scenario/{scenario_id}/verdict")

    def journal(self, **filters: Any) -> List[Dict[str, Any]]:
        """The request journal's entries, oldest first. Filters: `provider`, `action`, `secret_id`, `verdict`,
        `code`, `since` (entries after that id), `limit` (the last N)."""
        query = urllib.parse.urlencode({name.replace("_", "-"): value for name, value in filters.items()
                                        if value is not None})
        return self.call("GET", "requests" + (f"?{query}" if query else ""))["requests"]

    def clear_journal(self) -> Any:
        return self.call("DELETE", "requests")
