"""A local, stateful simulator of the Cloud66 v3 API (stacks, server groups, databases, database users, actions).

It serves the API under ``/api/3`` and a control API under ``/_sim`` that tests use to reset state, change
timings, hold actions and list refreshes, inject faults and read the request log. Standard library only.

Run it with ``python tests/simulator/cloud66_sim.py --help`` or import :class:`Simulator` from this module (with
tests/simulator on ``sys.path``). This file is the command line and the import name; the simulator itself is the
``sim`` package beside it, split by concern (see ``sim/__init__.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sim.common import (
    ACTION_SHAPES,
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_FIXTURE,
    FIXTURE_DIR,
    PROFILES,
    SimError,
    is_loopback,
    iso_time,
    numeric_id,
)
from sim.control import handle_control, state
from sim.faults import FAULT_EFFECTS, ODD_ANSWERS, STATUS_EFFECTS, compile_fault
from sim.request import ApiRequest, normalize_api_path, parse_body
from sim.routes import ROUTES, match_route
from sim.server import Simulator
from sim.shapes import paginate
from sim.state import DEFAULT_CONFIG, Action, Group, World, load_fixture_file, validate_config

__all__ = [
    "ACTION_SHAPES",
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEFAULT_CONFIG",
    "DEFAULT_FIXTURE",
    "FAULT_EFFECTS",
    "FIXTURE_DIR",
    "ODD_ANSWERS",
    "PROFILES",
    "ROUTES",
    "STATUS_EFFECTS",
    "Action",
    "ApiRequest",
    "Group",
    "SimError",
    "Simulator",
    "World",
    "build_parser",
    "compile_fault",
    "handle_control",
    "is_loopback",
    "iso_time",
    "load_fixture_file",
    "main",
    "match_route",
    "normalize_api_path",
    "numeric_id",
    "paginate",
    "parse_body",
    "state",
    "validate_config",
]


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def _write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write("%d\n" % port)
    os.replace(temp, path)


def build_parser():
    parser = argparse.ArgumentParser(description="Local, stateful simulator of the Cloud66 v3 API.")
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)"
    )
    parser.add_argument(
        "--fixture",
        default=DEFAULT_FIXTURE,
        help="fixture JSON file (default fixtures/default.json)",
    )
    parser.add_argument("--port-file", help="write the bound port number to this file (atomically)")
    parser.add_argument(
        "--action-seconds",
        type=float,
        default=DEFAULT_CONFIG["action_seconds"],
        help="seconds from an action being created to it finishing",
    )
    parser.add_argument(
        "--queue-seconds",
        type=float,
        default=DEFAULT_CONFIG["queue_seconds"],
        help="seconds an action stays queued before running",
    )
    parser.add_argument(
        "--list-lag-seconds",
        type=float,
        default=DEFAULT_CONFIG["list_lag_seconds"],
        help="seconds after an action finishes before the database list reflects it",
    )
    parser.add_argument(
        "--action-shape",
        choices=ACTION_SHAPES,
        default=DEFAULT_CONFIG["action_shape"],
        help='"status" (with a status field) or "legacy" (no status, finished_success as strings)',
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=DEFAULT_CONFIG["profile"],
        help='"endpoint" (the endpoint pages\' example shapes) or "model" (the model pages\' shapes '
        "everywhere, 409 on a duplicate, actions listed oldest first)",
    )
    parser.add_argument(
        "--group-types",
        choices=("yes", "no"),
        default=None,
        help="whether server groups carry their type (default: as the profile has it)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_CONFIG["rate_limit"],
        help="requests per token per hour",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host):
        sys.stderr.write(
            "cloud66_sim: refusing to listen on non-loopback host %r; use 127.0.0.1, ::1 or localhost\n"
            % args.host
        )
        return 2
    try:
        sim = Simulator(
            fixture=args.fixture,
            host=args.host,
            port=args.port,
            verbose=args.verbose,
            action_seconds=args.action_seconds,
            queue_seconds=args.queue_seconds,
            list_lag_seconds=args.list_lag_seconds,
            action_shape=args.action_shape,
            profile=args.profile,
            group_types=None if args.group_types is None else args.group_types == "yes",
            rate_limit=args.rate_limit,
        )
    except ValueError as exc:
        sys.stderr.write("cloud66_sim: %s\n" % exc)
        return 2
    try:
        url = sim.start()
    except OSError as exc:
        sys.stderr.write(
            "cloud66_sim: cannot listen on %s port %d: %s\n" % (args.host, args.port, exc)
        )
        return 2
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write("Cloud66 simulator listening on %s\n" % url)
    sys.stdout.flush()
    if args.port_file:
        _write_port_file(args.port_file, sim.port)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
