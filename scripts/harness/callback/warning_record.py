"""An ansible callback of the test harness (not part of the collection): it records every warning shown.

The harness points ansible at this directory (``callback_plugins``) in the integration sessions, the demo and
the ee session; the callback loads itself, without being enabled. It appends one line of JSON per
``[WARNING]`` or ``[DEPRECATION WARNING]`` that ansible-core shows to the file named by its ``record`` option,
with the task that was running and whether that task declared the warning as expected.

A task (or a block or an include around it: any level whose variables the task inherits) declares the warnings
it provokes on purpose in the variable ``expected_warnings``: a list of regular expressions, searched in the
warning's text with its line breaks folded into spaces. They are read as written, never templated.

The harness (scripts/harness/warning_check.py) reads the file and fails the session on any warning not
declared. What the callback sees is what ansible shows on any output: ansible-core routes every warning,
deprecation and module warning through ``Display.display`` in the controller's main process, on 2.16 as on
2.19 and later, so the callback wraps that method of the one Display object. Warnings shown before callbacks
load (the command line, the inventory, parsing the playbook) are in Display's own memory of what it has shown;
the callback records those when it starts.
"""

from __future__ import annotations

import json
import os
import re

from ansible import constants
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: warning_record
type: aggregate
short_description: Records every warning ansible-core shows (cloud66.cloud's test harness)
description:
  - Appends each C([WARNING]) and C([DEPRECATION WARNING]) shown to a file, one line of JSON each, with the
    running task and whether the task listed the warning in its C(expected_warnings) variable.
  - Turns deprecation warnings on, which ansible-test turns off.
options:
  record:
    description: The file to append to; nothing is recorded without it.
    ini:
      - section: warning_record
        key: record
    env:
      - name: CLOUD66_WARNING_RECORD
"""

KINDS = ("[WARNING]", "[DEPRECATION WARNING]")
# ansible-core 2.19 and later show this warning with every deprecation warning, which is recorded itself.
DEPRECATION_HINT = "[WARNING]: Deprecation warnings can be disabled"
EXPECTED_VARIABLE = "expected_warnings"


def _found(pattern, text):
    """Whether the declared pattern is in the text; a pattern that is no regular expression never is."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "warning_record"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = os.getpid()
        self._task = None
        self._playbook = None
        # Until ansible sets the options, the record's path is unknown: entries wait here.
        self._pending: list[dict] | None = []
        # ansible-test sets ANSIBLE_DEPRECATION_WARNINGS=false; deprecations count as warnings here.
        # ansible-core 2.16 reads the setting once, into its constants; later ones read it at every use.
        os.environ["ANSIBLE_DEPRECATION_WARNINGS"] = "true"
        if hasattr(constants, "DEPRECATION_WARNINGS"):
            constants.DEPRECATION_WARNINGS = True
        shown = self._display
        for message in [*getattr(shown, "_warns", ()), *getattr(shown, "_deprecations", ())]:
            self._seen(message)
        show = shown.display

        def display(msg, *args, **kwargs):
            # Worker processes hand their messages to the main process, which shows (and records) them.
            if os.getpid() == self._pid:
                self._seen(msg)
            return show(msg, *args, **kwargs)

        shown.display = display

    def set_options(self, *args, **kwargs):
        super().set_options(*args, **kwargs)
        pending, self._pending = self._pending or [], None
        for entry in pending:
            self._write(entry)

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.abspath(playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        self._task = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task = task

    def v2_playbook_on_handler_task_start(self, task):
        self._task = task

    def v2_playbook_on_cleanup_task_start(self, task):
        self._task = task

    def _seen(self, message):
        text = message.strip() if isinstance(message, str) else ""
        if not text.startswith(KINDS) or text.startswith(DEPRECATION_HINT):
            return
        folded = " ".join(text.split())
        task = self._task
        expected = self._expected(task)
        entry = {
            "warning": text,
            "expected_by": next((pattern for pattern in expected if _found(pattern, folded)), None),
            "task": task.get_name() if task else None,
            "task_path": task.get_path() if task else None,
            "playbook": self._playbook,
            "cwd": os.getcwd(),
            "pid": self._pid,
        }
        if self._pending is not None:
            self._pending.append(entry)
        else:
            self._write(entry)

    @staticmethod
    def _expected(task):
        if task is None:
            return []
        declared = task.get_vars().get(EXPECTED_VARIABLE) or []
        if isinstance(declared, str):
            declared = [declared]
        return [str(pattern) for pattern in declared]

    def _write(self, entry):
        path = self.get_option("record")
        if not path:
            return
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        # One write per line: concurrent ansible-playbook runs append to the same file.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
