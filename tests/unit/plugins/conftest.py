# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures every unit test shares: mocked HTTP, a clock that moves only when slept
on, an API client, and a module's main() run in-process against the mock."""

from __future__ import annotations

import contextlib
import functools
import json

import pytest
import responses
from ansible.module_utils import basic
from ansible.module_utils.common import warnings

from ansible_collections.cloud66.cloud.plugins.module_utils import _module
from ansible_collections.cloud66.cloud.plugins.module_utils._client import Cloud66Client, Deadline
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    BASE,
    GROUP,
    STACK,
    TOKEN,
)

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    patch_module_args = None

ENVIRONMENT = ("CLOUD66_API_TOKEN", "CLOUD66_API_URL", "CLOUD66_ACCOUNT_ID")
CONNECTION = dict(api_token=TOKEN, api_url=BASE, stack_id=STACK, server_group_id=GROUP)


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def client_sleeps():
    return []


@pytest.fixture
def client(client_sleeps):
    """A client whose retry sleeps are recorded instead of slept."""
    return Cloud66Client(BASE, TOKEN, retries=3, sleep=client_sleeps.append)


@pytest.fixture
def run_module(api, clock, monkeypatch, capsys):
    """Run a module's ``main()`` in-process against ``api``; return its result as
    Ansible receives it.

    ``run_module(cloud66_database, name="shop", check_mode=True, diff=True)``: the
    options come on top of a token, the mock's URL, stack s1 and server group 42; an
    option given as None is left out. Every wait and retry sleeps on ``clock``. The
    output must never hold the token, whatever the test.
    """
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    # The wait budget and the client of every module are built in _module.
    on_clock = dict(clock=clock, sleep=clock.sleep)
    monkeypatch.setattr(_module, "Deadline", functools.partial(Deadline, **on_clock))
    client = functools.partial(Cloud66Client, **on_clock)
    monkeypatch.setattr(_module, "Cloud66Client", client)

    def run(module, check_mode=False, diff=False, **options):
        args = dict(CONNECTION, **options)
        args = dict((key, value) for key, value in args.items() if value is not None)
        args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
        # ansible-core collects warnings module-wide: no run sees the last one's.
        for name in ("_global_warnings", "_global_deprecations"):
            monkeypatch.setattr(warnings, name, type(getattr(warnings, name))())
        capsys.readouterr()
        with _module_args(monkeypatch, args), pytest.raises(SystemExit) as exited:
            module.main()
        output = capsys.readouterr().out
        result = json.loads(output)
        assert (exited.value.code not in (0, None)) == bool(result.get("failed"))
        token = str(args.get("api_token", "")).strip()
        assert not token or token not in output
        # ansible-core 2.19 and later send a warning as a summary for the controller.
        result["warnings"] = [
            text if isinstance(text, str) else text["event"]["msg"]
            for text in result.get("warnings", [])
        ]
        return result

    return run


def _module_args(monkeypatch, args):
    """Hand ``args`` to the next AnsibleModule as this ansible-core reads them."""
    if patch_module_args is not None:
        return patch_module_args(args)
    encoded = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", encoded)
    return contextlib.nullcontext()
