"""`python -m terminus_mock ARGS…` runs `terminus ARGS…`."""

import os
import sys

from ._binary import find_terminus_bin

if __name__ == "__main__":
    binary = find_terminus_bin()
    if os.name == "nt":
        import subprocess

        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])
