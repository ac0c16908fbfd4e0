# Stand-in for the get-pip.py bootstrap script that ansible-test downloads.
#
# `ansible-test sanity --venv` (and any run with --requirements) creates a
# virtual environment without pip and then executes a "get-pip" script that it
# first tries to download from a host this project's machines cannot reach.
# When a copy already exists at ~/.ansible/test/cache/get_pip_<X_Y>.py it uses
# that copy instead; the sanity sessions (scripts/harness/common.py) copy this
# file to the path ansible-test names.
#
# ansible-test runs the script as __main__ inside the new environment, passing
# pip-install style arguments such as:
#     --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel
# The real get-pip.py understands --no-setuptools/--no-wheel; plain
# `pip install` does not, so they are dropped here.
"""Bootstrap pip into the running interpreter's environment from the local wheel."""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = frozenset(("--no-setuptools", "--no-wheel"))


def main() -> int:
    """Install the bundled pip, then let it install the requested packages."""
    # ensurepip wipes PIP_* variables and points PIP_CONFIG_FILE at /dev/null
    # in os.environ; keep the caller's pip settings (index, certificates,
    # constraints) for the second step.
    saved_environment = dict(os.environ)

    ensurepip.bootstrap()

    arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]

    if not arguments:
        return 0

    command = [sys.executable, "-m", "pip", "install", "--quiet"] + arguments

    return subprocess.run(command, env=saved_environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
