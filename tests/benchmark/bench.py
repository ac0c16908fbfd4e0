"""Benchmark driver: each scenario run three ways against the Cloud66 simulator, counting requests and wall time.

scripts/bench starts this with the venv, the collection tree and a simulator already set up; see docs/benchmark.md.
Before every way the simulator is reset to the same fixture (so the same databases with the same uids), which also
clears its request log; after the playbook the log is read back and every request is counted and classified.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

PER_PAGE = 30
TOKEN = "bench-admin-token"
STACK_ID = "be0c4000be0c4000be0c4000be0c4000"
ENSURE_GROUP = 42
INFO_GROUP = 43
USERS = ["app_user", "report_user"]
GRANTED = ["app_user"]
HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, "playbooks")
# ansible-playbook runs from the checkout's root, so that no ansible.cfg of the caller's directory applies.
ROOT = os.path.dirname(os.path.dirname(HERE))

FULL = dict(
    group_size=300,
    ensure=40,
    missing=10,
    info_size=3000,
    new_databases=2,
    new_users=10,
    fleet_stacks=5,
    fleet_groups=2,
    fleet_databases=5,
)
SMOKE = dict(
    group_size=150,
    ensure=12,
    missing=4,
    info_size=300,
    new_databases=2,
    new_users=4,
    fleet_stacks=3,
    fleet_groups=2,
    fleet_databases=3,
)

WAYS = {
    "a": "(a) role cloud66.cloud.databases",
    "b": "(b) loop of cloud66_database",
    "c": "(c) ansible.builtin.uri playbook",
}
INFO_WAYS = {
    "a": "(a) cloud66_database_info",
    "c": "(c) ansible.builtin.uri loop",
}
USER_WAYS = {
    "a": "(a) role with cloud66_database_users",
    "b": "(b) loops of cloud66_database, cloud66_database_user",
}
DOWNLOAD_WAYS = {"a": "(a) cloud66_backup_download"}
FLEET_WAYS = {
    "a": "(a) role, every server group of the fleet",
    "b": "(b) role, one server group",
}
# The fleet scenario's stacks (uids f1ee7001..., named fleet-1...) and their MySQL groups (ids from 201), which only
# the fixture of that scenario holds; each group starts with a few databases of its own.
FLEET_EXISTING = 3
GUARDED_WAYS = {
    "a": "(a) cloud66_database, require_backup_within",
    "b": "(b) cloud66_database, no guard",
}
# The backup that the download scenario fetches: its segments' sizes, and the database a guarded delete removes.
BACKUP_ID = 9001
BACKUP_SEGMENTS = [1024 * 1024, 1024 * 1024, 256 * 1024]
SCENARIOS = ("ensure", "info", "noop", "users", "download", "guarded", "fleet")
KINDS = ("list", "users", "writes", "polls", "backups", "store", "other")


def pages(count):
    return max(1, math.ceil(count / PER_PAGE))


def plural(count):
    return "" if count == 1 else "s"


def page_of(position):
    """The list page (1-based) that holds the item at 1-based ``position``."""
    return math.ceil(position / PER_PAGE)


# --- the simulator's control API --------------------------------------------------------------------------------


class Sim:
    def __init__(self, control_url):
        self.control_url = control_url.rstrip("/")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.control_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read().decode("utf-8"))

    def reset(self, fixture):
        return self.call("POST", "/reset", {"fixture": fixture})

    def config(self):
        return self.call("GET", "/config")

    def requests(self):
        return self.call("GET", "/requests")["requests"]

    def state(self):
        return self.call("GET", "/state")


def fixture(sizes):
    """One stack with a MySQL group of ``group_size`` databases and a PostgreSQL group of ``info_size``."""
    return {
        "accounts": [{"id": 1, "name": "Benchmark"}],
        "tokens": [{"token": TOKEN, "name": "bench", "scopes": ["public", "admin"]}],
        "stacks": [
            {
                "uid": STACK_ID,
                "name": "bench",
                "environment": "production",
                "account": 1,
                # A fresh backup of the first database, split into segments as Cloud66 splits large ones.
                "backups": [
                    {
                        "id": BACKUP_ID,
                        "db_type": "mysql",
                        "database_name": "bench_0001",
                        "age_seconds": 60,
                        "files": list(BACKUP_SEGMENTS),
                    }
                ],
                "server_groups": [
                    {
                        "id": ENSURE_GROUP,
                        "name": "bench-mysql",
                        "type": "mysql",
                        "database_users": [
                            {"username": USERS[0]},
                            {"username": USERS[1], "user_type": "readonly"},
                        ],
                        "generate": {
                            "prefix": "bench_",
                            "count": sizes["group_size"],
                            "users": GRANTED,
                        },
                    },
                    {
                        "id": INFO_GROUP,
                        "name": "bench-postgresql",
                        "type": "postgresql",
                        "generate": {"prefix": "info_", "count": sizes["info_size"]},
                    },
                ],
            }
        ],
    }


def classify(entry):
    path, method = entry["path"], entry["method"]
    if entry.get("store"):
        return "store"
    if re.search(r"/backups(/|$)", path):
        return "backups"
    if re.search(r"/database_users(\.json)?$", path):
        return "users"
    if "/actions" in path:
        return "polls"
    if re.search(r"/databases(/[^/]+)?(\.json)?$", path):
        return "list" if method == "GET" else "writes"
    return "other"


# --- scenarios ----------------------------------------------------------------------------------------------------


class Scenario:
    """One job, its theoretical minimum and how to check that a way did it."""

    key = ""
    ways = WAYS
    # The fixture this scenario's runs reset the simulator to; None for the benchmark's shared one.
    fixture_data = None

    def __init__(self, sizes, config):
        self.sizes = sizes
        self.config = config

    def playbook(self, way):
        raise NotImplementedError

    def extra_vars(self, way):
        raise NotImplementedError

    def check(self, way, log, state):
        """A list of problems (empty when the way did the job)."""
        raise NotImplementedError


def ensure_items(names):
    return [{"name": name, "database_users": list(GRANTED)} for name in names]


class Ensure(Scenario):
    """Ensure ``ensure`` databases of a group of ``group_size``, ``missing`` of them not there yet."""

    key = "ensure"

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        size, wanted, missing = sizes["group_size"], sizes["ensure"], sizes["missing"]
        existing = wanted - missing
        # The existing ones spread evenly over the list (bench_0010, bench_0020, ... for 30 of 300).
        self.positions = [round((index + 1) * size / existing) for index in range(existing)]
        self.existing = ["bench_%04d" % position for position in self.positions]
        self.new = ["bench_new_%04d" % number for number in range(1, missing + 1)]
        # Interleave the new names among the existing ones, as a real list would have them.
        names = list(self.existing)
        for index, name in enumerate(self.new):
            names.insert(min(len(names), (index + 1) * (wanted // max(missing, 1)) - 1), name)
        self.names = names
        self.title = (
            "Scenario 1: ensure %d databases (%d missing) in a group of %d, %g s per action, list lag %g s"
            % (wanted, missing, size, config["action_seconds"], config["list_lag_seconds"])
        )

    def minimum(self):
        size, missing = self.sizes["group_size"], self.sizes["missing"]
        if missing == 0:
            scan = pages(size)
            return scan, [
                "%d list page%s: every page, so that a name listed twice is never missed"
                % (scan, plural(scan))
            ]
        parts = [
            (
                pages(size),
                "%d list page%s: ceil(%d/%d), every page, since a missing name is only known missing once "
                "every page was read" % (pages(size), plural(pages(size)), size, PER_PAGE),
            ),
            (
                pages(len(USERS)),
                "%d database-users page%s: ceil(%d/%d), usernames to uids for the creates"
                % (pages(len(USERS)), plural(pages(len(USERS))), len(USERS), PER_PAGE),
            ),
            (
                missing,
                "%d POST%s, one per missing database (no batch create)"
                % (missing, plural(missing)),
            ),
            (
                pages(missing),
                "%d action poll%s: ceil(%d/%d), the stack's action list (newest first, %d a page) read "
                "once after the last action finished"
                % (pages(missing), plural(pages(missing)), missing, PER_PAGE, PER_PAGE),
            ),
            (
                len(self.new_pages()),
                "%d list page%s read once the actions finished, so that the next task sees the new "
                "databases: page 1 (for the page count) and the last page%s, where Cloud66 lists them"
                % (
                    len(self.new_pages()),
                    plural(len(self.new_pages())),
                    plural(len(self.new_pages()) - 1),
                ),
            ),
        ]
        return sum(part[0] for part in parts), [part[1] for part in parts]

    def new_pages(self):
        """The list pages one look for the new databases reads: page 1 and those the new databases end up on."""
        size, missing = self.sizes["group_size"], self.sizes["missing"]
        return set([1]) | set(range(page_of(size + 1), page_of(size + missing) + 1))

    def lookup_pages(self):
        """The list pages a loop of cloud66_database reads to look each name up before acting: every page, for an
        existing name (which may be listed twice) as for a missing one."""
        size, created, total = self.sizes["group_size"], 0, 0
        for name in self.names:
            total += pages(size + created)
            if name in self.new:
                created += 1
        return total

    def per_create(self, result):
        """Requests the loop spends on each create after looking the name up: the POST, the action polls, and the list
        reads until the list shows the new database."""
        counts = result["counts"]
        spent = counts["writes"] + counts["polls"] + counts["list"] - self.lookup_pages()
        return spent / max(1, len(self.new))

    def playbook(self, way):
        return {"a": "ensure_role.yml", "b": "ensure_loop.yml", "c": "ensure_uri.yml"}[way]

    def extra_vars(self, way):
        return {
            "bench_server_group_id": str(ENSURE_GROUP),
            "bench_databases": ensure_items(self.names),
        }

    def check(self, way, log, state):
        problems = []
        group = [group for group in state["groups"] if group["server_group_id"] == ENSURE_GROUP][0]
        # The simulator's server-side state, which counts a database as soon as its action finished, whether or not
        # the (lagging) list shows it yet.
        present = set(database["name"] for database in group["databases"])
        absent = [name for name in self.names if name not in present]
        if absent:
            problems.append("databases missing afterwards: %s" % ", ".join(absent))
        posts = [entry for entry in log if entry["method"] == "POST"]
        if sorted(entry["body"]["database_name"] for entry in posts) != sorted(self.new):
            problems.append(
                "expected one POST for each of %d missing databases, saw %d"
                % (len(self.new), len(posts))
            )
        unfinished = [action for action in state["actions"] if action.get("status") != "completed"]
        if unfinished:
            problems.append("%d actions not completed when the run ended" % len(unfinished))
        return problems


class Info(Scenario):
    """List every database of a group of ``info_size``."""

    key = "info"
    ways = INFO_WAYS

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        self.title = "Scenario 2: list (info) every database of a group of %d" % sizes["info_size"]

    def minimum(self):
        size = self.sizes["info_size"]
        return pages(size), [
            "%d list page%s: ceil(%d/%d), one request per page"
            % (pages(size), plural(pages(size)), size, PER_PAGE)
        ]

    def playbook(self, way):
        return {"a": "info_module.yml", "c": "info_uri.yml"}[way]

    def extra_vars(self, way):
        return {
            "bench_server_group_id": str(INFO_GROUP),
            "bench_expected_total": self.sizes["info_size"],
        }

    def check(self, way, log, state):
        expected = list(range(1, pages(self.sizes["info_size"]) + 1))
        seen = sorted(int(entry["query"].get("page", "1")) for entry in log)
        if seen != expected or any(
            entry["method"] != "GET" or classify(entry) != "list" for entry in log
        ):
            return [
                "expected exactly one GET per list page 1..%d, saw %d requests (pages %s)"
                % (expected[-1], len(log), _ranges(seen))
            ]
        return []


class NoOp(Scenario):
    """Ensure one database that exists: nothing to do."""

    key = "noop"

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        self.position = max(1, (sizes["group_size"] + 1) // 2)
        self.name = "bench_%04d" % self.position
        self.title = (
            "Scenario 3: idempotent no-op, ensure 1 existing database (%s, list page %d of %d)"
            % (self.name, page_of(self.position), pages(sizes["group_size"]))
        )

    def minimum(self):
        scan = pages(self.sizes["group_size"])
        return scan, [
            "%d list page%s: every page (no name filter in the API), so that a name listed twice is never missed"
            % (scan, plural(scan))
        ]

    def playbook(self, way):
        return {"a": "ensure_role.yml", "b": "ensure_loop.yml", "c": "ensure_uri.yml"}[way]

    def extra_vars(self, way):
        return {
            "bench_server_group_id": str(ENSURE_GROUP),
            "bench_databases": ensure_items([self.name]),
        }

    def check(self, way, log, state):
        writes = [entry for entry in log if entry["method"] != "GET"]
        if writes or state["actions"]:
            return [
                "a no-op sent %d write requests and started %d actions"
                % (len(writes), len(state["actions"]))
            ]
        return []


class Users(Scenario):
    """Provision ``new_databases`` databases and ``new_users`` users in the ensure group: half of the users need an
    existing database, the other half a new one, and each new database grants the first user."""

    key = "users"
    ways = USER_WAYS

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        count = sizes["new_users"]
        self.databases = [
            "bench_app_%02d" % number for number in range(1, sizes["new_databases"] + 1)
        ]
        self.usernames = ["bench_user_%02d" % number for number in range(1, count + 1)]
        existing = "bench_%04d" % max(1, sizes["group_size"] // 2)
        self.users = [
            {
                "username": username,
                "databases": [existing]
                if index % 2
                else [self.databases[index // 2 % len(self.databases)]],
            }
            for index, username in enumerate(self.usernames)
        ]
        self.users[0]["databases"] = list(self.databases)
        self.title = (
            "Scenario 4: provision %d databases and %d users (half of them on the new databases) in a group "
            "of %d, %g s per action, list lag %g s"
            % (
                len(self.databases),
                count,
                sizes["group_size"],
                config["action_seconds"],
                config["list_lag_seconds"],
            )
        )

    def minimum(self):
        size, writes = self.sizes["group_size"], len(self.databases) + len(self.usernames)
        parts = [
            (
                pages(size),
                "%d list page%s: every page, the new names are missing"
                % (pages(size), plural(pages(size))),
            ),
            (1, "1 database-users page: the users that exist"),
            (writes, "%d POSTs, one per database and user" % writes),
            (
                2,
                "2 action polls: the user that the databases grant, then the databases the other users need",
            ),
            (2, "2 list pages (the first and the last) for the uids of the new databases"),
            (1, "1 database-users page for the uid of the user the databases grant"),
            (1, "1 action poll for the last users"),
        ]
        return sum(part[0] for part in parts), [part[1] for part in parts]

    def playbook(self, way):
        return {"a": "users_role.yml", "b": "users_loop.yml"}[way]

    def extra_vars(self, way):
        databases = [
            {"name": name, "database_users": [self.usernames[0]]} for name in self.databases
        ]
        return {
            "bench_server_group_id": str(ENSURE_GROUP),
            "bench_databases": databases,
            "bench_users": self.users,
        }

    def check(self, way, log, state):
        problems = []
        group = [group for group in state["groups"] if group["server_group_id"] == ENSURE_GROUP][0]
        users = dict((user["username"], user) for user in group["database_users"])
        for wanted in self.users:
            if sorted(users.get(wanted["username"], {}).get("databases", [])) != sorted(
                wanted["databases"]
            ):
                problems.append(
                    "user %s has databases %s, not %s"
                    % (
                        wanted["username"],
                        users.get(wanted["username"], {}).get("databases"),
                        wanted["databases"],
                    )
                )
        posts = [entry for entry in log if entry["method"] == "POST"]
        if len(posts) != len(self.databases) + len(self.users):
            problems.append("expected one POST per database and user, saw %d" % len(posts))
        return problems


class Download(Scenario):
    """Download one backup of several segments."""

    key = "download"
    ways = DOWNLOAD_WAYS

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        self.title = "Scenario 5: download a backup of %d segments (%d bytes)" % (
            len(BACKUP_SEGMENTS),
            sum(BACKUP_SEGMENTS),
        )

    def minimum(self):
        count = len(BACKUP_SEGMENTS)
        return 2 + 2 * count, [
            "1 backup read (GET .../backups/:id)",
            "1 page of its files",
            "%d URL reads, one per segment, each just before its download" % count,
            "%d object-store downloads" % count,
        ]

    def playbook(self, way):
        return "backup_download.yml"

    def extra_vars(self, way):
        return {"bench_backup_id": BACKUP_ID, "bench_expected_size": sum(BACKUP_SEGMENTS)}

    def check(self, way, log, state):
        store = [entry for entry in log if entry.get("store")]
        if len(store) != len(BACKUP_SEGMENTS) or any(entry["auth"] != "query" for entry in store):
            return [
                "expected %d object-store requests without an Authorization header, saw %d"
                % (len(BACKUP_SEGMENTS), len(store))
            ]
        return []


class Guarded(Scenario):
    """Delete one database (without waiting), with and without require_backup_within."""

    key = "guarded"
    ways = GUARDED_WAYS

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        self.title = (
            "Scenario 6: guarded delete of 1 database (bench_0001) of a group of %d, wait: false"
            % sizes["group_size"]
        )

    def minimum(self):
        scan = pages(self.sizes["group_size"])
        return scan + 3, [
            "%d list page%s: every page, so that a name listed twice is never missed"
            % (scan, plural(scan)),
            "1 page of the stack's server groups, for the group's engine",
            "1 page of the stack's backups of that engine",
            "1 DELETE",
        ]

    def playbook(self, way):
        return "guarded_delete.yml"

    def extra_vars(self, way):
        return {
            "bench_server_group_id": str(ENSURE_GROUP),
            "bench_database": "bench_0001",
            "bench_require_backup_within": 3600 if way == "a" else None,
        }

    def check(self, way, log, state):
        deletes = [entry for entry in log if entry["method"] == "DELETE"]
        if len(deletes) != 1:
            return ["expected 1 DELETE, saw %d" % len(deletes)]
        return []


class Fleet(Scenario):
    """Ensure ``fleet_databases`` new databases in each of ``fleet_groups`` server groups of ``fleet_stacks`` stacks,
    one host of the play per group, against the role doing the same for one group: N groups should take about the
    wall time of one, at the sum of the groups' requests."""

    key = "fleet"
    ways = FLEET_WAYS

    def __init__(self, sizes, config):
        super().__init__(sizes, config)
        self.groups = []
        stacks = []
        for stack in range(1, sizes["fleet_stacks"] + 1):
            uid = "f1ee%04d" % stack * 4
            server_groups = []
            for index in range(sizes["fleet_groups"]):
                group_id = 200 + len(self.groups) + 1
                prefix = "fleet%d_" % group_id
                server_groups.append(
                    {
                        "id": group_id,
                        "name": "fleet-mysql-%d" % (index + 1),
                        "type": "mysql",
                        "generate": {"prefix": prefix, "count": FLEET_EXISTING},
                    }
                )
                self.groups.append(
                    {
                        "host": "fleet-%d" % group_id,
                        "stack_id": uid,
                        "server_group_id": str(group_id),
                        "databases": [
                            {"name": "%snew_%02d" % (prefix, number)}
                            for number in range(1, sizes["fleet_databases"] + 1)
                        ],
                    }
                )
            stacks.append(
                {
                    "uid": uid,
                    "name": "fleet-%d" % stack,
                    "environment": "production",
                    "account": 1,
                    "server_groups": server_groups,
                }
            )
        self.fixture_data = {
            "accounts": [{"id": 1, "name": "Benchmark"}],
            "tokens": [{"token": TOKEN, "name": "bench", "scopes": ["public", "admin"]}],
            "stacks": stacks,
        }
        self.title = (
            "Scenario 7: a fleet, %d new databases in each of %d server groups of %d stacks (one host each), "
            "%g s per action, list lag %g s"
            % (
                sizes["fleet_databases"],
                len(self.groups),
                sizes["fleet_stacks"],
                config["action_seconds"],
                config["list_lag_seconds"],
            )
        )

    def minimum(self):
        groups, stacks = len(self.groups), self.sizes["fleet_stacks"]
        new = self.sizes["fleet_databases"]
        per_stack = pages(new * self.sizes["fleet_groups"])
        parts = [
            (
                groups,
                "%d list pages, one per group: each group's %d databases"
                % (groups, FLEET_EXISTING),
            ),
            (groups * new, "%d POSTs, %d per group" % (groups * new, new)),
            (
                stacks * per_stack,
                "%d action polls: the action list of each stack (%d actions) read once after its last action "
                "finished" % (stacks * per_stack, new * self.sizes["fleet_groups"]),
            ),
            (groups, "%d list pages, one per group, once its actions finished" % groups),
        ]
        return sum(part[0] for part in parts), [part[1] for part in parts]

    def playbook(self, way):
        return "fleet_role.yml"

    def targeted(self, way):
        return self.groups if way == "a" else self.groups[:1]

    def extra_vars(self, way):
        return {"bench_fleet": self.targeted(way)}

    def check(self, way, log, state):
        problems = []
        present = dict(
            (
                str(group["server_group_id"]),
                set(database["name"] for database in group["databases"]),
            )
            for group in state["groups"]
        )
        for group in self.targeted(way):
            wanted = [database["name"] for database in group["databases"]]
            absent = [
                name for name in wanted if name not in present.get(group["server_group_id"], ())
            ]
            if absent:
                problems.append("group %s lacks %s" % (group["server_group_id"], ", ".join(absent)))
        posts = [entry for entry in log if entry["method"] == "POST"]
        wanted = sum(len(group["databases"]) for group in self.targeted(way))
        if len(posts) != wanted:
            problems.append("expected %d POSTs, saw %d" % (wanted, len(posts)))
        unfinished = [action for action in state["actions"] if action.get("status") != "completed"]
        if unfinished:
            problems.append("%d actions not completed when the run ended" % len(unfinished))
        return problems


def _ranges(numbers):
    if not numbers:
        return "none"
    text, start, last = [], numbers[0], numbers[0]
    for number in numbers[1:] + [None]:
        if number is not None and number == last + 1:
            last = number
            continue
        text.append(str(start) if start == last else "%d-%d" % (start, last))
        if number is not None:
            start = last = number
    return ",".join(text)


# --- running one way ----------------------------------------------------------------------------------------------


class Runner:
    def __init__(self, args, sim, fixture_data, logdir):
        self.args = args
        self.sim = sim
        self.fixture = fixture_data
        self.logdir = logdir
        self.env = dict(os.environ)
        self.env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": args.collections_path,
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                "ANSIBLE_RETRY_FILES_ENABLED": "false",
                "ANSIBLE_NOCOLOR": "1",
                "CLOUD66_API_URL": args.api_url,
                "CLOUD66_API_TOKEN": TOKEN,
            }
        )
        self.env.pop("CLOUD66_ACCOUNT_ID", None)

    def run(self, scenario, way):
        self.sim.reset(scenario.fixture_data or self.fixture)
        extra = {
            "bench_api_url": self.args.api_url,
            "bench_api_token": TOKEN,
            "bench_stack_id": STACK_ID,
            "bench_uri_delay": self.args.uri_delay,
        }
        extra.update(scenario.extra_vars(way))
        stem = os.path.join(self.logdir, "%s-%s" % (scenario.key, way))
        with open(stem + ".vars.json", "w", encoding="utf-8") as handle:
            json.dump(extra, handle)
        command = [
            "ansible-playbook",
            os.path.join(PLAYBOOKS, scenario.playbook(way)),
            "-e",
            "@" + stem + ".vars.json",
        ]
        started = time.monotonic()
        with open(stem + ".log", "w", encoding="utf-8") as output:
            try:
                completed = subprocess.run(
                    command,
                    env=self.env,
                    cwd=ROOT,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=False,
                    timeout=self.args.way_timeout,
                )
                returncode = completed.returncode
            except subprocess.TimeoutExpired:
                returncode = "timeout after %d s" % self.args.way_timeout
        wall = time.monotonic() - started
        log = self.sim.requests()
        state = self.sim.state()
        with open(stem + ".requests.json", "w", encoding="utf-8") as handle:
            json.dump(log, handle, indent=1)
        problems = (
            []
            if returncode == 0
            else ["ansible-playbook failed (%s); see %s.log" % (returncode, stem)]
        )
        if returncode == 0:
            problems += scenario.check(way, log, state)
            refused = [entry for entry in log if not 200 <= (entry["status"] or 0) < 300]
            if refused:
                problems.append(
                    "%d requests were not answered 2xx (statuses %s)"
                    % (len(refused), sorted(set(str(entry["status"]) for entry in refused)))
                )
        counts = dict((kind, 0) for kind in KINDS)
        for entry in log:
            counts[classify(entry)] += 1
        span = (log[-1]["time"] - log[0]["time"]) if log else 0.0
        return {
            "way": way,
            "requests": len(log),
            "counts": counts,
            "wall": wall,
            "api_span": span,
            "problems": problems,
            "log_file": stem + ".log",
        }


# --- the report ---------------------------------------------------------------------------------------------------


def ratio(numerator, denominator):
    return numerator / denominator if denominator else float("inf")


def print_scenario(scenario, minimum, notes, results):
    print()
    print("=" * 112)
    print(scenario.title)
    print(
        "  theoretical minimum: %d requests = %s"
        % (minimum, " + ".join(str(note.split(" ", 1)[0]) for note in notes))
    )
    for note in notes:
        print("    %s" % note)
    print()
    header = (
        "way",
        "requests",
        "list",
        "users",
        "writes",
        "polls",
        "backups",
        "store",
        "other",
        "wall s",
        "API s",
        "/minimum",
    )
    print("  %-44s %8s %6s %6s %6s %6s %7s %6s %6s %8s %8s %9s" % header)
    for result in results:
        counts = result["counts"]
        print(
            "  %-44s %8d %6d %6d %6d %6d %7d %6d %6d %8.1f %8.1f %8.2fx"
            % (
                scenario.ways[result["way"]],
                result["requests"],
                counts["list"],
                counts["users"],
                counts["writes"],
                counts["polls"],
                counts["backups"],
                counts["store"],
                counts["other"],
                result["wall"],
                result["api_span"],
                ratio(result["requests"], minimum),
            )
        )
    by_way = dict((result["way"], result) for result in results)
    if "a" in by_way:
        base = by_way["a"]
        for way in ("b", "c"):
            if way in by_way:
                other = by_way[way]
                print(
                    "  %s/(a): requests %.1fx, wall time %.1fx"
                    % (
                        "(%s)" % way,
                        ratio(other["requests"], base["requests"]),
                        ratio(other["wall"], base["wall"]),
                    )
                )
    for result in results:
        for problem in result["problems"]:
            print("  PROBLEM %s: %s" % (scenario.ways[result["way"]], problem))


def targets(args, scenarios, minimums, results):
    """(label, verdict, detail): verdict is PASS, FAIL or INFO (reported, not enforced)."""
    checks = []
    ensure = results.get("ensure")
    if ensure and "a" in ensure:
        role, minimum = ensure["a"], minimums["ensure"]
        checks.append(
            (
                "ensure: role requests within 1.5x of the minimum",
                role["requests"] <= 1.5 * minimum,
                "%d <= 1.5 x %d = %g" % (role["requests"], minimum, 1.5 * minimum),
            )
        )
    if ensure and {"a", "b"} <= set(ensure):
        role, loop = ensure["a"], ensure["b"]
        checks.append(
            (
                "ensure: role sends at least 5x fewer requests than (b)",
                5 * role["requests"] <= loop["requests"],
                "(b) %d / (a) %d = %.1fx"
                % (loop["requests"], role["requests"], ratio(loop["requests"], role["requests"])),
            )
        )
        per_create = scenarios["ensure"].per_create(loop)
        checks.append(
            (
                "ensure: (b) spends at most 10 requests per create",
                per_create <= 10 if not args.smoke else None,
                "%.1f requests: POST, action polls and list reads until the list shows it%s"
                % (per_create, " (not enforced in --smoke)" if args.smoke else ""),
            )
        )
        wall_ok = role["wall"] <= 0.5 * loop["wall"]
        checks.append(
            (
                "ensure: role wall time at most half of (b)'s",
                wall_ok if not args.smoke else None,
                "(a) %.1f s vs (b) %.1f s = %.2fx%s"
                % (
                    role["wall"],
                    loop["wall"],
                    ratio(role["wall"], loop["wall"]),
                    " (not enforced in --smoke)" if args.smoke else "",
                ),
            )
        )
    info = results.get("info")
    if info and "a" in info:
        expected = pages(scenarios["info"].sizes["info_size"])
        module = info["a"]
        checks.append(
            (
                "info: %d databases in exactly one request per page"
                % scenarios["info"].sizes["info_size"],
                module["requests"] == expected and not module["problems"],
                "cloud66_database_info %d requests for %d pages" % (module["requests"], expected),
            )
        )
        if "c" in info:
            checks.append(
                (
                    "info: the uri loop, for comparison",
                    None,
                    "%d requests for %d pages" % (info["c"]["requests"], expected),
                )
            )
    users = results.get("users")
    if users and "a" in users:
        # The minimum leaves out the reads that wait for a lagging list, so it is reported, not enforced.
        role, minimum = users["a"], minimums["users"]
        checks.append(
            (
                "users: role requests against the minimum",
                None,
                "%d requests, minimum %d without list lag (%.2fx)"
                % (role["requests"], minimum, ratio(role["requests"], minimum)),
            )
        )
        if "b" in users:
            loop = users["b"]
            checks.append(
                (
                    "users: role sends at least 1.5x fewer requests than (b)",
                    1.5 * role["requests"] <= loop["requests"],
                    "(b) %d / (a) %d = %.1fx; wall %.1f s vs %.1f s"
                    % (
                        loop["requests"],
                        role["requests"],
                        ratio(loop["requests"], role["requests"]),
                        loop["wall"],
                        role["wall"],
                    ),
                )
            )
    noop = results.get("noop")
    if noop and "a" in noop:
        role, minimum = noop["a"], minimums["noop"]
        checks.append(
            (
                "no-op: role within 1.5x of the minimum, no write",
                role["requests"] <= 1.5 * minimum and not role["problems"],
                "%d requests, minimum %d" % (role["requests"], minimum),
            )
        )
    download = results.get("download")
    if download and "a" in download:
        module, minimum = download["a"], minimums["download"]
        checks.append(
            (
                "download: exactly the minimum, no token to the store",
                module["requests"] == minimum and not module["problems"],
                "%d requests (%d to the object store), minimum %d"
                % (module["requests"], module["counts"]["store"], minimum),
            )
        )
    guarded = results.get("guarded")
    if guarded and "a" in guarded:
        module, minimum = guarded["a"], minimums["guarded"]
        cost = (
            ""
            if "b" not in guarded
            else ", the guard costs %d" % (module["requests"] - guarded["b"]["requests"])
        )
        checks.append(
            (
                "guarded delete: exactly the minimum",
                module["requests"] == minimum and not module["problems"],
                "%d requests, minimum %d%s" % (module["requests"], minimum, cost),
            )
        )
    fleet = results.get("fleet")
    if fleet and "a" in fleet:
        role, minimum = fleet["a"], minimums["fleet"]
        groups = len(scenarios["fleet"].groups)
        checks.append(
            (
                "fleet: role requests within 1.5x of the minimum",
                role["requests"] <= 1.5 * minimum,
                "%d <= 1.5 x %d = %g" % (role["requests"], minimum, 1.5 * minimum),
            )
        )
        if "b" in fleet:
            one = fleet["b"]
            checks.append(
                (
                    "fleet: %d groups against one group (times reported, never enforced)" % groups,
                    None,
                    "wall %.1f s vs %.1f s = %.2fx; requests %d vs %d x %d = %d"
                    % (
                        role["wall"],
                        one["wall"],
                        ratio(role["wall"], one["wall"]),
                        role["requests"],
                        groups,
                        one["requests"],
                        groups * one["requests"],
                    ),
                )
            )
    for name, per_way in results.items():
        for result in per_way.values():
            if result["problems"]:
                checks.append(
                    (
                        "%s %s did the job" % (name, scenarios[name].ways[result["way"]]),
                        False,
                        "; ".join(result["problems"]),
                    )
                )
    return [
        (label, "INFO" if ok is None else ("PASS" if ok else "FAIL"), detail)
        for label, ok, detail in checks
    ]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--api-url", required=True, help="the simulator's API base URL")
    parser.add_argument("--control-url", required=True, help="the simulator's /_sim URL")
    parser.add_argument(
        "--collections-path", required=True, help="ANSIBLE_COLLECTIONS_PATH holding cloud66.cloud"
    )
    parser.add_argument(
        "--smoke",
        "--small",
        action="store_true",
        help="small sizes (%s) for CI; the wall-time target is reported, not enforced"
        % ", ".join("%s=%s" % item for item in SMOKE.items()),
    )
    parser.add_argument(
        "--group-size",
        type=int,
        help="databases in the ensure group (default 300, smoke %d)" % SMOKE["group_size"],
    )
    parser.add_argument(
        "--ensure", type=int, help="databases to ensure (default 40, smoke %d)" % SMOKE["ensure"]
    )
    parser.add_argument(
        "--missing",
        type=int,
        help="of those, how many are missing (default 10, smoke %d)" % SMOKE["missing"],
    )
    parser.add_argument(
        "--info-size",
        type=int,
        help="databases in the info group (default 3000, smoke %d)" % SMOKE["info_size"],
    )
    parser.add_argument(
        "--new-users",
        type=int,
        help="users to provision in the users scenario (default 10, smoke %d)" % SMOKE["new_users"],
    )
    parser.add_argument(
        "--fleet-stacks",
        type=int,
        help="stacks of the fleet scenario (default 5, smoke %d)" % SMOKE["fleet_stacks"],
    )
    parser.add_argument(
        "--fleet-groups",
        type=int,
        help="server groups of each fleet stack (default 2, smoke %d)" % SMOKE["fleet_groups"],
    )
    parser.add_argument(
        "--fleet-databases",
        type=int,
        help="new databases of each fleet group (default 5, smoke %d)" % SMOKE["fleet_databases"],
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated subset of %s" % ",".join(SCENARIOS),
    )
    parser.add_argument("--ways", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument(
        "--uri-delay",
        type=int,
        default=3,
        help="seconds between the uri playbook's polls (default 3)",
    )
    parser.add_argument(
        "--way-timeout", type=int, default=3600, help="seconds one playbook may take (default 3600)"
    )
    parser.add_argument(
        "--keep-logs", metavar="DIR", help="keep each way's playbook output and request log in DIR"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    sizes = dict(SMOKE if args.smoke else FULL)
    for key in sizes:
        if getattr(args, key, None) is not None:
            sizes[key] = getattr(args, key)
    if not 0 <= sizes["missing"] <= sizes["ensure"] or sizes["ensure"] < 1:
        parser.error("need 1 <= --ensure and 0 <= --missing <= --ensure")
    if (
        sizes["ensure"] - sizes["missing"] > sizes["group_size"]
        or sizes["group_size"] < 1
        or sizes["info_size"] < 1
    ):
        parser.error(
            "the group must hold at least the existing databases to ensure (--ensure - --missing)"
        )
    args.sizes = sizes
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    args.ways = [way.strip() for way in args.ways.split(",") if way.strip()]
    if sizes["new_users"] < 2:
        parser.error("need --new-users of at least 2")
    if min(sizes["fleet_stacks"], sizes["fleet_groups"], sizes["fleet_databases"]) < 1:
        parser.error("need at least 1 fleet stack, group and database")
    if set(args.scenarios) - set(SCENARIOS) or set(args.ways) - set(WAYS):
        parser.error("unknown scenario or way")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = Sim(args.control_url)
    config = sim.config()
    logdir = args.keep_logs or tempfile.mkdtemp(prefix="cloud66-bench.")
    os.makedirs(logdir, exist_ok=True)
    fixture_data = fixture(args.sizes)
    runner = Runner(args, sim, fixture_data, logdir)
    classes = {
        "ensure": Ensure,
        "info": Info,
        "noop": NoOp,
        "users": Users,
        "download": Download,
        "guarded": Guarded,
        "fleet": Fleet,
    }
    scenarios = dict((name, classes[name](args.sizes, config)) for name in args.scenarios)

    print(
        "Cloud66 collection benchmark, %s"
        % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    )
    print(
        "machine: %s, %s, %d CPUs, Python %s; simulator: action %g s (queued %g s), list lag %g s; uri poll delay %d s"
        % (
            platform.node() or "?",
            platform.platform(terse=True),
            os.cpu_count() or 0,
            platform.python_version(),
            config["action_seconds"],
            config["queue_seconds"],
            config["list_lag_seconds"],
            args.uri_delay,
        )
    )
    print("sizes: %s" % ", ".join("%s=%d" % item for item in args.sizes.items()))
    results, minimums = {}, {}
    for name, scenario in scenarios.items():
        minimum, notes = scenario.minimum()
        minimums[name] = minimum
        results[name] = {}
        for way in args.ways:
            if way not in scenario.ways:
                continue
            print("[bench] %s: running %s ..." % (name, scenario.ways[way]), flush=True)
            result = runner.run(scenario, way)
            results[name][way] = result
            if result["problems"] and not args.keep_logs:
                _show_tail(result["log_file"])
        print_scenario(scenario, minimum, notes, list(results[name].values()))

    verdicts = targets(args, scenarios, minimums, results)
    print()
    print("=" * 112)
    print("Targets")
    for label, verdict, detail in verdicts:
        print("  %-4s  %-58s %s" % (verdict, label, detail))
    failed = [check for check in verdicts if check[1] == "FAIL"]
    print()
    print(
        "%s (%d target%s failed)" % ("FAILED" if failed else "OK", len(failed), plural(len(failed)))
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "config": config,
                    "sizes": args.sizes,
                    "minimums": minimums,
                    "results": results,
                    "targets": verdicts,
                },
                handle,
                indent=1,
            )
    if args.keep_logs or failed:
        print("playbook output and request logs kept in %s" % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return 1 if failed else 0


def _show_tail(path, lines=40):
    try:
        with open(path, encoding="utf-8") as handle:
            tail = handle.read().splitlines()[-lines:]
    except OSError:
        return
    print("[bench] last %d lines of %s:" % (len(tail), path))
    for line in tail:
        print("    " + line)


if __name__ == "__main__":
    sys.exit(main())
