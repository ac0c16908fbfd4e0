"""No warning goes unnoticed: the sessions that run playbooks fail on a warning nobody declared.

ansible-core runs with the callback in scripts/harness/callback/ (warning_record), which appends every
``[WARNING]`` and ``[DEPRECATION WARNING]`` it shows to a record file, with the task that was running and
whether that task declared it in ``expected_warnings``. The integration sessions reach it through the
``integration.cfg`` they write (ansible-test hands that file, not our environment, to every ansible process
of every target, runme.sh ones included); the demo and the ee session through the environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import nox

CALLBACK_DIR = Path("scripts") / "harness" / "callback"

# ansible-test runs each target in <temp>/<target>-<8 characters>-<suffix>/ under tests/output/.tmp/integration.
TARGET_DIR = re.compile(r"/integration/(?P<target>[^/]+)-[a-z0-9_]{8}-[^/]+/tests/integration(/|$)")
# A path in a session's copy of the checkout, or in ansible-test's copy of a target, shown from the checkout.
COPY_PREFIX = re.compile(
    r"/\S*/ansible_collections/cloud66/cloud/(tests/output/\.tmp/integration/[^/\s]+/)?"
)

# The target that shows a warning and a deprecation warning on purpose, and declares both.
PROBE_TARGET = "warning_check"
PROBE_WARNINGS = ("warning_check probe: a warning", "warning_check probe: a deprecation")


def record_path(base: Path) -> Path:
    """A fresh record file in base (the directory must exist)."""
    path = base / "warnings.jsonl"
    path.unlink(missing_ok=True)
    path.touch()
    return path


def integration_cfg(source: Path, record: Path) -> str:
    """The ansible.cfg that ansible-test uses for every target (tests/integration/integration.cfg)."""
    return (
        "# Written by the integration session for this run: every warning ansible shows is recorded.\n"
        "[defaults]\n"
        f"callback_plugins = {source / CALLBACK_DIR}\n"
        "\n"
        "[warning_record]\n"
        f"record = {record}\n"
    )


def playbook_env(source: Path, record: Path) -> dict[str, str]:
    """The environment that makes ansible-playbook record its warnings."""
    return {
        "ANSIBLE_CALLBACK_PLUGINS": str(source / CALLBACK_DIR),
        "CLOUD66_WARNING_RECORD": str(record),
    }


def integration_target(entry: dict) -> str:
    """The integration target whose run showed the warning, from its working directory."""
    match = TARGET_DIR.search(entry.get("cwd") or "")
    return match.group("target") if match else f"outside any target ({entry.get('cwd')})"


def read(record: Path) -> list[dict]:
    """The record's entries, one per warning shown."""
    lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
    return [json.loads(line) for line in lines if line.strip()]


def check_probe(session: nox.Session, record: Path) -> None:
    """The warning_check target's two warnings were recorded, as expected: the check sees what ansible shows."""
    seen = {
        entry["expected_by"]
        for entry in read(record)
        if integration_target(entry) == PROBE_TARGET and entry.get("expected_by")
    }
    missing = [text for text in PROBE_WARNINGS if text not in seen]
    if missing:
        session.error(
            f"the {PROBE_TARGET} target's warnings did not reach the warning record as expected ones: "
            f"{'; '.join(missing)}. Is scripts/harness/callback/warning_record.py loaded on this ansible-core?"
        )


def report(session: nox.Session, record: Path, where: Callable[[dict], str]) -> int:
    """Show the record's warnings, unexpected ones in full; return how many were unexpected."""
    entries = read(record)
    unexpected = [entry for entry in entries if not entry.get("expected_by")]
    expected = len(entries) - len(unexpected)
    session.log(
        f"warnings from ansible-core: {len(unexpected)} unexpected, {expected} expected"
        " (declared in expected_warnings by the task that provokes them)"
    )
    for entry in unexpected:
        task = (
            f"task '{entry['task']}' ({entry['task_path']})"
            if entry.get("task")
            else "before any task"
        )
        text = f"UNEXPECTED WARNING in {where(entry)}, {task}:\n{entry['warning']}"
        print(COPY_PREFIX.sub("", text).replace("\n", "\n    "))
    return len(unexpected)


def fail_on(session: nox.Session, unexpected: int) -> None:
    """Fail the session if report() found unexpected warnings."""
    if unexpected:
        session.error(
            f"ansible-core showed {unexpected} unexpected warning(s), listed above. Fix what provokes them; "
            "a test that provokes one on purpose lists it in expected_warnings on the task that does"
        )


def check(session: nox.Session, record: Path, where: Callable[[dict], str]) -> None:
    """Show the record's warnings and fail the session on any that no task declared."""
    fail_on(session, report(session, record, where))
