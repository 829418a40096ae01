"""A `terminus serve` process: started on a free loopback port, found through its `--ready-file`, stopped on exit."""

import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Union

from ._binary import find_terminus_bin
from .client import Client

# The default world's Tencent Cloud account: the documentation's example key pair (it opens nothing real).
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
REGION = "ap-guangzhou"
# How long the server may take to listen.
START_SECONDS = 30


class TerminusServer:
    """A running `terminus serve`. `endpoint` is `127.0.0.1:PORT` (what the SDKs' `HttpProfile(endpoint=…)` takes),
    `url` is `http://127.0.0.1:PORT`; `secret_id`, `secret_key` and `region` are the default world's account.
    Control calls: `client`, or the shorthands below."""

    secret_id = SECRET_ID
    secret_key = SECRET_KEY
    region = REGION

    def __init__(self, process: "subprocess.Popen[bytes]", url: str, scratch: str):
        self._process = process
        self._scratch = scratch
        self.url = url
        self.endpoint = url.split("://", 1)[1]
        self.client = Client(url)
        self.scenario_id: Optional[str] = None

    def __repr__(self) -> str:
        return f"TerminusServer({self.url!r})"

    def __enter__(self) -> "TerminusServer":
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def put_world(self, world: Union[Dict[str, Any], str, "os.PathLike[str]"]) -> Any:
        return self.client.put_world(world)

    def load_scenario(self, scenario_id: str) -> Dict[str, Any]:
        """Loads a scenario (`terminus scenarios`); `verdict()` then judges the calls made since."""
        self.scenario_id = scenario_id
        return self.client.scenario(scenario_id)

    def verdict(self, scenario_id: Optional[str] = None) -> Dict[str, Any]:
        scenario_id = scenario_id or self.scenario_id
        if scenario_id is None:
            raise ValueError("no scenario loaded: call load_scenario(id) first")
        return self.client.verdict(scenario_id)

    def reset(self) -> Any:
        return self.client.reset()

    def journal(self, **filters: Any) -> List[Dict[str, Any]]:
        return self.client.journal(**filters)

    def client_profile(self, **http: Any) -> Any:
        """A tencentcloud-sdk-python `ClientProfile` pointed at this server (plain HTTP, direct addressing)."""
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=self.endpoint, **http))

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its scratch directory."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        shutil.rmtree(self._scratch, ignore_errors=True)


def start(world: Optional[Union[str, "os.PathLike[str]"]] = None, args: Sequence[str] = ()) -> TerminusServer:
    """Starts `terminus serve` on a free loopback port (`--listen 127.0.0.1:0`) and waits until its `--ready-file`
    names the URL. `world` is a world file (default: the built-in world, on the machine's clock)."""
    scratch = tempfile.mkdtemp(prefix="terminus-")
    ready = os.path.join(scratch, "url")
    command = [find_terminus_bin(), "serve", "--listen", "127.0.0.1:0", "--ready-file", ready, "-q", *args]
    if world is not None:
        command += ["--world", os.fspath(world)]
    log_path = os.path.join(scratch, "serve.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + START_SECONDS
    while True:
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            with open(ready) as file:
                return TerminusServer(process, file.read().strip(), scratch)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            with open(log_path, errors="replace") as file:
                output = file.read()
            shutil.rmtree(scratch, ignore_errors=True)
            raise RuntimeError(f"terminus serve did not start (exit {process.returncode}): {output}")
        time.sleep(0.02)
