"""Run every nox session of noxfile.py in three lanes side by side, then sum up.

This is what `scripts/test` (and so CI) runs with no arguments. The first lane's
output streams; the other two are written to files and shown when they end.
Every session runs even when another failed; the exit status is non-zero if any
session failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lanes of about equal length (measured: each about 25 minutes on two cores), so the three finish together.
# The first holds integration-2.19, the longest session (it alone runs the fault matrix).
LANES = {
    "main": ["sanity-2.19", "units-2.19", "integration-2.19"],
    "oldest": ["simulator", "sanity-2.16", "units-2.16", "integration-2.16", "model"],
    "newest": [
        "sanity-2.21",
        "units-2.21",
        "integration-2.21",
        "docs",
        "changelog",
        "lint",
        "ee",
        "galaxy",
        "bench",
    ],
}


def nox(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", "--noxfile", str(ROOT / "noxfile.py"), *args]


def default_sessions() -> set[str]:
    listed = subprocess.run(nox("--list", "--json"), capture_output=True, text=True, check=True)
    return {
        entry["session"]
        for entry in json.loads(listed.stdout)
        if entry.get("call_spec") is not None
    }


def check_lanes() -> None:
    """Every default session runs in exactly one lane."""
    planned = [name for sessions in LANES.values() for name in sessions]
    defaults = default_sessions()
    unplanned = defaults - set(planned)
    unknown = set(planned) - defaults
    twice = {name for name in planned if planned.count(name) > 1}
    if unplanned or unknown or twice:
        sys.exit(
            "scripts/harness/suite.py: LANES does not match noxfile.py's sessions: "
            f"not in a lane: {sorted(unplanned)}; unknown: {sorted(unknown)}; twice: {sorted(twice)}"
        )


def main() -> int:
    check_lanes()
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="cloud66-lanes-"))
    background = {}
    for lane, sessions in list(LANES.items())[1:]:
        log = logs / f"{lane}.log"
        with log.open("wb") as output:
            background[lane] = (
                subprocess.Popen(
                    nox("-s", *sessions), stdout=output, stderr=subprocess.STDOUT, cwd=ROOT
                ),
                log,
            )
        print(f"[suite] lane {lane} started in the background: {' '.join(sessions)}", flush=True)
    first_lane, first_sessions = next(iter(LANES.items()))
    results = {
        first_lane: subprocess.run(nox("-s", *first_sessions), cwd=ROOT, check=False).returncode
    }
    for lane, (process, log) in background.items():
        results[lane] = process.wait()
        print(f"\n{'=' * 78}\n== lane {lane} (ran in the background)\n{'=' * 78}", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
    print(f"\n{'=' * 78}\n== summary ({time.monotonic() - started:.0f} s in all)\n{'=' * 78}")
    for lane, returncode in results.items():
        print(f"{'PASS' if returncode == 0 else 'FAIL'}  lane {lane}: {' '.join(LANES[lane])}")
    failed = [lane for lane, returncode in results.items() if returncode]
    print(f"{len(results) - len(failed)} lanes passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
