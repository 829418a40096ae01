"""Where the `terminus` binary is: the wheel installs it into the environment's scripts directory, as any console
script (maturin `bindings = "bin"`). `TERMINUS_BIN` names another one (a checkout's `target/release/terminus`)."""

import os
import shutil
import sys
import sysconfig


def find_terminus_bin() -> str:
    """The path of the `terminus` binary; `FileNotFoundError` naming every place looked at when there is none."""
    override = os.environ.get("TERMINUS_BIN")
    if override:
        if os.path.isfile(override):
            return override
        raise FileNotFoundError(f"TERMINUS_BIN names {override!r}, which is not a file")
    name = "terminus" + (sysconfig.get_config_var("EXE") or "")
    candidates = [os.path.join(sysconfig.get_path("scripts"), name)]
    if sys.version_info >= (3, 10):
        user = sysconfig.get_preferred_scheme("user")
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=user), name))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise FileNotFoundError(f"no {name} binary in {candidates} or on PATH; set TERMINUS_BIN")
