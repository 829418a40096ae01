"""terminus-mock: the `terminus` mock in a wheel, a client for its control API, and a pytest plugin.

Public: `find_terminus_bin` (where the wheel put the binary), `Client` (the control API), `TerminusServer` (a
`terminus serve` process this package started) and `start` (which starts one). The pytest plugin is
`terminus_mock.plugin`, registered through the `pytest11` entry point; its fixture is `terminus_server`.
"""

from ._binary import find_terminus_bin
from .client import Client, ControlError
from .server import TerminusServer, start

__all__ = ["Client", "ControlError", "TerminusServer", "find_terminus_bin", "start"]
